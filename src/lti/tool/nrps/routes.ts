import { Type } from 'typebox';
import { defineEndpoint, type AnyEndpoint } from '../../../http/endpoint.js';
import { DateTime, iso, NullableDateTime, NullableString, Uuid } from '../../../http/schemas.js';
import { paginationQuery, pageSchema } from '../../../db/pagination.js';
import { AppError, notFound } from '../../../errors/index.js';
import { notifyServices } from '../ags/repository.js';
import * as repo from './repository.js';

const tags = ['LTI'];
const SyncStatus = Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('succeeded'), Type.Literal('failed')]);

const Context = Type.Object({
  id: Uuid(),
  course_id: Uuid(),
  platform_id: Uuid(),
  deployment_id: Type.String(),
  context_id: Type.String({ description: 'The platform\'s context (course) id' }),
  title: NullableString,
  label: NullableString,
  memberships_url: Type.Union([Type.String(), Type.Null()], { description: 'The NRPS context_memberships_url of the last launch; null when no launch carried the NRPS claim' }),
  roster_synced_at: NullableDateTime('The last successful roster sync'),
  last_sync: Type.Union([Type.Object({ id: Uuid(), status: SyncStatus, created_at: DateTime() }), Type.Null()]),
  created_at: DateTime(),
});

const Sync = Type.Object({
  id: Uuid(),
  context_id: Uuid('The course context (Cairn id)'),
  course_id: Uuid(),
  trigger: Type.Union([Type.Literal('launch'), Type.Literal('admin')]),
  status: SyncStatus,
  requested_by: Type.Union([Uuid(), Type.Null()]),
  attempts: Type.Integer(),
  pages: Type.Integer(),
  members: Type.Integer(),
  users_created: Type.Integer(),
  enrollments_added: Type.Integer(),
  enrollments_updated: Type.Integer(),
  enrollments_deactivated: Type.Integer({ description: 'Inactive or Deleted members, and LTI enrollments of people the roster no longer lists' }),
  http_status: Type.Union([Type.Integer(), Type.Null()]),
  error: NullableString,
  created_at: DateTime(),
  started_at: NullableDateTime(),
  finished_at: NullableDateTime(),
});

function contextView(row: repo.ContextView) {
  const url = row.nrps?.['context_memberships_url'];
  return {
    id: row.id, course_id: row.course_id, platform_id: row.platform_id, deployment_id: row.deployment_id, context_id: row.context_id,
    title: row.title, label: row.label, memberships_url: typeof url === 'string' ? url : null, roster_synced_at: iso(row.nrps_synced_at),
    last_sync: row.last_sync_id ? { id: row.last_sync_id, status: row.last_sync_status!, created_at: new Date(row.last_sync_at!).toISOString() } : null,
    created_at: row.created_at.toISOString(),
  };
}

function syncView(row: repo.RosterSyncRow) {
  return {
    id: row.id, context_id: row.course_context_id, course_id: row.course_id, trigger: row.trigger, status: row.status, requested_by: row.requested_by,
    attempts: row.attempts, pages: row.pages, members: row.members, users_created: row.users_created, enrollments_added: row.enrollments_added,
    enrollments_updated: row.enrollments_updated, enrollments_deactivated: row.enrollments_deactivated, http_status: row.http_status, error: row.error,
    created_at: row.created_at.toISOString(), started_at: iso(row.started_at), finished_at: iso(row.finished_at),
  };
}

