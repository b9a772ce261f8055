import { Type } from 'typebox';
import { defineEndpoint, type AnyEndpoint } from '../http/endpoint.js';
import { Uuid } from '../http/schemas.js';
import { paginationQuery, pageSchema } from '../db/pagination.js';
import { AppError, notFound } from '../errors/index.js';
import { isTenantAdmin } from '../auth/principal.js';
import { findUser } from '../users/repository.js';
import * as repo from './repository.js';
import { assertActivityIri, assertDateOrder, assertItemTarget, courseAccess, createCourse } from './service.js';
import {
  Course, CourseItem, CourseItemKindSchema, CourseStatus, CreateCourseBody, CreateCourseItemBody, Enrollment, EnrollmentRoleSchema,
  EnrollmentStatus, UpdateCourseBody, UpdateCourseItemBody, courseItemView, courseView, enrollmentView,
} from './schemas.js';

const CourseParams = Type.Object({ courseId: Uuid() });
const EnrollmentParams = Type.Object({ courseId: Uuid(), enrollmentId: Uuid() });
const ItemParams = Type.Object({ courseId: Uuid(), itemId: Uuid() });

const courseEndpoints: AnyEndpoint[] = [
  defineEndpoint({
    method: 'get', path: '/courses', operationId: 'listCourses', tags: ['Courses'],
    summary: 'List courses',
    description: 'Admins see every course of the tenant; other users the courses they are actively enrolled in.',
    auth: { scope: 'courses:read' },
    query: Type.Object({
      ...paginationQuery,
      status: Type.Optional(CourseStatus),
      code: Type.Optional(Type.String({ maxLength: 100 })),
      q: Type.Optional(Type.String({ maxLength: 200, description: 'Substring of title or code' })),
    }, { additionalProperties: false }),
    responses: { 200: { description: 'A page of courses', schema: pageSchema(Course) } },
    async handler({ deps, principal, query }) {
      const page = await repo.listCourses(deps.db, {
        tenantId: principal.tenantId,
        enrolledUserId: isTenantAdmin(principal) ? undefined : principal.userId,
        ...query,
        limit: query.limit ?? 50,
      });
      return { data: page.rows.map(courseView), next_cursor: page.nextCursor };
    },
  }),

  defineEndpoint({
    method: 'post', path: '/courses', operationId: 'createCourse', tags: ['Courses'],
    summary: 'Create a course',
    description: 'Admins and instructors. An instructor who creates a course is enrolled in it as instructor.',
    auth: { scope: 'courses:write', roles: ['admin', 'instructor'] },
    body: CreateCourseBody,
    responses: { 201: { description: 'Created', schema: Course } },
    async handler({ deps, db, principal, body, audit, reply }) {
      const course = await createCourse(db, principal, body, deps.clock.now());
      audit({ action: 'course.create', targetType: 'course', targetId: course.id, details: { title: course.title, code: course.code } });
      reply.header('Location', `/api/v1/courses/${course.id}`);
      return courseView(course);
    },
  }),

  defineEndpoint({
    method: 'get', path: '/courses/:courseId', operationId: 'getCourse', tags: ['Courses'],
    summary: 'Get a course',
    auth: { scope: 'courses:read' },
    params: CourseParams,
    responses: { 200: { description: 'The course', schema: Course } },
    async handler({ deps, principal, params }) {
      const { course } = await courseAccess(deps.db, principal, params.courseId, 'view');
      return courseView(course);
    },
  }),

  defineEndpoint({
    method: 'patch', path: '/courses/:courseId', operationId: 'updateCourse', tags: ['Courses'],
    summary: 'Update a course',
    auth: { scope: 'courses:write' },
    params: CourseParams,
    body: UpdateCourseBody,
    responses: { 200: { description: 'Updated', schema: Course } },
    async handler({ deps, db, principal, params, body, audit }) {
      const { course } = await courseAccess(db, principal, params.courseId, 'manage');
      if (body.code && body.code !== course.code && (await repo.findCourseByCode(db, principal.tenantId, body.code))) {
        throw new AppError('conflict', 'A course with this code already exists in this tenant.', { errors: [{ pointer: '/body/code', message: 'is taken' }] });
      }
      const startsAt = body.starts_at === undefined ? course.starts_at?.toISOString() : body.starts_at;
      const endsAt = body.ends_at === undefined ? course.ends_at?.toISOString() : body.ends_at;
      assertDateOrder(startsAt, endsAt);
      const { starts_at, ends_at, ...rest } = body;
      const updated = await repo.updateCourse(db, principal.tenantId, course.id, {
        ...rest,
        ...(starts_at !== undefined ? { starts_at: starts_at ? new Date(starts_at) : null } : {}),
        ...(ends_at !== undefined ? { ends_at: ends_at ? new Date(ends_at) : null } : {}),
      }, deps.clock.now());
      audit({ action: 'course.update', targetType: 'course', targetId: course.id, details: { changed: Object.keys(body) } });
      return courseView(updated!);
    },
  }),

  defineEndpoint({
    method: 'delete', path: '/courses/:courseId', operationId: 'deleteCourse', tags: ['Courses'],
    summary: 'Delete a course with its enrollments, items and gradebook',
    auth: { scope: 'courses:write', roles: ['admin'] },
    params: CourseParams,
    responses: { 204: { description: 'Deleted' } },
    async handler({ db, principal, params, audit }) {
      const course = await repo.findCourse(db, principal.tenantId, params.courseId);
      if (!course) throw notFound('Course');
      await repo.deleteCourse(db, principal.tenantId, course.id);
      audit({ action: 'course.delete', targetType: 'course', targetId: course.id, details: { title: course.title } });
      return undefined;
    },
  }),
];

