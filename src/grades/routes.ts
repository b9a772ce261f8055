import { Type } from 'typebox';
import { defineEndpoint, type AnyEndpoint } from '../http/endpoint.js';
import { DateTime, NullableDateTime, Uuid, iso } from '../http/schemas.js';
import { paginationQuery, pageSchema } from '../db/pagination.js';
import { AppError, notFound } from '../errors/index.js';
import type { Queryable } from '../db/index.js';
import { assertDateOrder, courseAccess } from '../courses/service.js';
import { findCourseItem } from '../courses/repository.js';
import * as repo from './repository.js';
import { recordScore } from './service.js';

const tags = ['Gradebook'];

const LineItem = Type.Object({
  id: Uuid(),
  course_id: Uuid(),
  course_item_id: Type.Union([Uuid(), Type.Null()]),
  label: Type.String(),
  score_maximum: Type.Number(),
  resource_id: Type.Union([Type.String(), Type.Null()]),
  tag: Type.Union([Type.String(), Type.Null()]),
  start_at: NullableDateTime(),
  end_at: NullableDateTime(),
  created_at: DateTime(),
  updated_at: DateTime(),
});

function lineItemView(row: repo.LineItemRow) {
  return {
    id: row.id, course_id: row.course_id, course_item_id: row.course_item_id, label: row.label,
    score_maximum: Number(row.score_maximum), resource_id: row.resource_id, tag: row.tag,
    start_at: iso(row.start_at), end_at: iso(row.end_at),
    created_at: row.created_at.toISOString(), updated_at: row.updated_at.toISOString(),
  };
}

const ActivityProgress = Type.Union(['Initialized', 'Started', 'InProgress', 'Submitted', 'Completed'].map((v) => Type.Literal(v)));
const GradingProgress = Type.Union(['FullyGraded', 'Pending', 'PendingManual', 'Failed', 'NotReady'].map((v) => Type.Literal(v)));

const Score = Type.Object({
  id: Uuid(),
  line_item_id: Uuid(),
  user_id: Uuid(),
  score_given: Type.Union([Type.Number(), Type.Null()]),
  score_maximum: Type.Union([Type.Number(), Type.Null()]),
  activity_progress: ActivityProgress,
  grading_progress: GradingProgress,
  comment: Type.Union([Type.String(), Type.Null()]),
  source: Type.Union(['manual', 'scorm', 'lti', 'xapi'].map((v) => Type.Literal(v))),
  scored_at: DateTime(),
  updated_at: DateTime(),
});

function scoreView(row: repo.ScoreRow) {
  return {
    id: row.id, line_item_id: row.line_item_id, user_id: row.user_id,
    score_given: row.score_given === null ? null : Number(row.score_given),
    score_maximum: row.score_maximum === null ? null : Number(row.score_maximum),
    activity_progress: row.activity_progress, grading_progress: row.grading_progress, comment: row.comment,
    source: row.source, scored_at: row.scored_at.toISOString(), updated_at: row.updated_at.toISOString(),
  };
}

const lineItemFields = {
  label: Type.String({ minLength: 1, maxLength: 300 }),
  score_maximum: Type.Number({ exclusiveMinimum: 0, maximum: 1e7 }),
  course_item_id: Type.Optional(Type.Union([Uuid(), Type.Null()])),
  resource_id: Type.Optional(Type.Union([Type.String({ maxLength: 300 }), Type.Null()])),
  tag: Type.Optional(Type.Union([Type.String({ maxLength: 300 }), Type.Null()])),
  start_at: Type.Optional(Type.Union([DateTime(), Type.Null()])),
  end_at: Type.Optional(Type.Union([DateTime(), Type.Null()])),
};

const CourseParams = Type.Object({ courseId: Uuid() });
const LineItemParams = Type.Object({ courseId: Uuid(), lineItemId: Uuid() });
const ScoreParams = Type.Object({ courseId: Uuid(), lineItemId: Uuid(), userId: Uuid() });

function toDates(body: { start_at?: string | null | undefined; end_at?: string | null | undefined }) {
  const out: Record<string, Date | null> = {};
  if (body.start_at !== undefined) out['start_at'] = body.start_at ? new Date(body.start_at) : null;
  if (body.end_at !== undefined) out['end_at'] = body.end_at ? new Date(body.end_at) : null;
  return out;
}

/** A line item may point only at an item of its own course (never another course's or tenant's). */
async function assertItemOfCourse(db: Queryable, courseId: string, courseItemId: string): Promise<void> {
  if (!(await findCourseItem(db, courseId, courseItemId))) {
    throw new AppError('validation_failed', 'No such item in this course.', { errors: [{ pointer: '/body/course_item_id', message: 'is not an item of this course' }] });
  }
}