/** Launched contexts and their roster (NRPS) syncs, for administrators. */
export const nrpsEndpoints: AnyEndpoint[] = [
  defineEndpoint({
    method: 'get', path: '/lti/contexts', operationId: 'listLtiContexts', tags,
    summary: 'Platform contexts (LMS courses) Cairn was launched from, with their roster sync state',
    auth: { scope: 'lti:read', roles: ['admin'] },
    query: Type.Object({ ...paginationQuery, platform_id: Type.Optional(Uuid()), course_id: Type.Optional(Uuid()) }, { additionalProperties: false }),
    responses: { 200: { description: 'Oldest first', schema: pageSchema(Context) } },
    async handler({ deps, principal, query }) {
      const page = await repo.listContexts(deps.db, { tenantId: principal.tenantId, platformId: query.platform_id, courseId: query.course_id, limit: query.limit ?? 50, cursor: query.cursor });
      return { data: page.rows.map(contextView), next_cursor: page.nextCursor };
    },
  }),
  defineEndpoint({
    method: 'get', path: '/lti/contexts/:contextId', operationId: 'getLtiContext', tags,
    summary: 'One launched context',
    auth: { scope: 'lti:read', roles: ['admin'] },
    params: Type.Object({ contextId: Uuid() }),
    responses: { 200: { description: 'The context', schema: Context } },
    async handler({ deps, principal, params }) {
      const row = await repo.findContextView(deps.db, principal.tenantId, params.contextId);
      if (!row) throw notFound('Context');
      return contextView(row);
    },
  }),
  defineEndpoint({
    method: 'post', path: '/lti/contexts/:contextId/roster-syncs', operationId: 'syncLtiRoster', tags,
    summary: 'Sync a context\'s roster from the platform now (Names and Role Provisioning Services)',
    description: 'Queues a sync job and answers at once; follow it at `/lti/roster-syncs/{id}`. When a sync of the context is already waiting, that one is returned.',
    auth: { scope: 'lti:write', roles: ['admin'] },
    params: Type.Object({ contextId: Uuid() }),
    status: 202,
    responses: { 202: { description: 'The queued sync', schema: Sync } },
    async handler({ db, deps, principal, params, audit }) {
      const context = await repo.findContextView(db, principal.tenantId, params.contextId);
      if (!context) throw notFound('Context');
      if (typeof context.nrps?.['context_memberships_url'] !== 'string') {
        throw new AppError('conflict', 'No launch of this context carried a Names and Role Provisioning claim, so Cairn does not know where its roster is.');
      }
      const { sync, created } = await repo.queueSync(db, { tenant_id: principal.tenantId, course_context_id: context.id, course_id: context.course_id, trigger: 'admin', requested_by: principal.userId }, deps.clock.now());
      if (created) await notifyServices(db, `roster:${sync.id}`);
      audit({ action: 'lti_roster_sync.request', targetType: 'lti_context', targetId: context.id, details: { sync_id: sync.id, already_queued: !created } });
      return syncView(sync);
    },
  }),
  defineEndpoint({
    method: 'get', path: '/lti/roster-syncs', operationId: 'listLtiRosterSyncs', tags,
    summary: 'Roster syncs, newest first',
    auth: { scope: 'lti:read', roles: ['admin'] },
    query: Type.Object({ ...paginationQuery, context_id: Type.Optional(Uuid()), status: Type.Optional(SyncStatus) }, { additionalProperties: false }),
    responses: { 200: { description: 'Newest first', schema: pageSchema(Sync) } },
    async handler({ deps, principal, query }) {
      const page = await repo.listSyncs(deps.db, { tenantId: principal.tenantId, contextId: query.context_id, status: query.status, limit: query.limit ?? 50, cursor: query.cursor });
      return { data: page.rows.map(syncView), next_cursor: page.nextCursor };
    },
  }),
  defineEndpoint({
    method: 'get', path: '/lti/roster-syncs/:syncId', operationId: 'getLtiRosterSync', tags,
    summary: 'One roster sync: its state, counts and the platform\'s answer when it failed',
    auth: { scope: 'lti:read', roles: ['admin'] },
    params: Type.Object({ syncId: Uuid() }),
    responses: { 200: { description: 'The sync', schema: Sync } },
    async handler({ deps, principal, params }) {
      const row = await repo.findSyncInTenant(deps.db, principal.tenantId, params.syncId);
      if (!row) throw notFound('Roster sync');
      return syncView(row);
    },
  }),
];
