import { Type } from 'typebox';
import { defineEndpoint, type AnyEndpoint } from '../../http/endpoint.js';
import { DateTime, NullableDateTime, Uuid } from '../../http/schemas.js';
import { paginationQuery, pageSchema } from '../../db/pagination.js';
import { AppError, notFound } from '../../errors/index.js';
import * as repo from './repository.js';
import { xapiScopes } from './scopes.js';
import { createCredential } from './service.js';

const tags = ['LRS stores'];

const Store = Type.Object({
  id: Uuid(),
  name: Type.String(),
  description: Type.String(),
  is_default: Type.Boolean({ description: 'The store Cairn itself writes to (SCORM results as xAPI)' }),
  endpoint: Type.String({ description: 'xAPI endpoint to give clients' }),
  created_at: DateTime(),
  updated_at: DateTime(),
});

const XapiScopeSchema = Type.Union(xapiScopes.map((s) => Type.Literal(s)));

const Credential = Type.Object({
  id: Uuid(),
  store_id: Uuid(),
  name: Type.String(),
  key: Type.String({ description: 'HTTP Basic user name' }),
  scopes: Type.Array(XapiScopeSchema),
  authority: Type.Record(Type.String(), Type.Unknown(), { description: 'Agent written as `authority` on statements this credential stores' }),
  revoked_at: NullableDateTime(),
  last_used_at: NullableDateTime(),
  created_at: DateTime(),
});

function credentialView(row: repo.LrsCredentialRow) {
  return {
    id: row.id, store_id: row.store_id, name: row.name, key: row.key, scopes: row.scopes, authority: row.authority,
    revoked_at: row.revoked_at?.toISOString() ?? null, last_used_at: row.last_used_at?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
  };
}

const StoreParams = Type.Object({ storeId: Uuid() });
const CredentialParams = Type.Object({ storeId: Uuid(), credentialId: Uuid() });

