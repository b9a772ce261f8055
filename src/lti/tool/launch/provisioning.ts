import { createHash } from 'node:crypto';
import type { Queryable } from '../../../db/index.js';
import { insertUser, updateUser } from '../../../users/repository.js';
import { findCourseItem, insertCourse, insertCourseItem, nextItemPosition, updateCourse, type CourseItemRow, type CourseRow } from '../../../courses/repository.js';
import { latestReadyVersion } from '../../../scorm/packages/repository.js';
import type { LtiMessage } from '../../core/claims.js';
import { courseRoleFor, type CourseRole } from '../../core/roles.js';
import { LtiError } from '../../core/errors.js';
import { touchIntervalMs, type DeploymentRow } from '../registrations/repository.js';
import * as repo from './repository.js';

export interface ProvisionedUser {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  readonly role: 'admin' | 'instructor' | 'learner';
  readonly created: boolean;
}

export interface Provisioned {
  readonly user: ProvisionedUser;
  readonly courseRole: CourseRole;
  readonly course: CourseRow | undefined;
  readonly context: repo.CourseContextRow | undefined;
  readonly resourceLink: repo.ResourceLinkRow | undefined;
  readonly item: CourseItemRow | undefined;
}

/** Custom parameters a link may carry to name what it opens (set by Cairn's deep-linking responses). */
export const customItemParameter = 'cairn_item_id';
export const customPackageParameter = 'cairn_package_id';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Turns a validated launch into Cairn records, in the caller's transaction: the user (by
 * iss + sub), the course (by deployment + context id), the enrollment with the launch's role,
 * and the resource link with the course item it opens.
 */
export async function provision(db: Queryable, input: { tenantId: string; deployment: DeploymentRow; message: LtiMessage; now: Date }): Promise<Provisioned> {
  const { tenantId, deployment, message, now } = input;
  const courseRole = courseRoleFor(message.roles);
  const user = await provisionUser(db, tenantId, message, courseRole, now);

  let course: CourseRow | undefined;
  let context: repo.CourseContextRow | undefined;
  if (message.context) {
    ({ course, context } = await provisionCourse(db, tenantId, deployment, message, now));
    await repo.upsertLtiEnrollment(db, { tenant_id: tenantId, course_id: course.id, user_id: user.id, role: courseRole }, now);
  }

  let resourceLink: repo.ResourceLinkRow | undefined;
  let item: CourseItemRow | undefined;
  if (message.resourceLink) {
    const fields = {
      tenant_id: tenantId, deployment_ref: deployment.id, course_context_id: context?.id ?? null, course_id: course?.id ?? null,
      resource_link_id: message.resourceLink.id, title: message.resourceLink.title ?? null, description: message.resourceLink.description ?? null,
      custom: message.custom,
      ags: message.agsEndpoint ? { ...message.agsEndpoint } : null,
      last_launch_at: now,
    };
    // A whole class launches the same link: read first, and write only what changed (or a
    // stale last-launch time), so launches do not queue behind the link's row lock.
    const existing = await repo.findResourceLinkById(db, deployment.id, message.resourceLink.id);
    resourceLink = existing && !resourceLinkChanged(existing, fields, now) ? existing : await repo.upsertResourceLink(db, fields, now);
    if (course) item = await resolveItem(db, tenantId, course, resourceLink, message, now);
  }
  return { user, courseRole, course, context, resourceLink, item };
}

async function provisionUser(db: Queryable, tenantId: string, message: LtiMessage, courseRole: CourseRole, now: Date): Promise<ProvisionedUser> {
  const subject = message.subject!;
  const displayName = message.name ?? ([message.givenName, message.familyName].filter(Boolean).join(' ') || undefined);
  const claims = { name: message.name ?? null, given_name: message.givenName ?? null, family_name: message.familyName ?? null, email: message.email?.toLowerCase() ?? null };

  let found = await repo.findIdentity(db, tenantId, message.issuer, subject);
  if (!found) {
    await repo.lockKey(db, `user:${tenantId}:${message.issuer}:${subject}`);
    found = await repo.findIdentity(db, tenantId, message.issuer, subject);
  }
  if (found) {
    if (found.user_status !== 'active') throw new LtiError('account_suspended');
    const changed = claims.name !== found.name || claims.given_name !== found.given_name || claims.family_name !== found.family_name || claims.email !== found.email;
    const stale = !found.last_launch_at || now.getTime() - found.last_launch_at.getTime() >= touchIntervalMs;
    if (changed || stale) await repo.updateIdentity(db, found.id, { ...(changed ? claims : {}), last_launch_at: now }, now);
    let name = found.user_name;
    let role = found.user_role;
    const userChanges: { name?: string; role?: 'instructor' } = {};
    if (displayName && displayName !== found.user_name) userChanges.name = name = displayName;
    // A learner who now teaches gets the instructor's tenant role; nobody is demoted or made admin by a launch.
    if (role === 'learner' && (courseRole === 'instructor' || courseRole === 'teaching_assistant')) userChanges.role = role = 'instructor';
    if (Object.keys(userChanges).length > 0) await updateUser(db, tenantId, found.user_id, userChanges, now);
    return { id: found.user_id, email: found.user_email, name, role, created: false };
  }

  // The platform's email is used when no Cairn user has it yet. A launch never links to an
  // existing account by email: an LMS administrator could otherwise take over a Cairn admin.
  const email = claims.email && !(await repo.emailTaken(db, tenantId, claims.email)) ? claims.email : placeholderEmail(message.issuer, subject);
  const role = courseRole === 'instructor' || courseRole === 'teaching_assistant' ? 'instructor' : 'learner';
  const created = await insertUser(db, { tenant_id: tenantId, email, name: displayName ?? '', role, password_hash: null }, now);
  await repo.insertIdentity(db, { tenant_id: tenantId, user_id: created.id, issuer: message.issuer, subject, ...claims, last_launch_at: now }, now);
  return { id: created.id, email: created.email, name: created.name, role, created: true };
}

