import type { Queryable } from '../../../db/index.js';
import { paginate } from '../../../db/pagination.js';
import type { EnrollmentRole } from '../../../courses/repository.js';
import type { ClientRow, PlatformRow } from '../registrations/repository.js';
import type { CourseContextRow } from '../launch/repository.js';

export type SyncStatus = 'queued' | 'running' | 'succeeded' | 'failed';
export type SyncTrigger = 'launch' | 'admin';

export interface SyncCounts {
  pages: number;
  members: number;
  users_created: number;
  enrollments_added: number;
  enrollments_updated: number;
  enrollments_deactivated: number;
}

export interface RosterSyncRow extends SyncCounts {
  id: string;
  tenant_id: string;
  course_context_id: string;
  course_id: string;
  trigger: SyncTrigger;
  status: SyncStatus;
  requested_by: string | null;
  job_id: string | null;
  dispatched_at: Date | null;
  attempts: number;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  http_status: number | null;
  error: string | null;
}

/**
 * Queues a sync of a context, unless one is already waiting (the partial unique index keeps one
 * queued sync per context). Returns the waiting sync and whether this call created it.
 */
export async function queueSync(db: Queryable, row: { tenant_id: string; course_context_id: string; course_id: string; trigger: SyncTrigger; requested_by: string | null }, now: Date): Promise<{ sync: RosterSyncRow; created: boolean }> {
  const result = await db.raw<{ rows: RosterSyncRow[] }>(
    `insert into lti_roster_syncs (tenant_id, course_context_id, course_id, trigger, status, requested_by, created_at)
     values (?, ?, ?, ?, 'queued', ?, ?)
     on conflict (course_context_id) where status = 'queued' do nothing
     returning *`,
    [row.tenant_id, row.course_context_id, row.course_id, row.trigger, row.requested_by, now],
  );
  const created = result.rows[0];
  if (created) return { sync: created, created: true };
  const waiting = await db<RosterSyncRow>('lti_roster_syncs').where({ course_context_id: row.course_context_id, status: 'queued' }).first();
  return { sync: waiting!, created: false };
}

export async function findSync(db: Queryable, id: string): Promise<RosterSyncRow | undefined> {
  return db<RosterSyncRow>('lti_roster_syncs').where({ id }).first();
}

export async function findSyncInTenant(db: Queryable, tenantId: string, id: string): Promise<RosterSyncRow | undefined> {
  return db<RosterSyncRow>('lti_roster_syncs').where({ tenant_id: tenantId, id }).first();
}

export async function listSyncs(db: Queryable, filter: { tenantId: string; contextId?: string | undefined; status?: SyncStatus | undefined; limit: number; cursor?: string | undefined }) {
  const query = db<RosterSyncRow>('lti_roster_syncs').where('tenant_id', filter.tenantId);
  if (filter.contextId) query.where('course_context_id', filter.contextId);
  if (filter.status) query.where('status', filter.status);
  return paginate<RosterSyncRow>(query, { limit: filter.limit, cursor: filter.cursor, sortColumn: 'created_at', idColumn: 'id', direction: 'desc' });
}

/** Whether a sync of this context was asked for since `since` (launches do not ask again so soon). */
export async function syncRequestedSince(db: Queryable, contextId: string, since: Date): Promise<boolean> {
  return (await db('lti_roster_syncs').where({ course_context_id: contextId }).where('created_at', '>=', since).first('id')) !== undefined;
}

export async function claimSync(db: Queryable, id: string, jobId: string, now: Date): Promise<boolean> {
  return (await db('lti_roster_syncs').where({ id, status: 'queued' }).whereNull('job_id').update({ job_id: jobId, dispatched_at: now })) === 1;
}

export async function releaseSync(db: Queryable, id: string, jobId: string): Promise<void> {
  await db('lti_roster_syncs').where({ id, job_id: jobId }).update({ job_id: null });
}

/** The job starts (or retries) the sync; false when the row is not this job's to run. */
export async function startSync(db: Queryable, id: string, jobId: string, now: Date): Promise<RosterSyncRow | undefined> {
  const [row] = await db<RosterSyncRow>('lti_roster_syncs').where({ id, job_id: jobId }).whereIn('status', ['queued', 'running'])
    .update({ status: 'running', started_at: now, attempts: db.raw('attempts + 1') as unknown as number, error: null, http_status: null }).returning('*');
  return row as RosterSyncRow | undefined;
}

export async function noteSyncError(db: Queryable, id: string, fields: { error: string; http_status: number | null }): Promise<void> {
  await db('lti_roster_syncs').where({ id }).update(fields);
}

export async function finishSync(db: Queryable, id: string, counts: SyncCounts, now: Date): Promise<void> {
  await db('lti_roster_syncs').where({ id }).update({ ...counts, status: 'succeeded', finished_at: now, error: null, http_status: null, job_id: null });
}

export async function failSync(db: Queryable, id: string, fields: { error: string; http_status: number | null; pages?: number }, now: Date): Promise<void> {
  await db('lti_roster_syncs').where({ id }).update({ ...fields, status: 'failed', finished_at: now, job_id: null });
}