const enrollmentEndpoints: AnyEndpoint[] = [
  defineEndpoint({
    method: 'get', path: '/courses/:courseId/enrollments', operationId: 'listEnrollments', tags: ['Enrollments'],
    summary: 'List a course\'s enrollments',
    description: 'Instructors, teaching assistants and admins.',
    auth: { scope: 'courses:read' },
    params: CourseParams,
    query: Type.Object({ ...paginationQuery, role: Type.Optional(EnrollmentRoleSchema), status: Type.Optional(EnrollmentStatus) }, { additionalProperties: false }),
    responses: { 200: { description: 'A page of enrollments', schema: pageSchema(Enrollment) } },
    async handler({ deps, principal, params, query }) {
      await courseAccess(deps.db, principal, params.courseId, 'grade');
      const page = await repo.listEnrollments(deps.db, { courseId: params.courseId, role: query.role, status: query.status, limit: query.limit ?? 50, cursor: query.cursor });
      return { data: page.rows.map(enrollmentView), next_cursor: page.nextCursor };
    },
  }),

  defineEndpoint({
    method: 'post', path: '/courses/:courseId/enrollments', operationId: 'createEnrollment', tags: ['Enrollments'],
    summary: 'Enroll a user of the tenant in a course',
    auth: { scope: 'courses:write' },
    params: CourseParams,
    body: Type.Object({ user_id: Uuid(), role: EnrollmentRoleSchema, status: Type.Optional(EnrollmentStatus) }, { additionalProperties: false }),
    responses: { 201: { description: 'Enrolled', schema: Enrollment } },
    async handler({ deps, db, principal, params, body, audit }) {
      await courseAccess(db, principal, params.courseId, 'manage');
      const user = await findUser(db, principal.tenantId, body.user_id);
      if (!user) throw new AppError('validation_failed', 'No such user in this tenant.', { errors: [{ pointer: '/body/user_id', message: 'is not a user of this tenant' }] });
      if (await repo.findEnrollmentOf(db, params.courseId, user.id)) throw new AppError('conflict', 'This user is already enrolled in this course.');
      const row = await repo.insertEnrollment(db, {
        tenant_id: principal.tenantId, course_id: params.courseId, user_id: user.id, role: body.role, status: body.status ?? 'active', source: 'manual',
      }, deps.clock.now());
      audit({ action: 'enrollment.create', targetType: 'enrollment', targetId: row.id, details: { course_id: params.courseId, user_id: user.id, role: row.role } });
      return enrollmentView({ ...row, user_email: user.email, user_name: user.name });
    },
  }),

  defineEndpoint({
    method: 'patch', path: '/courses/:courseId/enrollments/:enrollmentId', operationId: 'updateEnrollment', tags: ['Enrollments'],
    summary: 'Change an enrollment\'s role or status',
    auth: { scope: 'courses:write' },
    params: EnrollmentParams,
    body: Type.Object({ role: Type.Optional(EnrollmentRoleSchema), status: Type.Optional(EnrollmentStatus) }, { additionalProperties: false, minProperties: 1 }),
    responses: { 200: { description: 'Updated', schema: Enrollment } },
    async handler({ deps, db, principal, params, body, audit }) {
      await courseAccess(db, principal, params.courseId, 'manage');
      const row = await repo.updateEnrollment(db, params.courseId, params.enrollmentId, body, deps.clock.now());
      if (!row) throw notFound('Enrollment');
      const user = await findUser(db, principal.tenantId, row.user_id);
      audit({ action: 'enrollment.update', targetType: 'enrollment', targetId: row.id, details: { course_id: params.courseId, ...body } });
      return enrollmentView({ ...row, user_email: user?.email ?? '', user_name: user?.name ?? '' });
    },
  }),

  defineEndpoint({
    method: 'delete', path: '/courses/:courseId/enrollments/:enrollmentId', operationId: 'deleteEnrollment', tags: ['Enrollments'],
    summary: 'Remove an enrollment',
    auth: { scope: 'courses:write' },
    params: EnrollmentParams,
    responses: { 204: { description: 'Removed' } },
    async handler({ db, principal, params, audit }) {
      await courseAccess(db, principal, params.courseId, 'manage');
      const row = await repo.findEnrollment(db, params.courseId, params.enrollmentId);
      if (!row) throw notFound('Enrollment');
      await repo.deleteEnrollment(db, params.courseId, row.id);
      audit({ action: 'enrollment.delete', targetType: 'enrollment', targetId: row.id, details: { course_id: params.courseId, user_id: row.user_id } });
      return undefined;
    },
  }),
];