export const gradeEndpoints: AnyEndpoint[] = [
  defineEndpoint({
    method: 'get', path: '/courses/:courseId/line-items', operationId: 'listLineItems', tags,
    summary: 'List a course\'s gradebook columns (line items)',
    auth: { scope: 'grades:read' },
    params: CourseParams,
    query: Type.Object({ ...paginationQuery, course_item_id: Type.Optional(Uuid()), resource_id: Type.Optional(Type.String()), tag: Type.Optional(Type.String()) }, { additionalProperties: false }),
    responses: { 200: { description: 'A page of line items', schema: pageSchema(LineItem) } },
    async handler({ deps, principal, params, query }) {
      await courseAccess(deps.db, principal, params.courseId, 'view');
      const page = await repo.listLineItems(deps.db, { courseId: params.courseId, courseItemId: query.course_item_id, resourceId: query.resource_id, tag: query.tag, limit: query.limit ?? 50, cursor: query.cursor });
      return { data: page.rows.map(lineItemView), next_cursor: page.nextCursor };
    },
  }),

  defineEndpoint({
    method: 'post', path: '/courses/:courseId/line-items', operationId: 'createLineItem', tags,
    summary: 'Add a gradebook column',
    auth: { scope: 'grades:write' },
    params: CourseParams,
    body: Type.Object(lineItemFields, { additionalProperties: false }),
    responses: { 201: { description: 'Created', schema: LineItem } },
    async handler({ deps, db, principal, params, body, audit }) {
      await courseAccess(db, principal, params.courseId, 'manage');
      if (body.course_item_id) await assertItemOfCourse(db, params.courseId, body.course_item_id);
      assertDateOrder(body.start_at, body.end_at, 'start_at', 'end_at');
      const row = await repo.insertLineItem(db, {
        tenant_id: principal.tenantId, course_id: params.courseId, course_item_id: body.course_item_id ?? null, label: body.label,
        score_maximum: body.score_maximum, resource_id: body.resource_id ?? null, tag: body.tag ?? null,
        start_at: body.start_at ? new Date(body.start_at) : null, end_at: body.end_at ? new Date(body.end_at) : null,
      }, deps.clock.now());
      audit({ action: 'line_item.create', targetType: 'line_item', targetId: row.id, details: { course_id: params.courseId, label: row.label } });
      return lineItemView(row);
    },
  }),

  defineEndpoint({
    method: 'get', path: '/courses/:courseId/line-items/:lineItemId', operationId: 'getLineItem', tags,
    summary: 'Get a line item',
    auth: { scope: 'grades:read' },
    params: LineItemParams,
    responses: { 200: { description: 'The line item', schema: LineItem } },
    async handler({ deps, principal, params }) {
      await courseAccess(deps.db, principal, params.courseId, 'view');
      const row = await repo.findLineItem(deps.db, params.courseId, params.lineItemId);
      if (!row) throw notFound('Line item');
      return lineItemView(row);
    },
  }),

  defineEndpoint({
    method: 'patch', path: '/courses/:courseId/line-items/:lineItemId', operationId: 'updateLineItem', tags,
    summary: 'Update a line item',
    auth: { scope: 'grades:write' },
    params: LineItemParams,
    body: Type.Object({ ...lineItemFields, label: Type.Optional(lineItemFields.label), score_maximum: Type.Optional(lineItemFields.score_maximum) }, { additionalProperties: false, minProperties: 1 }),
    responses: { 200: { description: 'Updated', schema: LineItem } },
    async handler({ deps, db, principal, params, body, audit }) {
      await courseAccess(db, principal, params.courseId, 'manage');
      if (body.course_item_id) await assertItemOfCourse(db, params.courseId, body.course_item_id);
      const existing = await repo.findLineItem(db, params.courseId, params.lineItemId);
      if (!existing) throw notFound('Line item');
      assertDateOrder(
        body.start_at === undefined ? existing.start_at?.toISOString() : body.start_at,
        body.end_at === undefined ? existing.end_at?.toISOString() : body.end_at,
        'start_at', 'end_at',
      );
      const { start_at: _s, end_at: _e, score_maximum, ...rest } = body;
      const row = await repo.updateLineItem(db, params.courseId, params.lineItemId, {
        ...rest, ...toDates(body), ...(score_maximum !== undefined ? { score_maximum: String(score_maximum) } : {}),
      }, deps.clock.now());
      if (!row) throw notFound('Line item');
      audit({ action: 'line_item.update', targetType: 'line_item', targetId: row.id, details: { changed: Object.keys(body) } });
      return lineItemView(row);
    },
  }),

  defineEndpoint({
    method: 'delete', path: '/courses/:courseId/line-items/:lineItemId', operationId: 'deleteLineItem', tags,
    summary: 'Delete a line item and its scores',
    auth: { scope: 'grades:write' },
    params: LineItemParams,
    responses: { 204: { description: 'Deleted' } },
    async handler({ db, principal, params, audit }) {
      await courseAccess(db, principal, params.courseId, 'manage');
      if (!(await repo.deleteLineItem(db, params.courseId, params.lineItemId))) throw notFound('Line item');
      audit({ action: 'line_item.delete', targetType: 'line_item', targetId: params.lineItemId, details: { course_id: params.courseId } });
      return undefined;
    },
  }),

  defineEndpoint({
    method: 'get', path: '/courses/:courseId/scores', operationId: 'listScores', tags,
    summary: 'Scores in a course',
    description: 'Instructors, teaching assistants and admins see everyone\'s; learners only their own.',
    auth: { scope: 'grades:read' },
    params: CourseParams,
    query: Type.Object({ ...paginationQuery, line_item_id: Type.Optional(Uuid()), user_id: Type.Optional(Uuid()) }, { additionalProperties: false }),
    responses: { 200: { description: 'A page of scores', schema: pageSchema(Score) } },
    async handler({ deps, principal, params, query }) {
      const access = await courseAccess(deps.db, principal, params.courseId, 'view');
      if (!access.canGrade && query.user_id !== undefined && query.user_id !== principal.userId) throw new AppError('forbidden', 'Learners see only their own scores.');
      const page = await repo.listScores(deps.db, {
        courseId: params.courseId, lineItemId: query.line_item_id,
        userId: access.canGrade ? query.user_id : principal.userId,
        limit: query.limit ?? 50, cursor: query.cursor,
      });
      return { data: page.rows.map(scoreView), next_cursor: page.nextCursor };
    },
  }),

  defineEndpoint({
    method: 'put', path: '/courses/:courseId/line-items/:lineItemId/scores/:userId', operationId: 'putScore', tags,
    summary: 'Set a learner\'s score on a line item',
    description: 'A score with an older `scored_at` than the stored one is ignored (200 with the stored score and `applied: false`).',
    auth: { scope: 'grades:write' },
    params: ScoreParams,
    body: Type.Object({
      score_given: Type.Optional(Type.Union([Type.Number({ maximum: 1e7 }), Type.Null()])),
      score_maximum: Type.Optional(Type.Union([Type.Number({ maximum: 1e7 }), Type.Null()])),
      activity_progress: Type.Optional(ActivityProgress),
      grading_progress: Type.Optional(GradingProgress),
      comment: Type.Optional(Type.Union([Type.String({ maxLength: 10_000 }), Type.Null()])),
      scored_at: Type.Optional(DateTime()),
    }, { additionalProperties: false }),
    status: 200,
    responses: { 200: { description: 'The stored score', schema: Type.Intersect([Score, Type.Object({ applied: Type.Boolean() })]) } },
    async handler({ deps, db, principal, params, body, audit }) {
      await courseAccess(db, principal, params.courseId, 'grade');
      const lineItem = await repo.findLineItem(db, params.courseId, params.lineItemId);
      if (!lineItem) throw notFound('Line item');
      const scoreGiven = body.score_given ?? null;
      const { score, applied } = await recordScore(db, deps.clock, lineItem, {
        userId: params.userId,
        scoreGiven,
        scoreMaximum: body.score_maximum ?? (scoreGiven !== null ? Number(lineItem.score_maximum) : null),
        activityProgress: body.activity_progress ?? 'Completed',
        gradingProgress: body.grading_progress ?? 'FullyGraded',
        comment: body.comment ?? null,
        source: 'manual',
        scoredAt: body.scored_at ? new Date(body.scored_at) : deps.clock.now(),
      });
      // A stale write changed nothing, but the attempt is worth a trace (a retrying LMS, a clock skew).
      audit({
        action: applied ? 'score.set' : 'score.stale_ignored',
        targetType: 'score', targetId: score.id,
        details: { line_item_id: lineItem.id, user_id: params.userId, score_given: scoreGiven, ...(applied ? {} : { scored_at: body.scored_at ?? null, stored_scored_at: score.scored_at.toISOString() }) },
      });
      return { ...scoreView(score), applied };
    },
  }),

  defineEndpoint({
    method: 'delete', path: '/courses/:courseId/line-items/:lineItemId/scores/:userId', operationId: 'deleteScore', tags,
    summary: 'Clear a learner\'s score',
    auth: { scope: 'grades:write' },
    params: ScoreParams,
    responses: { 204: { description: 'Cleared' } },
    async handler({ db, principal, params, audit }) {
      await courseAccess(db, principal, params.courseId, 'grade');
      const lineItem = await repo.findLineItem(db, params.courseId, params.lineItemId);
      if (!lineItem || !(await repo.deleteScore(db, lineItem.id, params.userId))) throw notFound('Score');
      audit({ action: 'score.delete', targetType: 'line_item', targetId: lineItem.id, details: { user_id: params.userId } });
      return undefined;
    },
  }),
];
