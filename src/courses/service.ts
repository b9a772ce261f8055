import type { Queryable } from '../db/index.js';
import { AppError, notFound } from '../errors/index.js';
import { isTenantAdmin, type Principal } from '../auth/principal.js';
import * as repo from './repository.js';
import { findPackage } from '../scorm/packages/repository.js';

export type CourseCapability = 'view' | 'grade' | 'manage';

export interface CourseAccess {
  readonly course: repo.CourseRow;
  readonly enrollment: repo.EnrollmentRow | undefined;
  readonly canGrade: boolean;
  readonly canManage: boolean;
}

/**
 * What the caller may do in one course. Admins manage every course of their tenant;
 * instructors manage the courses they teach; teaching assistants grade; learners and
 * observers view. A course the caller has no part in is "not found", so its existence
 * does not leak across enrollments (or tenants).
 */
export async function courseAccess(db: Queryable, principal: Principal, courseId: string, need: CourseCapability): Promise<CourseAccess> {
  const course = await repo.findCourse(db, principal.tenantId, courseId);
  if (!course) throw notFound('Course');
  const admin = isTenantAdmin(principal);
  const enrollment = admin ? undefined : await repo.findEnrollmentOf(db, courseId, principal.userId);
  const active = enrollment?.status === 'active';
  if (!admin && !active) throw notFound('Course');
  const canManage = admin || (active && enrollment.role === 'instructor');
  const canGrade = canManage || (active && enrollment.role === 'teaching_assistant');
  if (need === 'manage' && !canManage) throw new AppError('forbidden', 'Only the course\'s instructors and admins may change it.');
  if (need === 'grade' && !canGrade) throw new AppError('forbidden', 'Only the course\'s instructors, teaching assistants and admins may do this.');
  return { course, enrollment, canGrade, canManage };
}

/** Instructors (tenant role) and admins create courses; an instructor becomes its first teacher. */
export async function createCourse(db: Queryable, principal: Principal, input: { code?: string | undefined; title: string; description?: string | undefined; status?: 'active' | 'archived' | undefined; starts_at?: string | undefined; ends_at?: string | undefined }, now: Date): Promise<repo.CourseRow> {
  if (input.code && (await repo.findCourseByCode(db, principal.tenantId, input.code))) {
    throw new AppError('conflict', 'A course with this code already exists in this tenant.', { errors: [{ pointer: '/body/code', message: 'is taken' }] });
  }
  assertDateOrder(input.starts_at, input.ends_at);
  const course = await repo.insertCourse(db, {
    tenant_id: principal.tenantId,
    code: input.code ?? null,
    title: input.title,
    description: input.description ?? '',
    status: input.status ?? 'active',
    starts_at: input.starts_at ? new Date(input.starts_at) : null,
    ends_at: input.ends_at ? new Date(input.ends_at) : null,
  }, now);
  if (!isTenantAdmin(principal)) {
    await repo.insertEnrollment(db, { tenant_id: principal.tenantId, course_id: course.id, user_id: principal.userId, role: 'instructor', status: 'active', source: 'manual' }, now);
  }
  return course;
}

export function assertDateOrder(start: string | null | undefined, end: string | null | undefined, startField = 'starts_at', endField = 'ends_at'): void {
  if (start && end && new Date(end) < new Date(start)) {
    throw new AppError('validation_failed', `${endField} must not be before ${startField}.`, { errors: [{ pointer: `/body/${endField}`, message: `must not be before ${startField}` }] });
  }
}

/** IRIs for xAPI activities must be absolute (scheme present), as the xAPI spec requires. */
export function assertActivityIri(kind: repo.CourseItemKind, activityId: string | null | undefined): void {
  if (kind !== 'xapi_activity') {
    if (activityId) throw new AppError('validation_failed', 'activity_id applies only to xapi_activity items.', { errors: [{ pointer: '/body/activity_id', message: 'applies only to xapi_activity items' }] });
    return;
  }
  if (!activityId || !/^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$/.test(activityId)) {
    throw new AppError('validation_failed', 'xapi_activity items need activity_id, an absolute IRI.', { errors: [{ pointer: '/body/activity_id', message: 'must be an absolute IRI' }] });
  }
}

/** A SCORM item must point at one of the tenant's packages (another tenant's id is "not a package"). */
export async function assertItemTarget(db: Queryable, tenantId: string, kind: repo.CourseItemKind, refId: string | null | undefined): Promise<void> {
  if (kind !== 'scorm' || !refId) return;
  if (!(await findPackage(db, tenantId, refId))) {
    throw new AppError('validation_failed', 'ref_id is not a SCORM package of this tenant.', { errors: [{ pointer: '/body/ref_id', message: 'is not a SCORM package of this tenant' }] });
  }
}
