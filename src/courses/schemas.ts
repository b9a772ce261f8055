import { Type } from 'typebox';
import { DateTime, NullableDateTime, Uuid, iso } from '../http/schemas.js';
import type { CourseItemRow, CourseRow, EnrollmentRole, EnrollmentWithUser } from './repository.js';

export const CourseStatus = Type.Union([Type.Literal('active'), Type.Literal('archived')]);
export const EnrollmentRoleSchema = Type.Union(
  (['instructor', 'teaching_assistant', 'learner', 'observer'] as const satisfies readonly EnrollmentRole[]).map((r) => Type.Literal(r)),
);
export const EnrollmentStatus = Type.Union([Type.Literal('active'), Type.Literal('inactive')]);
export const CourseItemKindSchema = Type.Union([Type.Literal('scorm'), Type.Literal('lti_tool'), Type.Literal('xapi_activity')]);

export const Course = Type.Object({
  id: Uuid(),
  code: Type.Union([Type.String(), Type.Null()]),
  title: Type.String(),
  description: Type.String(),
  status: CourseStatus,
  starts_at: NullableDateTime(),
  ends_at: NullableDateTime(),
  created_at: DateTime(),
  updated_at: DateTime(),
});

export function courseView(row: CourseRow) {
  return {
    id: row.id, code: row.code, title: row.title, description: row.description, status: row.status,
    starts_at: iso(row.starts_at), ends_at: iso(row.ends_at),
    created_at: row.created_at.toISOString(), updated_at: row.updated_at.toISOString(),
  };
}

const courseFields = {
  code: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 100 }), Type.Null()], { description: 'Unique within the tenant when set (e.g. the SIS id)' })),
  title: Type.String({ minLength: 1, maxLength: 300 }),
  description: Type.Optional(Type.String({ maxLength: 10_000 })),
  status: Type.Optional(CourseStatus),
  starts_at: Type.Optional(Type.Union([DateTime(), Type.Null()])),
  ends_at: Type.Optional(Type.Union([DateTime(), Type.Null()])),
};

export const CreateCourseBody = Type.Object({ ...courseFields, code: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })), starts_at: Type.Optional(DateTime()), ends_at: Type.Optional(DateTime()) }, { additionalProperties: false });
export const UpdateCourseBody = Type.Object({ ...courseFields, title: Type.Optional(courseFields.title) }, { additionalProperties: false, minProperties: 1 });

export const Enrollment = Type.Object({
  id: Uuid(),
  course_id: Uuid(),
  user_id: Uuid(),
  user_email: Type.String(),
  user_name: Type.String(),
  role: EnrollmentRoleSchema,
  status: EnrollmentStatus,
  source: Type.Union([Type.Literal('manual'), Type.Literal('lti')]),
  created_at: DateTime(),
  updated_at: DateTime(),
});

export function enrollmentView(row: EnrollmentWithUser) {
  return {
    id: row.id, course_id: row.course_id, user_id: row.user_id, user_email: row.user_email, user_name: row.user_name,
    role: row.role, status: row.status, source: row.source,
    created_at: row.created_at.toISOString(), updated_at: row.updated_at.toISOString(),
  };
}

export const CourseItem = Type.Object({
  id: Uuid(),
  course_id: Uuid(),
  kind: CourseItemKindSchema,
  title: Type.String(),
  position: Type.Integer(),
  ref_id: Type.Union([Uuid(), Type.Null()], { description: 'The SCORM package or LTI tool launched by this item' }),
  activity_id: Type.Union([Type.String(), Type.Null()], { description: 'Activity IRI of an xapi_activity item' }),
  settings: Type.Record(Type.String(), Type.Unknown()),
  published: Type.Boolean(),
  created_at: DateTime(),
  updated_at: DateTime(),
});

export function courseItemView(row: CourseItemRow) {
  return {
    id: row.id, course_id: row.course_id, kind: row.kind, title: row.title, position: row.position,
    ref_id: row.ref_id, activity_id: row.activity_id, settings: row.settings, published: row.published,
    created_at: row.created_at.toISOString(), updated_at: row.updated_at.toISOString(),
  };
}

const itemFields = {
  title: Type.String({ minLength: 1, maxLength: 300 }),
  position: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
  ref_id: Type.Optional(Type.Union([Uuid(), Type.Null()])),
  activity_id: Type.Optional(Type.Union([Type.String({ maxLength: 2048 }), Type.Null()])),
  settings: Type.Optional(Type.Record(Type.String({ maxLength: 100 }), Type.Unknown(), { maxProperties: 100 })),
  published: Type.Optional(Type.Boolean()),
};

export const CreateCourseItemBody = Type.Object({ kind: CourseItemKindSchema, ...itemFields }, { additionalProperties: false });
export const UpdateCourseItemBody = Type.Object({ ...itemFields, title: Type.Optional(itemFields.title) }, { additionalProperties: false, minProperties: 1 });
