import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config/index.js';
import { createDb, type Db } from './db/index.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded.js';
import { migrateLatest } from './db/migrate.js';
import { createBlobStore } from './storage/index.js';
import { createMetrics } from './ops/metrics.js';
import { RateLimiter } from './auth/rate-limit.js';
import { SecretBox } from './auth/secret-box.js';
import { startJobQueue, type JobQueue } from './jobs/index.js';
import { auditRetentionJob, housekeepingJob } from './jobs/maintenance.js';
import { systemClock, type AppDeps, type Clock } from './deps.js';
import { XapiAuthenticator } from './xapi/auth/service.js';
import { PrincipalCache } from './auth/principal-cache.js';
import { scormImportJob } from './scorm/packages/service.js';
import { createLtiCore } from './lti/core/index.js';
import { ltiHousekeepingJob, ltiKeyRotationJob } from './lti/jobs.js';
import { createLtiAdvantage } from './lti/advantage.js';

/**
 * JSON lines on stdout (or `destination`, for tests that read what an operator's log shipper
 * would receive), with secrets censored wherever a caller puts them in a log object.
 */
export function createLogger(config: Pick<Config, 'logLevel'>, destination?: DestinationStream): Logger {
  return pino({
    level: config.logLevel,
    base: { service: 'cairn' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['password', '*.password', 'secret', '*.secret', 'token', '*.token', 'authorization', '*.authorization', 'cookie', '*.cookie', 'connectionString', '*.connectionString', 'secretKey', '*.secretKey'],
      censor: '[redacted]',
    },
  }, destination ?? pino.destination(1));
}

/**
 * CAIRN_SECRET_KEY, or with the embedded database a key generated once into the data
 * directory (mode 0600). Config validation already refused a missing key with DATABASE_URL.
 */
async function resolveSecretKey(config: Config): Promise<string> {
  if (config.secretKey) return config.secretKey;
  const file = path.join(config.dataDir, 'secret.key');
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch {
    await fs.mkdir(config.dataDir, { recursive: true });
    const key = randomBytes(48).toString('base64url');
    await fs.writeFile(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
    return key;
  }
}

export interface Runtime {
  readonly deps: AppDeps;
  readonly databaseUrl: string;
  /** Stops jobs, flushes counters, closes the pool and stops the embedded PostgreSQL, in that order. */
  stop(): Promise<void>;
}

/**
 * Builds every dependency in order: database (embedded if needed) → migrations → blob store
 * → metrics, rate limiter, secrets → job queue. main.ts, the CLI and integration tests share it.
 */
export async function startRuntime(config: Config, log: Logger, options: {
  jobs: boolean;
  migrate?: boolean;
  clock?: Clock;
  /** Command-line tools share the embedded PostgreSQL of a Cairn server already running on the data dir. */
  attachToRunningDatabase?: boolean;
}): Promise<Runtime> {
  const clock = options.clock ?? systemClock;
  let embedded: EmbeddedDatabase | undefined;
  let db: Db | undefined;
  let jobs: JobQueue | undefined;
  let rateLimiter: RateLimiter | undefined;
  let stopDispatcher: (() => Promise<void>) | undefined;
  try {
    if (!config.databaseUrl) embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, log, attachToRunning: options.attachToRunningDatabase ?? false });
    const databaseUrl = config.databaseUrl ?? embedded!.url;
    db = createDb({ url: databaseUrl, poolMax: config.dbPoolMax, log });
    if (options.migrate !== false) {
      const applied = await migrateLatest(db);
      if (applied.length > 0) log.info({ applied }, 'migrations applied');
    }
    const blobs = await createBlobStore(config);
    const secrets = new SecretBox(await resolveSecretKey(config));
    const metrics = createMetrics(db);
    rateLimiter = new RateLimiter(db, clock, log);
    rateLimiter.start();
    const lti = createLtiCore({ db, secrets, clock, log, config: config.lti });
    const advantage = createLtiAdvantage({ db, clock, log, config: config.lti, lti, jobs: () => jobs });
    if (options.jobs) {
      jobs = await startJobQueue({
        connectionString: databaseUrl,
        log,
        runWorkers: config.jobsEnabled,
        definitions: [
          auditRetentionJob({ db, clock, log, retentionDays: config.auditRetentionDays }),
          housekeepingJob({ db, clock }),
          scormImportJob({ db, blobs, log, clock, config }),
          ltiKeyRotationJob({ lti }),
          ltiHousekeepingJob({ db, clock, config: config.lti }),
          ...advantage.jobDefinitions,
        ],
      });
      // Grade passback and roster sync rows become jobs on the nodes that run workers.
      if (config.jobsEnabled) stopDispatcher = await advantage.startDispatcher(databaseUrl);
    }
    const xapiAuth = new XapiAuthenticator(db, secrets, clock);
    const deps: AppDeps = { config, db, log, clock, blobs, metrics, rateLimiter, secrets, xapiAuth, principalCache: new PrincipalCache(), jobs, lti };
    // Idempotent: main.ts's shutdown and a test's cleanup may both call it.
    let stopping: Promise<void> | undefined;
    const stop = () => {
      stopping ??= (async () => {
        await stopDispatcher?.().catch(() => undefined);
        await jobs?.stop(config.shutdownTimeoutMs).catch((error: unknown) => log.warn({ err: error }, 'job queue did not stop cleanly'));
        await rateLimiter?.stop().catch(() => undefined);
        await db?.destroy();
        blobs.close();
        await embedded?.stop();
      })();
      return stopping;
    };
    return { deps, databaseUrl, stop };
  } catch (error) {
    await stopDispatcher?.().catch(() => undefined);
    await jobs?.stop(1000).catch(() => undefined);
    await rateLimiter?.stop().catch(() => undefined);
    await db?.destroy().catch(() => undefined);
    await embedded?.stop().catch(() => undefined);
    throw error;
  }
}
