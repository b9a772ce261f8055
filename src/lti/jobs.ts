import type { Db } from '../db/index.js';
import type { Clock } from '../deps.js';
import type { LtiConfig } from '../config/index.js';
import type { JobDefinition } from '../jobs/index.js';
import type { LtiCore } from './core/index.js';
import { purgeNonces, purgeStates } from './core/repository.js';
import { purgeLaunchesBefore } from './tool/launch-log/repository.js';

/**
 * Daily: retires keys past their overlap and rotates the current key once it is older than
 * CAIRN_LTI_KEY_ROTATION_DAYS (pg-boss runs each tick on one node only).
 */
export function ltiKeyRotationJob(deps: { lti: LtiCore }): JobDefinition<{ force?: boolean }> {
  return {
    name: 'lti-key-rotation',
    cron: '41 2 * * *',
    retryLimit: 5,
    async handle(data) {
      return data.force ? deps.lti.keys.rotateNow() : deps.lti.keys.rotateIfDue();
    },
  };
}

/** Expired login states and nonces, and launch-log entries past their retention. */
export function ltiHousekeepingJob(deps: { db: Db; clock: Clock; config: LtiConfig }): JobDefinition<Record<string, never>> {
  return {
    name: 'lti-housekeeping',
    cron: '*/15 * * * *',
    async handle() {
      const now = deps.clock.now();
      const nonces = await purgeNonces(deps.db, now);
      // Kept a day past expiry so a late launch can still be told "expired" rather than "unknown".
      const states = await purgeStates(deps.db, new Date(now.getTime() - 86_400_000));
      const launches = await purgeLaunchesBefore(deps.db, new Date(now.getTime() - deps.config.launchLogDays * 86_400_000));
      return { nonces, states, launches };
    },
  };
}
