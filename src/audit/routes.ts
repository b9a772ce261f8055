import { Type } from 'typebox';
import { defineEndpoint, type AnyEndpoint } from '../http/endpoint.js';
import { DateTime, Uuid } from '../http/schemas.js';
import { paginationQuery, pageSchema } from '../db/pagination.js';
import { listAudit, type AuditRow } from './repository.js';

const AuditEntry = Type.Object({
  id: Type.String(),
  tenant_id: Type.Union([Uuid(), Type.Null()]),
  actor_user_id: Type.Union([Uuid(), Type.Null()]),
  actor_type: Type.Union([Type.Literal('user'), Type.Literal('token'), Type.Literal('system')]),
  actor_label: Type.String({ description: 'Email of the actor, with the token name for API tokens' }),
  action: Type.String({ description: '`<noun>.<verb>`, e.g. `course.create`, `auth.login_failed`' }),
  target_type: Type.Union([Type.String(), Type.Null()]),
  target_id: Type.Union([Type.String(), Type.Null()]),
  details: Type.Record(Type.String(), Type.Unknown()),
  ip: Type.Union([Type.String(), Type.Null()]),
  request_id: Type.Union([Type.String(), Type.Null()]),
  created_at: DateTime(),
});

function auditView(row: AuditRow) {
  return { ...row, id: String(row.id), created_at: row.created_at.toISOString() };
}

export const auditEndpoints: AnyEndpoint[] = [
  defineEndpoint({
    method: 'get', path: '/audit-log', operationId: 'listAuditLog', tags: ['Audit log'],
    summary: 'Who did what, to what, when and from where (newest first)',
    auth: { scope: 'audit:read', roles: ['admin'] },
    query: Type.Object({
      ...paginationQuery,
      actor_user_id: Type.Optional(Uuid()),
      action: Type.Optional(Type.String({ maxLength: 100, description: 'Exact action, or a prefix such as `course.*`' })),
      target_type: Type.Optional(Type.String({ maxLength: 100 })),
      target_id: Type.Optional(Type.String({ maxLength: 200 })),
      since: Type.Optional(DateTime('Inclusive')),
      until: Type.Optional(DateTime('Exclusive')),
    }, { additionalProperties: false }),
    responses: { 200: { description: 'A page of audit entries', schema: pageSchema(AuditEntry) } },
    async handler({ deps, principal, query }) {
      const page = await listAudit(deps.db, {
        tenantId: principal.tenantId,
        actorUserId: query.actor_user_id,
        action: query.action,
        targetType: query.target_type,
        targetId: query.target_id,
        since: query.since ? new Date(query.since) : undefined,
        until: query.until ? new Date(query.until) : undefined,
        limit: query.limit ?? 50,
        cursor: query.cursor,
      });
      return { data: page.rows.map(auditView), next_cursor: page.nextCursor };
    },
  }),
];
