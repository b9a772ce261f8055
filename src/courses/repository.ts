import type { Queryable } from '../db/index.js';
import { paginate } from '../db/pagination.js';

export type EnrollmentRole = 'instructor' | 'teaching_assistant' | 'learner' | 'observer';
export type CourseItemKind = 'scorm' | 'lti_tool' | 'xapi_activity';

export interface CourseRow {
  id: string;
  tenant_id: string;
  code: string | null;
  title: string;
  description: string;
  status: 'active' | 'archived';
  starts_at: Date | null;
  ends_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface EnrollmentRow {
  id: string;
  tenant_id: string;
  course_id: string;
  user_id: string;
  role: EnrollmentRole;
  status: 'active' | 'inactive';
  source: 'manual' | 'lti';
  created_at: Date;
  updated_at: Date;
}

export interface CourseItemRow {
  id: string;
  tenant_id: string;
  course_id: string;
  kind: CourseItemKind;
  title: string;
  position: number;
  ref_id: string | null;
  activity_id: string | null;
  settings: Record<string, unknown>;
  published: boolean;
  created_at: Date;
  updated_at: Date;
}

const escapeLike = (s: string) => s.replace(/[%_\\]/g, '\\$&');

// Courses ---------------------------------------------------------------------------------

export async function insertCourse(db: Queryable, course: Omit<CourseRow, 'id' | 'created_at' | 'updated_at'>, now: Date): Promise<CourseRow> {
  const [row] = await db<CourseRow>('courses').insert({ ...course, created_at: now, updated_at: now }).returning('*');
  return row as CourseRow;
}

export async function findCourse(db: Queryable, tenantId: string, id: string): Promise<CourseRow | undefined> {
  return db<CourseRow>('courses').where({ tenant_id: tenantId, id }).first();
}

export async function findCourseByCode(db: Queryable, tenantId: string, code: string): Promise<CourseRow | undefined> {
  return db<CourseRow>('courses').where({ tenant_id: tenantId, code }).first();
}

export interface CourseFilter {
  readonly tenantId: string;
  /** Restrict to courses this user is actively enrolled in (non-admins). */
  readonly enrolledUserId?: string | undefined;
  readonly status?: 'active' | 'archived' | undefined;
  readonly code?: string | undefined;
  readonly q?: string | undefined;
  readonly limit: number;
  readonly cursor?: string | undefined;
}

export async function listCourses(db: Queryable, filter: CourseFilter) {
  const query = db<CourseRow>('courses as c').where('c.tenant_id', filter.tenantId).select('c.*');
  if (filter.enrolledUserId) {
    query.whereExists((q) => q.select(db.raw('1')).from('enrollments as e').whereRaw('e.course_id = c.id').where({ 'e.user_id': filter.enrolledUserId, 'e.status': 'active' }));
  }
  if (filter.status) query.where('c.status', filter.status);
  if (filter.code) query.where('c.code', filter.code);
  if (filter.q) {
    const pattern = `%${escapeLike(filter.q)}%`;
    query.where((w) => w.whereILike('c.title', pattern).orWhereILike('c.code', pattern));
  }
  return paginate<CourseRow>(query, { limit: filter.limit, cursor: filter.cursor, sortColumn: 'c.created_at', idColumn: 'c.id' });
}

export async function updateCourse(db: Queryable, tenantId: string, id: string, changes: Partial<CourseRow>, now: Date): Promise<CourseRow | undefined> {
  const [row] = await db<CourseRow>('courses').where({ tenant_id: tenantId, id }).update({ ...changes, updated_at: now }).returning('*');
  return row as CourseRow | undefined;
}

export async function deleteCourse(db: Queryable, tenantId: string, id: string): Promise<boolean> {
  return (await db('courses').where({ tenant_id: tenantId, id }).delete()) > 0;
}

// Enrollments -----------------------------------------------------------------------------

export async function findEnrollmentOf(db: Queryable, courseId: string, userId: string): Promise<EnrollmentRow | undefined> {
  return db<EnrollmentRow>('enrollments').where({ course_id: courseId, user_id: userId }).first();
}

export async function findEnrollment(db: Queryable, courseId: string, id: string): Promise<EnrollmentRow | undefined> {
  return db<EnrollmentRow>('enrollments').where({ course_id: courseId, id }).first();
}

export async function insertEnrollment(db: Queryable, enrollment: Omit<EnrollmentRow, 'id' | 'created_at' | 'updated_at'>, now: Date): Promise<EnrollmentRow> {
  const [row] = await db<EnrollmentRow>('enrollments').insert({ ...enrollment, created_at: now, updated_at: now }).returning('*');
  return row as EnrollmentRow;
}

export async function updateEnrollment(db: Queryable, courseId: string, id: string, changes: Partial<EnrollmentRow>, now: Date): Promise<EnrollmentRow | undefined> {
  const [row] = await db<EnrollmentRow>('enrollments').where({ course_id: courseId, id }).update({ ...changes, updated_at: now }).returning('*');
  return row as EnrollmentRow | undefined;
}

export async function deleteEnrollment(db: Queryable, courseId: string, id: string): Promise<boolean> {
  return (await db('enrollments').where({ course_id: courseId, id }).delete()) > 0;
}

export type EnrollmentWithUser = EnrollmentRow & { user_email: string; user_name: string };

export async function listEnrollments(db: Queryable, filter: { courseId: string; role?: EnrollmentRole | undefined; status?: 'active' | 'inactive' | undefined; limit: number; cursor?: string | undefined }) {
  const query = db('enrollments as e')
    .join('users as u', 'u.id', 'e.user_id')
    .where('e.course_id', filter.courseId)
    .select('e.*', 'u.email as user_email', 'u.name as user_name');
  if (filter.role) query.where('e.role', filter.role);
  if (filter.status) query.where('e.status', filter.status);
  return paginate<EnrollmentWithUser>(query, { limit: filter.limit, cursor: filter.cursor, sortColumn: 'e.created_at', idColumn: 'e.id' });
}

// Course items ----------------------------------------------------------------------------

export async function insertCourseItem(db: Queryable, item: Omit<CourseItemRow, 'id' | 'created_at' | 'updated_at'>, now: Date): Promise<CourseItemRow> {
  const [row] = await db<CourseItemRow>('course_items').insert({ ...item, settings: JSON.stringify(item.settings) as never, created_at: now, updated_at: now }).returning('*');
  return row as CourseItemRow;
}

export async function findCourseItem(db: Queryable, courseId: string, id: string): Promise<CourseItemRow | undefined> {
  return db<CourseItemRow>('course_items').where({ course_id: courseId, id }).first();
}

export async function nextItemPosition(db: Queryable, courseId: string): Promise<number> {
  const row = await db('course_items').where({ course_id: courseId }).max<{ max: number | null }[]>('position as max').first();
  return (row?.max ?? -1) + 1;
}

export async function listCourseItems(db: Queryable, filter: { courseId: string; kind?: CourseItemKind | undefined; publishedOnly: boolean; limit: number; cursor?: string | undefined }) {
  const query = db<CourseItemRow>('course_items').where('course_id', filter.courseId);
  if (filter.kind) query.where('kind', filter.kind);
  if (filter.publishedOnly) query.where('published', true);
  return paginate<CourseItemRow>(query, { limit: filter.limit, cursor: filter.cursor, sortColumn: 'position', idColumn: 'id' });
}

export async function updateCourseItem(db: Queryable, courseId: string, id: string, changes: Partial<CourseItemRow>, now: Date): Promise<CourseItemRow | undefined> {
  const patch: Record<string, unknown> = { ...changes, updated_at: now };
  if (changes.settings) patch['settings'] = JSON.stringify(changes.settings);
  const [row] = await db<CourseItemRow>('course_items').where({ course_id: courseId, id }).update(patch).returning('*');
  return row as CourseItemRow | undefined;
}

export async function deleteCourseItem(db: Queryable, courseId: string, id: string): Promise<boolean> {
  return (await db('course_items').where({ course_id: courseId, id }).delete()) > 0;
}
