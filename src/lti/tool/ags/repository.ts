import type { Queryable } from '../../../db/index.js';
import { paginate } from '../../../db/pagination.js';
import type { AgsEndpointClaim } from '../../core/claims.js';
import type { ClientRow, PlatformRow } from '../registrations/repository.js';

export type AgsScoreStatus = 'pending' | 'sent' | 'failed';

/** The AGS score body (application/vnd.ims.lis.v1.score+json). */
export interface AgsScoreBody {
  readonly userId: string;
  readonly scoreGiven?: number;
  readonly scoreMaximum?: number;
  readonly activityProgress: string;
  readonly gradingProgress: string;
  readonly timestamp: string;
  readonly comment?: string;
}

export interface AgsScoreRow {
  id: string;
  tenant_id: string;
  resource_link_ref: string;
  user_id: string;
  line_item_id: string;
  score_id: string | null;
  platform_user_id: string;
  score: AgsScoreBody;
  scored_at: Date;
  generation: number;
  status: AgsScoreStatus;
  attempts: number;
  job_id: string | null;
  dispatched_at: Date | null;
  next_attempt_at: Date | null;
  last_attempt_at: Date | null;
  last_http_status: number | null;
  last_response: string | null;
  last_error: string | null;
  platform_line_item_url: string | null;
  sent_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** The channel whose notifications (sent at commit) wake the dispatcher: `ags:<row id>` or `roster:<sync id>`. */
export const servicesChannel = 'cairn_lti_services';

export async function notifyServices(db: Queryable, payload: string): Promise<void> {
  await db.raw('select pg_notify(?, ?)', [servicesChannel, payload]);
}

export const scoreScope = 'https://purl.imsglobal.org/spec/lti-ags/scope/score';

/**
 * The resource links a score on this course item should reach: links opening the item whose
 * last launch carried an AGS claim with the score scope, on platforms where the learner has an
 * identity (their `sub` there). Only the item's first line item flows upstream — the one the
 * SCORM runtime writes — since one platform line item can hold only one grade per learner.
 */
export async function findPassbackTargets(db: Queryable, input: { courseItemId: string; courseId: string; lineItemId: string; userId: string }): Promise<{ link_id: string; tenant_id: string; subject: string }[]> {
  const result = await db.raw<{ rows: { link_id: string; tenant_id: string; subject: string }[] }>(
    `select rl.id as link_id, rl.tenant_id, ui.subject
       from lti_resource_links rl
       join lti_deployments d on d.id = rl.deployment_ref
       join lti_platforms p on p.id = d.platform_id
       join user_identities ui on ui.tenant_id = rl.tenant_id and ui.issuer = p.issuer and ui.user_id = ?
      where rl.course_item_id = ? and rl.course_id = ?
        and rl.ags is not null and rl.ags -> 'scope' @> ?::jsonb
        and ? = (select li.id from line_items li where li.course_item_id = rl.course_item_id order by li.created_at, li.id limit 1)`,
    [input.userId, input.courseItemId, input.courseId, JSON.stringify([scoreScope]), input.lineItemId],
  );
  return result.rows;
}

/**
 * Records the score owed to one resource link for one learner. A newer score replaces an older
 * pending one (bumping `generation`); an older one (by `scored_at`) changes nothing. Returns
 * the row's id and whether a job already looks after it.
 */
export async function upsertPassback(db: Queryable, row: {
  tenant_id: string; resource_link_ref: string; user_id: string; line_item_id: string; score_id: string; platform_user_id: string; score: AgsScoreBody; scored_at: Date;
}, now: Date): Promise<{ id: string; job_id: string | null } | undefined> {
  const result = await db.raw<{ rows: { id: string; job_id: string | null }[] }>(
    `insert into lti_ags_scores (tenant_id, resource_link_ref, user_id, line_item_id, score_id, platform_user_id, score, scored_at, generation, status, attempts, created_at, updated_at)
     values (?, ?, ?, ?, ?, ?, ?::jsonb, ?, 1, 'pending', 0, ?, ?)
     on conflict (resource_link_ref, user_id) do update set
       line_item_id = excluded.line_item_id, score_id = excluded.score_id, platform_user_id = excluded.platform_user_id,
       score = excluded.score, scored_at = excluded.scored_at, generation = lti_ags_scores.generation + 1,
       status = 'pending', attempts = 0, updated_at = excluded.updated_at
     where lti_ags_scores.scored_at <= excluded.scored_at
     returning id, job_id`,
    [row.tenant_id, row.resource_link_ref, row.user_id, row.line_item_id, row.score_id, row.platform_user_id, JSON.stringify(row.score), row.scored_at, now, now],
  );
  return result.rows[0];
}

export async function findPassback(db: Queryable, id: string): Promise<AgsScoreRow | undefined> {
  return db<AgsScoreRow>('lti_ags_scores').where({ id }).first();
}

/** Makes `jobId` the job responsible for a pending row nobody looks after; false when another node did first. */
export async function claimPassback(db: Queryable, id: string, jobId: string, now: Date): Promise<boolean> {
  const count = await db('lti_ags_scores').where({ id, status: 'pending' }).whereNull('job_id').update({ job_id: jobId, dispatched_at: now });
  return count === 1;
}

export async function releasePassback(db: Queryable, id: string, jobId: string): Promise<void> {
  await db('lti_ags_scores').where({ id, job_id: jobId }).update({ job_id: null });
}

export async function recordAttempt(db: Queryable, id: string, jobId: string, attempts: number, now: Date): Promise<boolean> {
  return (await db('lti_ags_scores').where({ id, job_id: jobId }).update({ attempts, last_attempt_at: now, updated_at: now })) === 1;
}

/** Sent — unless a newer score arrived meanwhile (then the caller sends that one). */
export async function markSent(db: Queryable, id: string, jobId: string, generation: number, fields: { status: number; response: string; lineItemUrl: string }, now: Date): Promise<boolean> {
  const count = await db('lti_ags_scores').where({ id, job_id: jobId, generation }).update({
    status: 'sent', job_id: null, sent_at: now, next_attempt_at: null, last_http_status: fields.status, last_response: fields.response,
    last_error: null, platform_line_item_url: fields.lineItemUrl, updated_at: now,
  });
  return count === 1;
}

export async function markFailed(db: Queryable, id: string, jobId: string, fields: { status: number | null; response: string | null; error: string; lineItemUrl: string | null }, now: Date): Promise<void> {
  await db('lti_ags_scores').where({ id, job_id: jobId }).update({
    status: 'failed', job_id: null, next_attempt_at: null, last_http_status: fields.status, last_response: fields.response, last_error: fields.error,
    ...(fields.lineItemUrl ? { platform_line_item_url: fields.lineItemUrl } : {}), updated_at: now,
  });
}

/** Hands the row to the job that will try again; false when the row is no longer this job's. */
export async function scheduleRetry(db: Queryable, id: string, jobId: string, nextJobId: string, fields: { at: Date; status: number | null; response: string | null; error: string }, now: Date): Promise<boolean> {
  const count = await db('lti_ags_scores').where({ id, job_id: jobId }).update({
    job_id: nextJobId, dispatched_at: now, next_attempt_at: fields.at, last_http_status: fields.status, last_response: fields.response, last_error: fields.error, updated_at: now,
  });
  return count === 1;
}

/** An admin asks for another try of a failed score: pending again, attempts from zero. */
export async function resetFailed(db: Queryable, tenantId: string, id: string, now: Date): Promise<AgsScoreRow | undefined> {
  const [row] = await db<AgsScoreRow>('lti_ags_scores').where({ tenant_id: tenantId, id, status: 'failed' })
    .update({ status: 'pending', attempts: 0, job_id: null, next_attempt_at: null, updated_at: now }).returning('*');
  return row as AgsScoreRow | undefined;
}

/** Pending rows no job looks after (a lost notification), and rows whose job may have died. */
export async function findStrandedPassbacks(db: Queryable, now: Date, limit: number): Promise<{ undispatched: string[]; overdue: { id: string; job_id: string }[] }> {
  const undispatched = await db('lti_ags_scores').where({ status: 'pending' }).whereNull('job_id')
    .where('updated_at', '<', new Date(now.getTime() - 30_000)).orderBy('updated_at').limit(limit).pluck('id');
  const overdue = await db('lti_ags_scores').where({ status: 'pending' }).whereNotNull('job_id')
    .where((q) => q.where('next_attempt_at', '<', new Date(now.getTime() - 5 * 60_000))
      .orWhere((q2) => q2.whereNull('next_attempt_at').where('dispatched_at', '<', new Date(now.getTime() - 5 * 60_000))))
    .orderBy('updated_at').limit(limit).select('id', 'job_id');
  return { undispatched: undispatched as string[], overdue: overdue as { id: string; job_id: string }[] };
}

/** What delivering a row needs: the resource link with its AGS claim, and the registration to call. */
export interface PassbackTarget {
  readonly link: { id: string; resource_link_id: string; course_item_id: string | null; ags: AgsEndpointClaim | null; line_item_url: string | null };
  readonly platform: PlatformRow;
  readonly client: ClientRow;
}

export async function findPassbackTarget(db: Queryable, resourceLinkRef: string): Promise<PassbackTarget | undefined> {
  const row = await db('lti_resource_links as rl')
    .join('lti_deployments as d', 'd.id', 'rl.deployment_ref')
    .where('rl.id', resourceLinkRef)
    .first('rl.id', 'rl.resource_link_id', 'rl.course_item_id', 'rl.ags', 'rl.line_item_url', 'd.platform_id', 'd.platform_client_id') as
    { id: string; resource_link_id: string; course_item_id: string | null; ags: AgsEndpointClaim | null; line_item_url: string | null; platform_id: string; platform_client_id: string } | undefined;
  if (!row) return undefined;
  const platform = await db<PlatformRow>('lti_platforms').where({ id: row.platform_id }).first();
  const client = await db<ClientRow>('lti_platform_clients').where({ id: row.platform_client_id }).first();
  if (!platform || !client) return undefined;
  return { link: { id: row.id, resource_link_id: row.resource_link_id, course_item_id: row.course_item_id, ags: row.ags, line_item_url: row.line_item_url }, platform, client };
}

export async function lockResourceLink(db: Queryable, id: string): Promise<string | null> {
  await db.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`ags-line-item:${id}`]);
  const row = await db('lti_resource_links').where({ id }).first('line_item_url') as { line_item_url: string | null } | undefined;
  return row?.line_item_url ?? null;
}