const itemEndpoints: AnyEndpoint[] = [
  defineEndpoint({
    method: 'get', path: '/courses/:courseId/items', operationId: 'listCourseItems', tags: ['Course items'],
    summary: 'List a course\'s items in order',
    description: 'Learners and observers see published items only.',
    auth: { scope: 'courses:read' },
    params: CourseParams,
    query: Type.Object({ ...paginationQuery, kind: Type.Optional(CourseItemKindSchema) }, { additionalProperties: false }),
    responses: { 200: { description: 'A page of items', schema: pageSchema(CourseItem) } },
    async handler({ deps, principal, params, query }) {
      const access = await courseAccess(deps.db, principal, params.courseId, 'view');
      const page = await repo.listCourseItems(deps.db, { courseId: params.courseId, kind: query.kind, publishedOnly: !access.canGrade, limit: query.limit ?? 50, cursor: query.cursor });
      return { data: page.rows.map(courseItemView), next_cursor: page.nextCursor };
    },
  }),

  defineEndpoint({
    method: 'post', path: '/courses/:courseId/items', operationId: 'createCourseItem', tags: ['Course items'],
    summary: 'Add an item (SCORM package, LTI tool or xAPI activity) to a course',
    auth: { scope: 'courses:write' },
    params: CourseParams,
    body: CreateCourseItemBody,
    responses: { 201: { description: 'Created', schema: CourseItem } },
    async handler({ deps, db, principal, params, body, audit }) {
      await courseAccess(db, principal, params.courseId, 'manage');
      assertActivityIri(body.kind, body.activity_id);
      await assertItemTarget(db, principal.tenantId, body.kind, body.ref_id);
      const row = await repo.insertCourseItem(db, {
        tenant_id: principal.tenantId,
        course_id: params.courseId,
        kind: body.kind,
        title: body.title,
        position: body.position ?? (await repo.nextItemPosition(db, params.courseId)),
        ref_id: body.ref_id ?? null,
        activity_id: body.activity_id ?? null,
        settings: body.settings ?? {},
        published: body.published ?? true,
      }, deps.clock.now());
      audit({ action: 'course_item.create', targetType: 'course_item', targetId: row.id, details: { course_id: params.courseId, kind: row.kind, title: row.title } });
      return courseItemView(row);
    },
  }),

  defineEndpoint({
    method: 'get', path: '/courses/:courseId/items/:itemId', operationId: 'getCourseItem', tags: ['Course items'],
    summary: 'Get a course item',
    auth: { scope: 'courses:read' },
    params: ItemParams,
    responses: { 200: { description: 'The item', schema: CourseItem } },
    async handler({ deps, principal, params }) {
      const access = await courseAccess(deps.db, principal, params.courseId, 'view');
      const row = await repo.findCourseItem(deps.db, params.courseId, params.itemId);
      if (!row || (!row.published && !access.canGrade)) throw notFound('Course item');
      return courseItemView(row);
    },
  }),

  defineEndpoint({
    method: 'patch', path: '/courses/:courseId/items/:itemId', operationId: 'updateCourseItem', tags: ['Course items'],
    summary: 'Update a course item',
    auth: { scope: 'courses:write' },
    params: ItemParams,
    body: UpdateCourseItemBody,
    responses: { 200: { description: 'Updated', schema: CourseItem } },
    async handler({ deps, db, principal, params, body, audit }) {
      await courseAccess(db, principal, params.courseId, 'manage');
      const existing = await repo.findCourseItem(db, params.courseId, params.itemId);
      if (!existing) throw notFound('Course item');
      if (body.activity_id !== undefined) assertActivityIri(existing.kind, body.activity_id);
      if (body.ref_id !== undefined) await assertItemTarget(db, principal.tenantId, existing.kind, body.ref_id);
      const row = await repo.updateCourseItem(db, params.courseId, params.itemId, body as Partial<repo.CourseItemRow>, deps.clock.now());
      audit({ action: 'course_item.update', targetType: 'course_item', targetId: params.itemId, details: { course_id: params.courseId, changed: Object.keys(body) } });
      return courseItemView(row!);
    },
  }),

  defineEndpoint({
    method: 'delete', path: '/courses/:courseId/items/:itemId', operationId: 'deleteCourseItem', tags: ['Course items'],
    summary: 'Remove a course item',
    description: 'Its line item stays in the gradebook, detached, so recorded scores are not lost.',
    auth: { scope: 'courses:write' },
    params: ItemParams,
    responses: { 204: { description: 'Removed' } },
    async handler({ db, principal, params, audit }) {
      await courseAccess(db, principal, params.courseId, 'manage');
      if (!(await repo.deleteCourseItem(db, params.courseId, params.itemId))) throw notFound('Course item');
      audit({ action: 'course_item.delete', targetType: 'course_item', targetId: params.itemId, details: { course_id: params.courseId } });
      return undefined;
    },
  }),
];

export const coursesEndpoints: AnyEndpoint[] = [...courseEndpoints, ...enrollmentEndpoints, ...itemEndpoints];
