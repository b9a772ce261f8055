import { Type } from 'typebox';
import { defineEndpoint, type AnyEndpoint } from '../../../http/endpoint.js';
import { DateTime, iso, NullableDateTime, NullableString, Uuid } from '../../../http/schemas.js';
import { paginationQuery, pageSchema } from '../../../db/pagination.js';
import { AppError, notFound } from '../../../errors/index.js';
import * as repo from './repository.js';

const tags = ['LTI'];
const Status = Type.Union([Type.Literal('pending'), Type.Literal('sent'), Type.Literal('failed')]);

const Passback = Type.Object({
  id: Uuid(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('sent'), Type.Literal('failed')], { description: '`pending` until the platform accepted the score (`sent`) or refused it for good (`failed`)' }),
  user_id: Uuid('The Cairn learner'),
  platform_user_id: Type.String({ description: 'The learner\'s `sub` on the platform (the AGS `userId`)' }),
  course_id: Uuid(),
  course_item_id: Type.Union([Uuid(), Type.Null()]),
  line_item_id: Uuid('Cairn\'s line item the score belongs to'),
  platform_id: Uuid(),
  resource_link_id: Type.String({ description: 'The platform\'s resource link id' }),
  platform_line_item_url: NullableString,
  score: Type.Object({}, { additionalProperties: true, description: 'The AGS score body Cairn sends (application/vnd.ims.lis.v1.score+json)' }),
  scored_at: DateTime(),
  attempts: Type.Integer({ description: 'Delivery attempts of the current score' }),
  next_attempt_at: NullableDateTime('When the next attempt is scheduled, while pending after a temporary failure'),
  last_attempt_at: NullableDateTime(),
  last_http_status: Type.Union([Type.Integer(), Type.Null()], { description: 'The platform\'s HTTP status on the last attempt' }),
  last_response: Type.Union([Type.String(), Type.Null()], { description: 'The start of the platform\'s answer on the last attempt' }),
  last_error: NullableString,
  sent_at: NullableDateTime(),
  created_at: DateTime(),
  updated_at: DateTime(),
});

function view(row: repo.PassbackView) {
  return {
    id: row.id, status: row.status, user_id: row.user_id, platform_user_id: row.platform_user_id, course_id: row.course_id,
    course_item_id: row.course_item_id, line_item_id: row.line_item_id, platform_id: row.platform_id, resource_link_id: row.resource_link_id,
    platform_line_item_url: row.platform_line_item_url, score: row.score, scored_at: row.scored_at.toISOString(), attempts: row.attempts,
    next_attempt_at: iso(row.next_attempt_at), last_attempt_at: iso(row.last_attempt_at), last_http_status: row.last_http_status,
    last_response: row.last_response, last_error: row.last_error, sent_at: iso(row.sent_at), created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/** Grade passback (AGS) as administrators see it: every score owed to a platform, and how delivering it went. */
export const agsEndpoints: AnyEndpoint[] = [
  defineEndpoint({
    method: 'get', path: '/lti/grade-passback', operationId: 'listLtiGradePassback', tags,
    summary: 'Scores sent (or being sent) to platforms with LTI Assignment and Grade Services',
    description: 'One entry per learner and platform resource link, holding the latest score. A refused score (for instance Moodle\'s 400 for a user who is not gradable, or Canvas\'s 422 for the test student) is `failed` with the platform\'s status and answer.',
    auth: { scope: 'lti:read', roles: ['admin'] },
    query: Type.Object({
      ...paginationQuery,
      status: Type.Optional(Status),
      course_id: Type.Optional(Uuid()),
      user_id: Type.Optional(Uuid()),
      platform_id: Type.Optional(Uuid()),
    }, { additionalProperties: false }),
    responses: { 200: { description: 'Newest first', schema: pageSchema(Passback) } },
    async handler({ deps, principal, query }) {
      const page = await repo.listPassbacks(deps.db, {
        tenantId: principal.tenantId, status: query.status, courseId: query.course_id, userId: query.user_id, platformId: query.platform_id,
        limit: query.limit ?? 50, cursor: query.cursor,
      });
      return { data: page.rows.map(view), next_cursor: page.nextCursor };
    },
  }),
  defineEndpoint({
    method: 'get', path: '/lti/grade-passback/:passbackId', operationId: 'getLtiGradePassback', tags,
    summary: 'One score\'s passback status',
    auth: { scope: 'lti:read', roles: ['admin'] },
    params: Type.Object({ passbackId: Uuid() }),
    responses: { 200: { description: 'The entry', schema: Passback } },
    async handler({ deps, principal, params }) {
      const row = await repo.findPassbackView(deps.db, principal.tenantId, params.passbackId);
      if (!row) throw notFound('Grade passback entry');
      return view(row);
    },
  }),
  defineEndpoint({
    method: 'post', path: '/lti/grade-passback/:passbackId/retry', operationId: 'retryLtiGradePassback', tags,
    summary: 'Send a failed score again',
    description: 'For after the cause was fixed on the platform (the learner made gradable, the registration repaired). The score becomes `pending` and is sent by a job.',
    auth: { scope: 'lti:write', roles: ['admin'] },
    params: Type.Object({ passbackId: Uuid() }),
    status: 202,
    responses: { 202: { description: 'Queued', schema: Passback } },
    async handler({ db, deps, principal, params, audit }) {
      const existing = await repo.findPassbackView(db, principal.tenantId, params.passbackId);
      if (!existing) throw notFound('Grade passback entry');
      const reset = await repo.resetFailed(db, principal.tenantId, params.passbackId, deps.clock.now());
      if (!reset) throw new AppError('conflict', `This score is ${existing.status}; only a failed score can be sent again.`);
      await repo.notifyServices(db, `ags:${reset.id}`);
      audit({ action: 'lti_grade_passback.retry', targetType: 'lti_grade_passback', targetId: reset.id, details: { user_id: reset.user_id, last_http_status: existing.last_http_status } });
      return view({ ...existing, ...reset });
    },
  }),
];
