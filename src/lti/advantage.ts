import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import type { Clock } from '../deps.js';
import type { LtiConfig } from '../config/index.js';
import type { JobDefinition, JobQueue } from '../jobs/index.js';
import type { LtiCore } from './core/index.js';
import { ServiceHttp, ServiceTokens } from './tool/ags/service-client.js';
import { agsScoreJob, agsScoreQueue } from './tool/ags/delivery.js';
import { ServiceDispatcher } from './tool/ags/dispatcher.js';
import * as ags from './tool/ags/repository.js';
import { dispatchRosterSync, rosterSyncJob, rosterSyncQueue } from './tool/nrps/sync.js';
import * as nrps from './tool/nrps/repository.js';
import { purgeRequests } from './tool/deep-linking/repository.js';

/**
 * LTI Advantage in the tool role at run time: the grade-passback and roster-sync jobs sharing
 * one token cache, the dispatcher that turns outbox notifications into jobs, and the sweep that
 * catches what a lost notification or a dead worker left behind. Built by src/runtime.ts.
 */
export interface AdvantageDeps {
  readonly db: Db;
  readonly clock: Clock;
  readonly log: Logger;
  readonly config: LtiConfig;
  readonly lti: LtiCore;
  /** The queue, once started (job definitions are built before it). */
  readonly jobs: () => JobQueue | undefined;
}

export interface LtiAdvantage {
  readonly tokens: ServiceTokens;
  readonly jobDefinitions: readonly JobDefinition<never>[];
  /** Starts the dispatcher on a worker node; returns its stop function. */
  startDispatcher(connectionString: string): Promise<() => Promise<void>>;
  /** One sweep now (the minute job does the same). */
  sweep(): Promise<{ passbacks: number; syncs: number }>;
}

const finished = new Set(['completed', 'failed', 'cancelled']);

export function createLtiAdvantage(deps: AdvantageDeps): LtiAdvantage {
  const log = deps.log.child({ component: 'lti-advantage' });
  const http = new ServiceHttp();
  const tokens = new ServiceTokens({ keys: deps.lti.keys, clock: deps.clock, log, http });
  const serviceDeps = { db: deps.db, clock: deps.clock, log, config: deps.config, tokens, http };

  const queue = (): JobQueue => {
    const jobs = deps.jobs();
    if (!jobs) throw new Error('the job queue is not running');
    return jobs;
  };

  async function dispatchPassback(id: string): Promise<void> {
    const jobId = randomUUID();
    if (!(await ags.claimPassback(deps.db, id, jobId, deps.clock.now()))) return;
    try {
      await queue().send(agsScoreQueue, { id }, { id: jobId });
    } catch (error) {
      await ags.releasePassback(deps.db, id, jobId);
      throw error;
    }
  }

  const dispatchSync = (id: string) => dispatchRosterSync({ db: deps.db, clock: deps.clock, jobs: queue() }, id);

  async function sweep(): Promise<{ passbacks: number; syncs: number }> {
    const now = deps.clock.now();
    const jobs = queue();
    let passbacks = 0;
    let syncs = 0;
    const stranded = await ags.findStrandedPassbacks(deps.db, now, 500);
    for (const id of stranded.undispatched) {
      await dispatchPassback(id);
      passbacks++;
    }
    for (const row of stranded.overdue) {
      const job = await jobs.get(agsScoreQueue, row.job_id);
      if (job && !finished.has(job.state)) continue;
      await ags.releasePassback(deps.db, row.id, row.job_id);
      await dispatchPassback(row.id);
      passbacks++;
    }
    const waiting = await nrps.findStrandedSyncs(deps.db, now, 100);
    for (const id of waiting.undispatched) {
      await dispatchSync(id);
      syncs++;
    }
    for (const row of waiting.dispatched) {
      const job = await jobs.get(rosterSyncQueue, row.job_id);
      if (job && !finished.has(job.state)) continue;
      // The job is gone or gave up on an unexpected error: the sync will not finish by itself.
      await nrps.failSync(deps.db, row.id, { error: 'The sync job stopped without finishing (see the server log).', http_status: null }, now);
      syncs++;
    }
    // Deep-linking requests a day past expiry: nothing can use them any more.
    await purgeRequests(deps.db, new Date(now.getTime() - 86_400_000));
    if (passbacks + syncs > 0) log.info({ passbacks, syncs }, 'LTI services sweep dispatched stranded work');
    return { passbacks, syncs };
  }

  const sweepJob: JobDefinition<Record<string, never>> = {
    name: 'lti-services-sweep',
    cron: '* * * * *',
    retryLimit: 0,
    async handle() {
      return sweep();
    },
  };

  return {
    tokens,
    jobDefinitions: [agsScoreJob({ ...serviceDeps, jobs: deps.jobs }), rosterSyncJob(serviceDeps), sweepJob] as unknown as JobDefinition<never>[],
    async startDispatcher(connectionString) {
      const dispatcher = new ServiceDispatcher({
        connectionString, log,
        handlers: { ags: dispatchPassback, roster: dispatchSync },
        catchUp: sweep,
      });
      await dispatcher.start();
      return () => dispatcher.stop();
    },
    sweep,
  };
}
