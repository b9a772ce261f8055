import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import type { Clock } from '../deps.js';
import { purgeAuditBefore, recordAudit } from '../audit/repository.js';
import { purgeRateLimitCounters } from '../auth/rate-limit.js';
import { purgeExpiredSessions } from '../auth/repository.js';
import type { JobDefinition } from './index.js';

/** Deletes audit-log entries older than the retention period, and says so in the audit log. */
export function auditRetentionJob(deps: { db: Db; clock: Clock; log: Logger; retentionDays: number }): JobDefinition<{ retentionDays?: number }> {
  return {
    name: 'audit-retention',
    cron: '17 3 * * *',
    async handle(data) {
      const days = data.retentionDays ?? deps.retentionDays;
      const now = deps.clock.now();
      const before = new Date(now.getTime() - days * 86_400_000);
      const perTenant = await purgeAuditBefore(deps.db, before);
      const deleted = [...perTenant.values()].reduce((a, b) => a + b, 0);
      // One entry per tenant so each tenant's admins see that their log was trimmed.
      await recordAudit(deps.db, [...perTenant].map(([tenantId, count]) => ({
        action: 'audit.purge', ...(tenantId ? { tenantId } : {}), principal: undefined, request: undefined, at: now,
        details: { deleted: count, before: before.toISOString(), retention_days: days },
      })));
      deps.log.info({ deleted, before }, 'audit-log retention purge');
      return { deleted };
    },
  };
}

/** Drops expired sessions and old rate-limit windows; both tables would otherwise only grow. */
export function housekeepingJob(deps: { db: Db; clock: Clock }): JobDefinition<Record<string, never>> {
  return {
    name: 'housekeeping',
    cron: '*/15 * * * *',
    async handle() {
      const now = deps.clock.now();
      const sessions = await purgeExpiredSessions(deps.db, now);
      const counters = await purgeRateLimitCounters(deps.db, now);
      return { sessions, counters };
    },
  };
}
