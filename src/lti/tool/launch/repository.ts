import type { Queryable } from '../../../db/index.js';
import { paginate } from '../../../db/pagination.js';
import type { CourseRow, EnrollmentRole } from '../../../courses/repository.js';
import type { StateRow } from '../../core/repository.js';
import type { ClientRow, PlatformRow, Registration } from '../registrations/repository.js';

export interface IdentityRow {
  id: string;
  tenant_id: string;
  user_id: string;
  issuer: string;
  subject: string;
  name: string | null;
  given_name: string | null;
  family_name: string | null;
  email: string | null;
  created_at: Date;
  updated_at: Date;
  last_launch_at: Date | null;
}

export interface IdentityWithUser extends IdentityRow {
  user_email: string;
  user_name: string;
  user_role: 'admin' | 'instructor' | 'learner';
  user_status: 'active' | 'suspended';
}

export interface CourseContextRow {
  id: string;
  tenant_id: string;
  course_id: string;
  deployment_ref: string;
  context_id: string;
  title: string | null;
  label: string | null;
  types: string[];
  nrps: Record<string, unknown> | null;
  nrps_synced_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface ResourceLinkRow {
  id: string;
  tenant_id: string;
  deployment_ref: string;
  course_context_id: string | null;
  course_id: string | null;
  resource_link_id: string;
  title: string | null;
  description: string | null;
  course_item_id: string | null;
  custom: Record<string, string>;
  ags: Record<string, unknown> | null;
  line_item_url: string | null;
  created_at: Date;
  updated_at: Date;
  last_launch_at: Date | null;
}

/**
 * Serializes first-time provisioning of one key (a user, a context) across concurrent launches
 * — a class of thirty opening the same new course at once — without a unique-violation retry.
 */
export async function lockKey(db: Queryable, key: string): Promise<void> {
  await db.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [key]);
}

export async function findIdentity(db: Queryable, tenantId: string, issuer: string, subject: string): Promise<IdentityWithUser | undefined> {
  return db('user_identities as i')
    .join('users as u', 'u.id', 'i.user_id')
    .where({ 'i.tenant_id': tenantId, 'i.issuer': issuer, 'i.subject': subject })
    .first('i.*', 'u.email as user_email', 'u.name as user_name', 'u.role as user_role', 'u.status as user_status');
}

export async function insertIdentity(db: Queryable, row: Omit<IdentityRow, 'id' | 'created_at' | 'updated_at'>, now: Date): Promise<IdentityRow> {
  const [created] = await db<IdentityRow>('user_identities').insert({ ...row, created_at: now, updated_at: now }).returning('*');
  return created as IdentityRow;
}

export async function updateIdentity(db: Queryable, id: string, changes: Partial<IdentityRow>, now: Date): Promise<void> {
  await db('user_identities').where({ id }).update({ ...changes, updated_at: now });
}

export async function emailTaken(db: Queryable, tenantId: string, email: string): Promise<boolean> {
  return (await db('users').where({ tenant_id: tenantId, email: email.toLowerCase() }).first('id')) !== undefined;
}

export async function findCourseContext(db: Queryable, deploymentRef: string, contextId: string): Promise<CourseContextRow | undefined> {
  return db<CourseContextRow>('course_contexts').where({ deployment_ref: deploymentRef, context_id: contextId }).first();
}

export async function insertCourseContext(db: Queryable, row: Omit<CourseContextRow, 'id' | 'created_at' | 'updated_at' | 'nrps_synced_at'>, now: Date): Promise<CourseContextRow> {
  const [created] = await db<CourseContextRow>('course_contexts')
    .insert({ ...row, nrps: row.nrps === null ? null : (JSON.stringify(row.nrps) as never), created_at: now, updated_at: now })
    .returning('*');
  return created as CourseContextRow;
}

export async function updateCourseContext(db: Queryable, id: string, changes: Partial<CourseContextRow>, now: Date): Promise<void> {
  const patch: Record<string, unknown> = { ...changes, updated_at: now };
  if (changes.nrps !== undefined) patch['nrps'] = changes.nrps === null ? null : JSON.stringify(changes.nrps);
  await db('course_contexts').where({ id }).update(patch);
}

/**
 * Enrolls (or re-enrolls) a launched user with the role of this launch. Enrollments an
 * administrator made by hand keep their role: the LMS does not overrule Cairn's own decisions.
 */
export async function upsertLtiEnrollment(db: Queryable, row: { tenant_id: string; course_id: string; user_id: string; role: EnrollmentRole }, now: Date): Promise<void> {
  await db.raw(
    `insert into enrollments (tenant_id, course_id, user_id, role, status, source, created_at, updated_at)
     values (?, ?, ?, ?, 'active', 'lti', ?, ?)
     on conflict (course_id, user_id) do update
       set role = excluded.role, status = 'active', updated_at = excluded.updated_at
       where enrollments.source = 'lti' and (enrollments.role <> excluded.role or enrollments.status <> 'active')`,
    [row.tenant_id, row.course_id, row.user_id, row.role, now, now],
  );
}