export async function setResourceLinkLineItem(db: Queryable, id: string, url: string, now: Date): Promise<void> {
  await db('lti_resource_links').where({ id }).update({ line_item_url: url, updated_at: now });
}

/** Forgets a discovered line item the platform no longer has (deleted from its gradebook). */
export async function forgetResourceLinkLineItem(db: Queryable, id: string, url: string, now: Date): Promise<void> {
  await db('lti_resource_links').where({ id, line_item_url: url }).update({ line_item_url: null, updated_at: now });
}

export async function findLineItemFacts(db: Queryable, lineItemId: string): Promise<{ label: string; score_maximum: string; tag: string | null; course_item_id: string | null } | undefined> {
  return db('line_items').where({ id: lineItemId }).first('label', 'score_maximum', 'tag', 'course_item_id');
}

// Admin listing ------------------------------------------------------------------------------

export interface PassbackView extends AgsScoreRow {
  course_id: string;
  course_item_id: string | null;
  resource_link_id: string;
  platform_id: string;
}

function viewQuery(db: Queryable) {
  return db('lti_ags_scores as s')
    .join('lti_resource_links as rl', 'rl.id', 's.resource_link_ref')
    .join('lti_deployments as d', 'd.id', 'rl.deployment_ref')
    .join('line_items as li', 'li.id', 's.line_item_id')
    .select('s.*', 'li.course_id', 'rl.course_item_id', 'rl.resource_link_id', 'd.platform_id');
}

export async function listPassbacks(db: Queryable, filter: { tenantId: string; status?: AgsScoreStatus | undefined; courseId?: string | undefined; userId?: string | undefined; platformId?: string | undefined; limit: number; cursor?: string | undefined }) {
  const query = viewQuery(db).where('s.tenant_id', filter.tenantId);
  if (filter.status) query.where('s.status', filter.status);
  if (filter.courseId) query.where('li.course_id', filter.courseId);
  if (filter.userId) query.where('s.user_id', filter.userId);
  if (filter.platformId) query.where('d.platform_id', filter.platformId);
  return paginate<PassbackView>(query, { limit: filter.limit, cursor: filter.cursor, sortColumn: 's.created_at', idColumn: 's.id', direction: 'desc' });
}

export async function findPassbackView(db: Queryable, tenantId: string, id: string): Promise<PassbackView | undefined> {
  return viewQuery(db).where({ 's.tenant_id': tenantId, 's.id': id }).first() as Promise<PassbackView | undefined>;
}