export const lrsStoreEndpoints: AnyEndpoint[] = [
  defineEndpoint({
    method: 'get', path: '/lrs/stores', operationId: 'listLrsStores', tags,
    summary: 'List the tenant\'s LRS stores',
    auth: { scope: 'lrs:read', roles: ['admin'] },
    query: Type.Object({ ...paginationQuery }, { additionalProperties: false }),
    responses: { 200: { description: 'A page of stores', schema: pageSchema(Store) } },
    async handler({ deps, principal, query }) {
      const page = await repo.listStores(deps.db, { tenantId: principal.tenantId, limit: query.limit ?? 50, cursor: query.cursor });
      return { data: page.rows.map((r) => storeView(r, deps.config.publicUrl)), next_cursor: page.nextCursor };
    },
  }),

  defineEndpoint({
    method: 'post', path: '/lrs/stores', operationId: 'createLrsStore', tags,
    summary: 'Create an LRS store',
    description: 'A tenant\'s first store becomes its default store.',
    auth: { scope: 'lrs:write', roles: ['admin'] },
    body: Type.Object({
      name: Type.String({ minLength: 1, maxLength: 200 }),
      description: Type.Optional(Type.String({ maxLength: 2000 })),
      is_default: Type.Optional(Type.Boolean()),
    }, { additionalProperties: false }),
    responses: { 201: { description: 'Created', schema: Store } },
    async handler({ deps, db, principal, body, audit }) {
      if (await repo.findStoreByName(db, principal.tenantId, body.name)) {
        throw new AppError('conflict', 'A store with this name already exists.', { errors: [{ pointer: '/body/name', message: 'is taken' }] });
      }
      const hasDefault = (await repo.findDefaultStore(db, principal.tenantId)) !== undefined;
      const makeDefault = body.is_default ?? !hasDefault;
      if (makeDefault) await repo.clearDefaultStore(db, principal.tenantId);
      const store = await repo.insertStore(db, { tenant_id: principal.tenantId, name: body.name, description: body.description ?? '', is_default: makeDefault }, deps.clock.now());
      audit({ action: 'lrs_store.create', targetType: 'lrs_store', targetId: store.id, details: { name: store.name, is_default: makeDefault } });
      return storeView(store, deps.config.publicUrl);
    },
  }),

  defineEndpoint({
    method: 'get', path: '/lrs/stores/:storeId', operationId: 'getLrsStore', tags,
    summary: 'Get an LRS store',
    auth: { scope: 'lrs:read', roles: ['admin'] },
    params: StoreParams,
    responses: { 200: { description: 'The store', schema: Store } },
    async handler({ deps, principal, params }) {
      const store = await repo.findStore(deps.db, principal.tenantId, params.storeId);
      if (!store) throw notFound('LRS store');
      return storeView(store, deps.config.publicUrl);
    },
  }),

  defineEndpoint({
    method: 'patch', path: '/lrs/stores/:storeId', operationId: 'updateLrsStore', tags,
    summary: 'Rename a store or make it the default',
    auth: { scope: 'lrs:write', roles: ['admin'] },
    params: StoreParams,
    body: Type.Object({
      name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
      description: Type.Optional(Type.String({ maxLength: 2000 })),
      is_default: Type.Optional(Type.Literal(true, { description: 'Make this the default store (the previous default stops being one)' })),
    }, { additionalProperties: false, minProperties: 1 }),
    responses: { 200: { description: 'Updated', schema: Store } },
    async handler({ deps, db, principal, params, body, audit }) {
      const store = await repo.findStore(db, principal.tenantId, params.storeId);
      if (!store) throw notFound('LRS store');
      if (body.name && body.name.toLowerCase() !== store.name.toLowerCase() && (await repo.findStoreByName(db, principal.tenantId, body.name))) {
        throw new AppError('conflict', 'A store with this name already exists.', { errors: [{ pointer: '/body/name', message: 'is taken' }] });
      }
      if (body.is_default) await repo.clearDefaultStore(db, principal.tenantId);
      const updated = await repo.updateStore(db, principal.tenantId, store.id, body, deps.clock.now());
      audit({ action: 'lrs_store.update', targetType: 'lrs_store', targetId: store.id, details: body });
      return storeView(updated!, deps.config.publicUrl);
    },
  }),

  defineEndpoint({
    method: 'delete', path: '/lrs/stores/:storeId', operationId: 'deleteLrsStore', tags,
    summary: 'Delete a store with all its statements, documents and credentials',
    auth: { scope: 'lrs:write', roles: ['admin'] },
    params: StoreParams,
    responses: { 204: { description: 'Deleted' } },
    async handler({ deps, db, principal, params, audit, afterCommit }) {
      const store = await repo.findStore(db, principal.tenantId, params.storeId);
      if (!store) throw notFound('LRS store');
      await repo.deleteStore(db, principal.tenantId, store.id);
      deps.xapiAuth.forgetStore(store.id);
      // Attachment and large-document content lives in the blob store under the store's id.
      afterCommit(async () => {
        await deps.blobs.deletePrefix(`xapi/${store.id}/`);
        await deps.blobs.deletePrefix(`xapi-documents/${store.id}/`);
      });
      audit({ action: 'lrs_store.delete', targetType: 'lrs_store', targetId: store.id, details: { name: store.name } });
      return undefined;
    },
  }),

  defineEndpoint({
    method: 'get', path: '/lrs/stores/:storeId/credentials', operationId: 'listLrsCredentials', tags,
    summary: 'List a store\'s xAPI credentials (never their secrets)',
    auth: { scope: 'lrs:read', roles: ['admin'] },
    params: StoreParams,
    query: Type.Object({ ...paginationQuery, include_revoked: Type.Optional(Type.Boolean({ default: false })) }, { additionalProperties: false }),
    responses: { 200: { description: 'A page of credentials', schema: pageSchema(Credential) } },
    async handler({ deps, principal, params, query }) {
      if (!(await repo.findStore(deps.db, principal.tenantId, params.storeId))) throw notFound('LRS store');
      const page = await repo.listCredentials(deps.db, { storeId: params.storeId, includeRevoked: query.include_revoked ?? false, limit: query.limit ?? 50, cursor: query.cursor });
      return { data: page.rows.map(credentialView), next_cursor: page.nextCursor };
    },
  }),

  defineEndpoint({
    method: 'post', path: '/lrs/stores/:storeId/credentials', operationId: 'createLrsCredential', tags,
    summary: 'Create an xAPI credential (key + secret for HTTP Basic)',
    description: 'The secret is returned once and stored only as a keyed hash.',
    auth: { scope: 'lrs:write', roles: ['admin'] },
    params: StoreParams,
    body: Type.Object({
      name: Type.String({ minLength: 1, maxLength: 200 }),
      scopes: Type.Array(XapiScopeSchema, { minItems: 1, uniqueItems: true }),
    }, { additionalProperties: false }),
    responses: { 201: { description: 'Created; `secret` is shown only now', schema: Type.Intersect([Credential, Type.Object({ secret: Type.String() })]) } },
    async handler({ deps, db, principal, params, body, audit }) {
      const store = await repo.findStore(db, principal.tenantId, params.storeId);
      if (!store) throw notFound('LRS store');
      const { row, secret } = await createCredential(db, deps.secrets, deps.config, { tenantId: principal.tenantId, storeId: store.id, name: body.name, scopes: body.scopes }, deps.clock.now());
      audit({ action: 'lrs_credential.create', targetType: 'lrs_credential', targetId: row.id, details: { store_id: store.id, name: row.name, key: row.key, scopes: row.scopes } });
      return { ...credentialView(row), secret };
    },
  }),

  defineEndpoint({
    method: 'delete', path: '/lrs/stores/:storeId/credentials/:credentialId', operationId: 'revokeLrsCredential', tags,
    summary: 'Revoke an xAPI credential',
    auth: { scope: 'lrs:write', roles: ['admin'] },
    params: CredentialParams,
    responses: { 204: { description: 'Revoked' } },
    async handler({ deps, db, principal, params, audit }) {
      if (!(await repo.findStore(db, principal.tenantId, params.storeId))) throw notFound('LRS store');
      if (!(await repo.revokeCredential(db, params.storeId, params.credentialId, deps.clock.now()))) throw notFound('LRS credential');
      deps.xapiAuth.forget(params.credentialId);
      audit({ action: 'lrs_credential.revoke', targetType: 'lrs_credential', targetId: params.credentialId, details: { store_id: params.storeId } });
      return undefined;
    },
  }),
];

function storeView(row: repo.LrsStoreRow, publicUrl: string) {
  return {
    id: row.id, name: row.name, description: row.description, is_default: row.is_default,
    endpoint: `${publicUrl}/xapi/`,
    created_at: row.created_at.toISOString(), updated_at: row.updated_at.toISOString(),
  };
}