/** A context with its course, in one query (every launch with a context reads both). */
export async function findCourseContextWithCourse(db: Queryable, deploymentRef: string, contextId: string): Promise<{ context: CourseContextRow; course: CourseRow } | undefined> {
  const row = (await db('course_contexts as x')
    .join('courses as c', 'c.id', 'x.course_id')
    .where({ 'x.deployment_ref': deploymentRef, 'x.context_id': contextId })
    .first(db.raw('row_to_json(x.*) as context'), db.raw('row_to_json(c.*) as course'))) as { context: CourseContextRow; course: CourseRow } | undefined;
  if (!row) return undefined;
  const dates = (o: Record<string, unknown>, fields: string[]) => { for (const f of fields) if (typeof o[f] === 'string') o[f] = new Date(o[f] as string); return o; };
  return {
    context: dates({ ...row.context }, ['created_at', 'updated_at', 'nrps_synced_at']) as unknown as CourseContextRow,
    course: dates({ ...row.course }, ['created_at', 'updated_at', 'starts_at', 'ends_at']) as unknown as CourseRow,
  };
}

export async function upsertResourceLink(db: Queryable, row: Omit<ResourceLinkRow, 'id' | 'created_at' | 'updated_at' | 'course_item_id' | 'line_item_url'>, now: Date): Promise<ResourceLinkRow> {
  const result = await db.raw(
    `insert into lti_resource_links (tenant_id, deployment_ref, course_context_id, course_id, resource_link_id, title, description, custom, ags, created_at, updated_at, last_launch_at)
     values (?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?, ?, ?)
     on conflict (deployment_ref, resource_link_id) do update
       set course_context_id = excluded.course_context_id, course_id = excluded.course_id, title = excluded.title,
           description = excluded.description, custom = excluded.custom, ags = excluded.ags,
           updated_at = excluded.updated_at, last_launch_at = excluded.last_launch_at
     returning *`,
    [row.tenant_id, row.deployment_ref, row.course_context_id, row.course_id, row.resource_link_id, row.title, row.description,
      JSON.stringify(row.custom), row.ags === null ? null : JSON.stringify(row.ags), now, now, row.last_launch_at],
  );
  return (result as { rows: ResourceLinkRow[] }).rows[0]!;
}

export async function findResourceLinkById(db: Queryable, deploymentRef: string, resourceLinkId: string): Promise<ResourceLinkRow | undefined> {
  return db<ResourceLinkRow>('lti_resource_links').where({ deployment_ref: deploymentRef, resource_link_id: resourceLinkId }).first();
}

export async function setResourceLinkItem(db: Queryable, id: string, courseItemId: string | null, now: Date): Promise<ResourceLinkRow | undefined> {
  const [row] = await db<ResourceLinkRow>('lti_resource_links').where({ id }).update({ course_item_id: courseItemId, updated_at: now }).returning('*');
  return row as ResourceLinkRow | undefined;
}

/** A tenant's resource links, oldest first; `linked` false keeps the ones no item is connected to. */
export async function listResourceLinks(db: Queryable, filter: { tenantId: string; courseId?: string | undefined; linked?: boolean | undefined; limit: number; cursor?: string | undefined }) {
  const query = db<ResourceLinkRow>('lti_resource_links').where({ tenant_id: filter.tenantId });
  if (filter.courseId) void query.where({ course_id: filter.courseId });
  if (filter.linked === true) void query.whereNotNull('course_item_id');
  if (filter.linked === false) void query.whereNull('course_item_id');
  return paginate<ResourceLinkRow>(query, { limit: filter.limit, cursor: filter.cursor, sortColumn: 'created_at', idColumn: 'id' });
}

export async function findResourceLink(db: Queryable, tenantId: string, id: string, options: { forUpdate?: boolean } = {}): Promise<ResourceLinkRow | undefined> {
  const query = db<ResourceLinkRow>('lti_resource_links').where({ tenant_id: tenantId, id });
  if (options.forUpdate) void query.forUpdate();
  return query.first();
}

export async function findItemInTenant(db: Queryable, tenantId: string, itemId: string): Promise<{ id: string; course_id: string; kind: string; title: string; ref_id: string | null; activity_id: string | null; settings: Record<string, unknown> } | undefined> {
  return db('course_items').where({ tenant_id: tenantId, id: itemId }).first('id', 'course_id', 'kind', 'title', 'ref_id', 'activity_id', 'settings');
}

/** A login state with the registration it was issued for: the first read of every launch, in one query. */
export async function findStateWithRegistration(db: Queryable, stateId: string): Promise<{ state: StateRow; registration: Registration } | undefined> {
  const row = (await db('lti_states as s')
    .join('lti_platform_clients as c', 'c.id', 's.platform_client_id')
    .join('lti_platforms as p', 'p.id', 'c.platform_id')
    .where('s.id', stateId)
    .first('s.*', db.raw('row_to_json(c.*) as client_row'), db.raw('row_to_json(p.*) as platform_row'))) as (StateRow & { client_row: ClientRow; platform_row: PlatformRow }) | undefined;
  if (!row) return undefined;
  const { client_row: client, platform_row: platform, ...state } = row;
  return {
    state,
    registration: {
      platform: { ...platform, created_at: new Date(platform.created_at), updated_at: new Date(platform.updated_at) },
      client: { ...client, created_at: new Date(client.created_at) },
    },
  };
}
