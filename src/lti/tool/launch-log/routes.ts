import { Type } from 'typebox';
import { defineEndpoint, type AnyEndpoint } from '../../../http/endpoint.js';
import { DateTime, NullableString, Uuid } from '../../../http/schemas.js';
import { paginationQuery, pageSchema } from '../../../db/pagination.js';
import { AppError, notFound } from '../../../errors/index.js';
import { ltiErrorCatalogue, type LtiErrorCode } from '../../core/errors.js';
import * as repo from './repository.js';

const NullableUuid = Type.Union([Uuid(), Type.Null()]);

const Launch = Type.Object({
  id: Uuid('Also the reference shown to the learner on a failure page'),
  outcome: Type.Union([Type.Literal('success'), Type.Literal('failure')]),
  error_code: NullableString,
  error_title: NullableString,
  failed_step: NullableString,
  steps_passed: Type.Array(Type.String(), { description: 'The checks that passed, in the order they ran' }),
  detail: NullableString,
  platform_id: NullableUuid,
  issuer: NullableString,
  client_id: NullableString,
  deployment_id: NullableString,
  message_type: NullableString,
  subject: Type.Union([Type.String(), Type.Null()], { description: 'The platform\'s user id (`sub`), recorded once the signature verified' }),
  user_id: NullableUuid,
  course_id: NullableUuid,
  course_item_id: NullableUuid,
  resource_link_id: NullableString,
  roles: Type.Array(Type.String()),
  ip: NullableString,
  user_agent: NullableString,
  request_id: NullableString,
  duration_ms: Type.Union([Type.Integer(), Type.Null()]),
  created_at: DateTime(),
});

function launchView(row: repo.LaunchRow) {
  return {
    id: row.id, outcome: row.outcome, error_code: row.error_code,
    error_title: row.error_code ? (ltiErrorCatalogue[row.error_code as LtiErrorCode]?.title ?? null) : null,
    failed_step: row.failed_step, steps_passed: row.steps_passed, detail: row.detail, platform_id: row.platform_id, issuer: row.issuer,
    client_id: row.client_id, deployment_id: row.deployment_id, message_type: row.message_type, subject: row.subject, user_id: row.user_id,
    course_id: row.course_id, course_item_id: row.course_item_id, resource_link_id: row.resource_link_id, roles: row.roles, ip: row.ip,
    user_agent: row.user_agent, request_id: row.request_id, duration_ms: row.duration_ms, created_at: row.created_at.toISOString(),
  };
}

/** System administrators can ask for failures no tenant could be attributed to (an unknown issuer). */
function scopeOf(principal: { tenantId: string; isSystemAdmin: boolean }, unattributed: boolean | undefined): string | null {
  if (!unattributed) return principal.tenantId;
  if (!principal.isSystemAdmin) throw new AppError('forbidden', 'Only system administrators may read unattributed launches.');
  return null;
}

export const ltiLaunchLogEndpoints: AnyEndpoint[] = [
  defineEndpoint({
    method: 'get', path: '/lti/launches', operationId: 'listLtiLaunches', tags: ['LTI'],
    summary: 'The LTI launch log: every launch, and every refused one with the check that failed',
    auth: { scope: 'lti:read', roles: ['admin'] },
    query: Type.Object({
      ...paginationQuery,
      outcome: Type.Optional(Type.Union([Type.Literal('success'), Type.Literal('failure')])),
      error_code: Type.Optional(Type.String({ maxLength: 100 })),
      platform_id: Type.Optional(Uuid()),
      user_id: Type.Optional(Uuid()),
      since: Type.Optional(DateTime()),
      until: Type.Optional(DateTime()),
      unattributed: Type.Optional(Type.Boolean({ description: 'System administrators: launches refused before a tenant was known (unknown issuer or state)' })),
    }, { additionalProperties: false }),
    responses: { 200: { description: 'Newest first', schema: pageSchema(Launch) } },
    async handler({ deps, principal, query }) {
      const page = await repo.listLaunches(deps.db, {
        tenantId: scopeOf(principal, query.unattributed), outcome: query.outcome, errorCode: query.error_code, platformId: query.platform_id,
        userId: query.user_id, since: query.since ? new Date(query.since) : undefined, until: query.until ? new Date(query.until) : undefined,
        limit: query.limit ?? 50, cursor: query.cursor,
      });
      return { data: page.rows.map(launchView), next_cursor: page.nextCursor };
    },
  }),
  defineEndpoint({
    method: 'get', path: '/lti/launches/:launchId', operationId: 'getLtiLaunch', tags: ['LTI'],
    summary: 'One launch-log entry (the reference a learner quotes)',
    auth: { scope: 'lti:read', roles: ['admin'] },
    params: Type.Object({ launchId: Uuid() }),
    query: Type.Object({ unattributed: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
    responses: { 200: { description: 'The entry', schema: Launch } },
    async handler({ deps, principal, params, query }) {
      const row = await repo.findLaunch(deps.db, scopeOf(principal, query.unattributed), params.launchId);
      if (!row) throw notFound('Launch');
      return launchView(row);
    },
  }),
];
