import type { Logger } from 'pino';
import type { Db } from '../../db/index.js';
import type { SecretBox } from '../../auth/secret-box.js';
import type { Clock } from '../../deps.js';
import type { LtiConfig } from '../../config/index.js';
import { KeyRing } from './keys.js';
import { RemoteJwksCache } from './remote-jwks.js';

/**
 * What both LTI roles share at run time: Cairn's own keys and the cache of other parties'
 * keys. Built once by the composition root (src/runtime.ts) and carried in AppDeps.
 */
export interface LtiCore {
  readonly keys: KeyRing;
  readonly remoteJwks: RemoteJwksCache;
}

export function createLtiCore(deps: { db: Db; secrets: SecretBox; clock: Clock; log: Logger; config: LtiConfig }): LtiCore {
  return {
    keys: new KeyRing(deps, { rotationDays: deps.config.keyRotationDays, overlapDays: deps.config.keyOverlapDays }),
    remoteJwks: new RemoteJwksCache({ log: deps.log.child({ component: 'lti-jwks' }), now: () => deps.clock.now().getTime() }),
  };
}