export async function findStrandedSyncs(db: Queryable, now: Date, limit: number): Promise<{ undispatched: string[]; dispatched: { id: string; job_id: string }[] }> {
  const undispatched = await db('lti_roster_syncs').where({ status: 'queued' }).whereNull('job_id')
    .where('created_at', '<', new Date(now.getTime() - 30_000)).orderBy('created_at').limit(limit).pluck('id');
  const dispatched = await db('lti_roster_syncs').whereIn('status', ['queued', 'running']).whereNotNull('job_id')
    .where('dispatched_at', '<', new Date(now.getTime() - 15 * 60_000)).orderBy('dispatched_at').limit(limit).select('id', 'job_id');
  return { undispatched: undispatched as string[], dispatched: dispatched as { id: string; job_id: string }[] };
}

// Contexts ------------------------------------------------------------------------------------

export interface SyncTarget {
  readonly context: CourseContextRow;
  readonly platform: PlatformRow;
  readonly client: ClientRow;
}

export async function findSyncTarget(db: Queryable, contextId: string): Promise<SyncTarget | undefined> {
  const context = await db<CourseContextRow>('course_contexts').where({ id: contextId }).first();
  if (!context) return undefined;
  const deployment = await db('lti_deployments').where({ id: context.deployment_ref }).first('platform_id', 'platform_client_id') as { platform_id: string; platform_client_id: string } | undefined;
  if (!deployment) return undefined;
  const platform = await db<PlatformRow>('lti_platforms').where({ id: deployment.platform_id }).first();
  const client = await db<ClientRow>('lti_platform_clients').where({ id: deployment.platform_client_id }).first();
  return platform && client ? { context, platform, client } : undefined;
}

export async function markContextSynced(db: Queryable, contextId: string, now: Date): Promise<void> {
  await db('course_contexts').where({ id: contextId }).update({ nrps_synced_at: now });
}

export interface ContextView extends CourseContextRow {
  platform_id: string;
  deployment_id: string;
  last_sync_id: string | null;
  last_sync_status: SyncStatus | null;
  last_sync_at: Date | null;
}

function contextQuery(db: Queryable) {
  return db('course_contexts as c')
    .join('lti_deployments as d', 'd.id', 'c.deployment_ref')
    .leftJoin(db.raw(`lateral (select s.id, s.status, s.created_at from lti_roster_syncs s where s.course_context_id = c.id order by s.created_at desc limit 1) as s on true`))
    .select('c.*', 'd.platform_id', 'd.deployment_id', 's.id as last_sync_id', 's.status as last_sync_status', 's.created_at as last_sync_at');
}

export async function listContexts(db: Queryable, filter: { tenantId: string; platformId?: string | undefined; courseId?: string | undefined; limit: number; cursor?: string | undefined }) {
  const query = contextQuery(db).where('c.tenant_id', filter.tenantId);
  if (filter.platformId) query.where('d.platform_id', filter.platformId);
  if (filter.courseId) query.where('c.course_id', filter.courseId);
  return paginate<ContextView>(query, { limit: filter.limit, cursor: filter.cursor, sortColumn: 'c.created_at', idColumn: 'c.id' });
}

export async function findContextView(db: Queryable, tenantId: string, id: string): Promise<ContextView | undefined> {
  return contextQuery(db).where({ 'c.tenant_id': tenantId, 'c.id': id }).first() as Promise<ContextView | undefined>;
}

// Enrollments ---------------------------------------------------------------------------------

/**
 * An active member's enrollment, source `lti`. Enrollments an administrator made by hand are
 * left as they are, as on launch. Says whether it was added, changed, or already right.
 */
export async function upsertMemberEnrollment(db: Queryable, row: { tenant_id: string; course_id: string; user_id: string; role: EnrollmentRole }, now: Date): Promise<'added' | 'updated' | 'unchanged'> {
  const result = await db.raw<{ rows: { inserted: boolean }[] }>(
    `insert into enrollments (tenant_id, course_id, user_id, role, status, source, created_at, updated_at)
     values (?, ?, ?, ?, 'active', 'lti', ?, ?)
     on conflict (course_id, user_id) do update
       set role = excluded.role, status = 'active', updated_at = excluded.updated_at
       where enrollments.source = 'lti' and (enrollments.role <> excluded.role or enrollments.status <> 'active')
     returning (xmax = 0) as inserted`,
    [row.tenant_id, row.course_id, row.user_id, row.role, now, now],
  );
  const changed = result.rows[0];
  if (!changed) return 'unchanged';
  return changed.inserted ? 'added' : 'updated';
}

/** A member the platform reports Inactive or Deleted: their LTI enrollment becomes inactive. */
export async function deactivateMember(db: Queryable, courseId: string, userId: string, now: Date): Promise<boolean> {
  return (await db('enrollments').where({ course_id: courseId, user_id: userId, source: 'lti', status: 'active' }).update({ status: 'inactive', updated_at: now })) === 1;
}

/** Whether the course has any active enrollment made by LTI (launches or rosters). */
export async function hasActiveLtiEnrollments(db: Queryable, courseId: string): Promise<boolean> {
  return (await db('enrollments').where({ course_id: courseId, source: 'lti', status: 'active' }).first('id')) !== undefined;
}

/** LTI enrollments of members the roster no longer lists at all. */
export async function deactivateAbsent(db: Queryable, courseId: string, presentUserIds: readonly string[], now: Date): Promise<number> {
  return db('enrollments').where({ course_id: courseId, source: 'lti', status: 'active' })
    // An array literal, not a list of bindings: rosters can exceed PostgreSQL's parameter limit.
    .whereRaw('not (user_id = any(?::uuid[]))', [`{${presentUserIds.join(',')}}`])
    .update({ status: 'inactive', updated_at: now });
}
