import type { Queryable } from '../../../db/index.js';
import type { EnrollmentRole } from '../../../courses/repository.js';

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
export async function upsertLtiEnrollment(db: Queryable, row: { tenant_id: string; course_id: string; user_id: string; role: EnrollmentRole }, now: Date): Promise<{ id: string; role: EnrollmentRole; source: 'manual' | 'lti' }> {
  const result = await db.raw(
    `insert into enrollments (tenant_id, course_id, user_id, role, status, source, created_at, updated_at)
     values (?, ?, ?, ?, 'active', 'lti', ?, ?)
     on conflict (course_id, user_id) do update
       set role = excluded.role, status = 'active', updated_at = excluded.updated_at
       where enrollments.source = 'lti' and (enrollments.role <> excluded.role or enrollments.status <> 'active')
     returning id, role, source`,
    [row.tenant_id, row.course_id, row.user_id, row.role, now, now],
  );
  const changed = (result as { rows: { id: string; role: EnrollmentRole; source: 'manual' | 'lti' }[] }).rows[0];
  if (changed) return changed;
  return (await db('enrollments').where({ course_id: row.course_id, user_id: row.user_id }).first('id', 'role', 'source'))!;
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

export async function setResourceLinkItem(db: Queryable, id: string, courseItemId: string, now: Date): Promise<void> {
  await db('lti_resource_links').where({ id }).update({ course_item_id: courseItemId, updated_at: now });
}

export async function findResourceLink(db: Queryable, tenantId: string, id: string): Promise<ResourceLinkRow | undefined> {
  return db<ResourceLinkRow>('lti_resource_links').where({ tenant_id: tenantId, id }).first();
}

export async function findItemInTenant(db: Queryable, tenantId: string, itemId: string): Promise<{ id: string; course_id: string; kind: string; title: string; ref_id: string | null; activity_id: string | null; settings: Record<string, unknown> } | undefined> {
  return db('course_items').where({ tenant_id: tenantId, id: itemId }).first('id', 'course_id', 'kind', 'title', 'ref_id', 'activity_id', 'settings');
}
