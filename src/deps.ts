import type { Logger } from 'pino';
import type { Config } from './config/index.js';
import type { Db } from './db/index.js';
import type { BlobStore } from './storage/blob-store.js';
import type { Metrics } from './ops/metrics.js';
import type { RateLimiter } from './auth/rate-limit.js';
import type { SecretBox } from './auth/secret-box.js';
import type { JobQueue } from './jobs/index.js';
import type { XapiAuthenticator } from './xapi/auth/service.js';
import type { LtiCore } from './lti/core/index.js';
import type { PrincipalCache } from './auth/principal-cache.js';

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/**
 * Everything a feature needs, built once by the composition root (src/main.ts, or a test)
 * and passed down. No module keeps its own singleton.
 */
export interface AppDeps {
  readonly config: Config;
  readonly db: Db;
  readonly log: Logger;
  readonly clock: Clock;
  readonly blobs: BlobStore;
  readonly metrics: Metrics;
  readonly rateLimiter: RateLimiter;
  readonly secrets: SecretBox;
  /** API-token principals resolved in the last few seconds (see PrincipalCache). */
  readonly principalCache: PrincipalCache;
  /** Verifies LRS Basic credentials with a short cache; shared so revocation can clear it. */
  readonly xapiAuth: XapiAuthenticator;
  /** Absent when this process runs no job queue (e.g. a CLI command). */
  readonly jobs: JobQueue | undefined;
  /** Cairn's LTI signing keys and the cache of platforms' and tools' JWKS. */
  readonly lti: LtiCore;
}
