import type { Queryable } from '../db/index.js';
import { paginate } from '../db/pagination.js';
import { actorLabel, type Principal } from '../auth/principal.js';
import type { RequestInfo } from '../http/request-info.js';

export interface AuditEntry {
  /** `<noun>.<verb>`, e.g. `course.create`, `user.lock`, `auth.login_failed`. */
  readonly action: string;
  readonly targetType?: string;
  readonly targetId?: string;
  readonly details?: Readonly<Record<string, unknown>>;
  /** Defaults to the principal's tenant; set for events with no principal (failed logins). */
  readonly tenantId?: string;
}

export interface AuditRecordInput extends AuditEntry {
  readonly principal: Principal | undefined;
  readonly request: RequestInfo | undefined;
  readonly at: Date;
  /** For events without a principal: who it was about (e.g. the email that failed to log in). */
  readonly actorLabel?: string;
  readonly actorUserId?: string;
}

export interface AuditRow {
  id: string;
  tenant_id: string | null;
  actor_user_id: string | null;
  actor_type: 'user' | 'token' | 'system';
  actor_label: string;
  action: string;
  target_type: string | null;
  target_id: string | null;
  details: Record<string, unknown>;
  ip: string | null;
  request_id: string | null;
  created_at: Date;
}

export async function recordAudit(db: Queryable, entries: readonly AuditRecordInput[]): Promise<void> {
  if (entries.length === 0) return;
  await db('audit_log').insert(
    entries.map((e) => ({
      tenant_id: e.tenantId ?? e.principal?.tenantId ?? null,
      actor_user_id: e.principal?.userId ?? e.actorUserId ?? null,
      actor_type: e.principal ? (e.principal.via === 'token' ? 'token' : 'user') : e.actorUserId ? 'user' : 'system',
      actor_label: e.principal ? actorLabel(e.principal) : e.actorLabel ?? 'system',
      action: e.action,
      target_type: e.targetType ?? null,
      target_id: e.targetId ?? null,
      details: JSON.stringify(e.details ?? {}),
      ip: e.request?.ip ?? null,
      request_id: e.request?.id ?? null,
      created_at: e.at,
    })),
  );
}

export interface AuditFilter {
  readonly tenantId: string;
  readonly actorUserId?: string | undefined;
  readonly action?: string | undefined;
  readonly targetType?: string | undefined;
  readonly targetId?: string | undefined;
  readonly since?: Date | undefined;
  readonly until?: Date | undefined;
  readonly limit: number;
  readonly cursor?: string | undefined;
}

/** Newest first. */
export async function listAudit(db: Queryable, filter: AuditFilter) {
  const query = db<AuditRow>('audit_log').where('tenant_id', filter.tenantId);
  if (filter.actorUserId) query.where('actor_user_id', filter.actorUserId);
  if (filter.action) {
    // `course.*` matches every course action.
    if (filter.action.endsWith('.*')) query.where('action', 'like', `${filter.action.slice(0, -1).replace(/[%_\\]/g, '\\$&')}%`);
    else query.where('action', filter.action);
  }
  if (filter.targetType) query.where('target_type', filter.targetType);
  if (filter.targetId) query.where('target_id', filter.targetId);
  if (filter.since) query.where('created_at', '>=', filter.since);
  if (filter.until) query.where('created_at', '<', filter.until);
  return paginate<AuditRow>(query, { limit: filter.limit, cursor: filter.cursor, sortColumn: 'id', idColumn: 'id', direction: 'desc' });
}

/**
 * Deletes entries older than `before` in batches (by the created_at index) so a large log is
 * trimmed without one long, lock-heavy statement. Returns the count deleted per tenant
 * (key '' for entries without a tenant).
 */
export async function purgeAuditBefore(db: Queryable, before: Date, batchSize = 10_000): Promise<Map<string, number>> {
  const perTenant = new Map<string, number>();
  for (;;) {
    const result = await db.raw<{ rows: Array<{ tenant_id: string | null; n: string }> }>(
      `with doomed as (
         delete from audit_log where id in (select id from audit_log where created_at < ? order by created_at limit ?)
         returning tenant_id)
       select tenant_id, count(*) as n from doomed group by tenant_id`,
      [before, batchSize],
    );
    let batch = 0;
    for (const row of result.rows) {
      const n = Number(row.n);
      batch += n;
      perTenant.set(row.tenant_id ?? '', (perTenant.get(row.tenant_id ?? '') ?? 0) + n);
    }
    if (batch < batchSize) return perTenant;
  }
}
