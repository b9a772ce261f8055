import PgBoss from 'pg-boss';
import type { Logger } from 'pino';
import { withSessionLock } from '../db/index.js';

/**
 * A background job kind. Features declare these; the composition root hands them to
 * `startJobQueue`, which creates the pg-boss queues, starts workers and cron schedules.
 */
export interface JobDefinition<T extends object = object> {
  readonly name: string;
  /** Cron expression (UTC) for periodic jobs; one node runs each tick (pg-boss guarantees it). */
  readonly cron?: string;
  readonly retryLimit?: number;
  readonly retryDelaySeconds?: number;
  readonly retryBackoff?: boolean;
  readonly expireInSeconds?: number;
  /** Jobs handled concurrently by this node. */
  readonly concurrency?: number;
  handle(data: T, meta: { readonly id: string }): Promise<unknown>;
}

export interface JobQueue {
  send<T extends object>(name: string, data: T, options?: PgBoss.SendOptions): Promise<string>;
  /** State and output of one job, for status endpoints and tests. */
  get(name: string, id: string): Promise<PgBoss.JobWithMetadata | null>;
  stop(timeoutMs: number): Promise<void>;
}

export async function startJobQueue(options: {
  readonly connectionString: string;
  readonly log: Logger;
  readonly definitions: readonly JobDefinition<never>[];
  /** False on nodes that only enqueue (CAIRN_JOBS_ENABLED=false) and in CLI commands. */
  readonly runWorkers: boolean;
}): Promise<JobQueue> {
  const { log } = options;
  const boss = new PgBoss({
    connectionString: options.connectionString,
    schema: 'pgboss',
    max: 4,
    application_name: 'cairn-jobs',
    supervise: options.runWorkers,
    schedule: options.runWorkers,
  });
  let stopping = false;
  // Once stopping, a pooled connection closed under pg-boss by the database's own shutdown
  // (the embedded PostgreSQL stops right after) is expected, not an incident.
  boss.on('error', (error) => (stopping ? log.debug({ err: error }, 'job queue error while stopping') : log.error({ err: error }, 'job queue error')));
  await boss.start();

  // Nodes starting together would create the queues' partitions at the same time, which
  // deadlocks inside pg-boss; one node at a time creates what is missing and brings existing
  // queues up to this version's retry settings.
  await withSessionLock(options.connectionString, 'cairn:job-queues', async () => {
    for (const definition of options.definitions) {
      const settings = {
        name: definition.name,
        retryLimit: definition.retryLimit ?? 3,
        retryDelay: definition.retryDelaySeconds ?? 30,
        retryBackoff: definition.retryBackoff ?? true,
        expireInSeconds: definition.expireInSeconds ?? 15 * 60,
      };
      if (await boss.getQueue(definition.name)) await boss.updateQueue(definition.name, settings);
      else await boss.createQueue(definition.name, settings);
    }
  });

  for (const definition of options.definitions) {
    if (!options.runWorkers) continue;
    const jobLog = log.child({ job: definition.name });
    const handler = async (jobs: PgBoss.Job<object>[]) => {
      const job = jobs[0];
      if (!job) return undefined;
      const started = Date.now();
      try {
        const output = await definition.handle(job.data as never, { id: job.id });
        jobLog.info({ jobId: job.id, ms: Date.now() - started }, 'job completed');
        return output;
      } catch (error) {
        jobLog.warn({ jobId: job.id, err: error }, 'job failed');
        throw error;
      }
    };
    // Each pg-boss worker handles one job at a time; several workers give concurrency.
    for (let i = 0; i < (definition.concurrency ?? 1); i++) {
      await boss.work<object>(definition.name, { batchSize: 1, pollingIntervalSeconds: 1 }, handler);
    }
    if (definition.cron) await boss.schedule(definition.name, definition.cron, {}, { tz: 'UTC' });
  }

  return {
    async send(name, data, sendOptions) {
      const id = await boss.send(name, data, sendOptions ?? {});
      if (!id) throw new Error(`job ${name} was not queued (a singleton already exists)`);
      return id;
    },
    get: (name, id) => boss.getJobById(name, id, { includeArchive: true }),
    async stop(timeoutMs) {
      stopping = true;
      await boss.stop({ graceful: true, timeout: timeoutMs, wait: true });
    },
  };
}