/** JSON with object keys sorted: PostgreSQL's jsonb does not keep the order they were written in. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v));
}

function resourceLinkChanged(row: repo.ResourceLinkRow, next: Omit<repo.ResourceLinkRow, 'id' | 'created_at' | 'updated_at' | 'course_item_id' | 'line_item_url'>, now: Date): boolean {
  return row.course_context_id !== next.course_context_id || row.course_id !== next.course_id || row.title !== next.title
    || row.description !== next.description || stableJson(row.custom) !== stableJson(next.custom) || stableJson(row.ags) !== stableJson(next.ags)
    || !row.last_launch_at || now.getTime() - row.last_launch_at.getTime() >= touchIntervalMs;
}

/** users.email is required and unique per tenant; LTI users without a usable one get a reserved-domain address. */
export function placeholderEmail(issuer: string, subject: string): string {
  return `lti-${createHash('sha256').update(`${issuer}\n${subject}`).digest('hex').slice(0, 24)}@lti.invalid`;
}

async function provisionCourse(db: Queryable, tenantId: string, deployment: DeploymentRow, message: LtiMessage, now: Date): Promise<{ course: CourseRow; context: repo.CourseContextRow }> {
  const ctx = message.context!;
  const title = ctx.title ?? ctx.label ?? 'Course';
  const fields = { title: ctx.title ?? null, label: ctx.label ?? null, types: [...(ctx.type ?? [])], nrps: message.nrps ? { ...message.nrps } : null };
  let found = await repo.findCourseContextWithCourse(db, deployment.id, ctx.id);
  if (!found) {
    await repo.lockKey(db, `context:${deployment.id}:${ctx.id}`);
    found = await repo.findCourseContextWithCourse(db, deployment.id, ctx.id);
  }
  if (!found) {
    const course = await insertCourse(db, { tenant_id: tenantId, code: null, title, description: '', status: 'active', starts_at: null, ends_at: null }, now);
    const context = await repo.insertCourseContext(db, { tenant_id: tenantId, course_id: course.id, deployment_ref: deployment.id, context_id: ctx.id, ...fields }, now);
    return { course, context };
  }
  let { context, course } = found;
  const changed = fields.title !== context.title || fields.label !== context.label || stableJson(fields.types) !== stableJson(context.types) || stableJson(fields.nrps) !== stableJson(context.nrps);
  if (changed) {
    await repo.updateCourseContext(db, context.id, fields, now);
    // The LMS renamed the course: follow, unless someone renamed it in Cairn.
    const previousTitle = context.title ?? context.label ?? 'Course';
    if (course.title === previousTitle && title !== previousTitle) course = (await updateCourse(db, tenantId, course.id, { title }, now))!;
    context = { ...context, ...fields };
  }
  return { course, context };
}

/**
 * The course item a resource link opens: the one it is linked to; else the item or package
 * its custom parameters name (a deep-linked link seen for the first time, or a course copied in
 * the LMS, whose links point at items of the original course: the item is copied alongside).
 */
async function resolveItem(db: Queryable, tenantId: string, course: CourseRow, link: repo.ResourceLinkRow, message: LtiMessage, now: Date): Promise<CourseItemRow | undefined> {
  if (link.course_item_id) {
    const linked = await findCourseItem(db, course.id, link.course_item_id);
    if (linked) return linked;
  }
  let item: CourseItemRow | undefined;
  const itemRef = message.custom[customItemParameter];
  const packageRef = message.custom[customPackageParameter];
  if (itemRef && uuidPattern.test(itemRef)) {
    const source = await repo.findItemInTenant(db, tenantId, itemRef);
    if (source && source.course_id === course.id) item = await findCourseItem(db, course.id, source.id);
    else if (source) {
      item = await insertCourseItem(db, {
        tenant_id: tenantId, course_id: course.id, kind: source.kind as CourseItemRow['kind'], title: source.title, position: await nextItemPosition(db, course.id),
        ref_id: source.ref_id, activity_id: source.activity_id, settings: source.settings, published: true,
      }, now);
    }
  } else if (packageRef && uuidPattern.test(packageRef)) {
    const pkg = await latestReadyVersion(db, tenantId, packageRef);
    if (pkg) {
      item = await insertCourseItem(db, {
        tenant_id: tenantId, course_id: course.id, kind: 'scorm', title: message.resourceLink?.title ?? pkg.title, position: await nextItemPosition(db, course.id),
        ref_id: pkg.lineage_id, activity_id: null, settings: {}, published: true,
      }, now);
    }
  }
  if (item) await repo.setResourceLinkItem(db, link.id, item.id, now);
  return item;
}
