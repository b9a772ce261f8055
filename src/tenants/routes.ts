import { Type } from 'typebox';
import { defineEndpoint, type AnyEndpoint } from '../http/endpoint.js';
import { DateTime, Email, Uuid } from '../http/schemas.js';
import { paginationQuery, pageSchema } from '../db/pagination.js';
import { AppError, notFound } from '../errors/index.js';
import { assertPasswordPolicy, hashPassword } from '../auth/passwords.js';
import { insertUser } from '../users/repository.js';
import { User, userView } from '../users/schemas.js';
import * as repo from './repository.js';
import { listStoreIds } from '../xapi/auth/repository.js';

const tags = ['Tenants'];

const Tenant = Type.Object({
  id: Uuid(),
  slug: Type.String(),
  name: Type.String(),
  require_mfa_for_admins: Type.Boolean(),
  created_at: DateTime(),
  updated_at: DateTime(),
});

function tenantView(row: repo.TenantRow) {
  return {
    id: row.id, slug: row.slug, name: row.name, require_mfa_for_admins: row.require_mfa_for_admins,
    created_at: row.created_at.toISOString(), updated_at: row.updated_at.toISOString(),
  };
}

const TenantChanges = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  require_mfa_for_admins: Type.Optional(Type.Boolean({ description: 'Admins without MFA must enroll before doing anything else.' })),
}, { additionalProperties: false, minProperties: 1 });

const TenantParams = Type.Object({ tenantId: Uuid() });

export const tenantEndpoints: AnyEndpoint[] = [
  defineEndpoint({
    method: 'get', path: '/tenant', operationId: 'getCurrentTenant', tags,
    summary: 'The tenant the caller acts in',
    auth: { scope: 'tenants:read' },
    responses: { 200: { description: 'Tenant', schema: Tenant } },
    async handler({ deps, principal }) {
      const tenant = await repo.findTenant(deps.db, principal.tenantId);
      if (!tenant) throw notFound('Tenant');
      return tenantView(tenant);
    },
  }),

  defineEndpoint({
    method: 'patch', path: '/tenant', operationId: 'updateCurrentTenant', tags,
    summary: 'Change the settings of one\'s own tenant',
    auth: { scope: 'tenants:write', roles: ['admin'] },
    body: TenantChanges,
    responses: { 200: { description: 'Updated', schema: Tenant } },
    async handler({ deps, db, principal, body, audit }) {
      const tenant = await repo.updateTenant(db, principal.tenantId, body, deps.clock.now());
      if (!tenant) throw notFound('Tenant');
      audit({ action: 'tenant.update', targetType: 'tenant', targetId: tenant.id, details: body });
      return tenantView(tenant);
    },
  }),

  defineEndpoint({
    method: 'get', path: '/tenants', operationId: 'listTenants', tags,
    summary: 'List all tenants (system administrators)',
    auth: { scope: 'tenants:read', systemAdmin: true },
    query: Type.Object({ ...paginationQuery, q: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false }),
    responses: { 200: { description: 'A page of tenants', schema: pageSchema(Tenant) } },
    async handler({ deps, query }) {
      const page = await repo.listTenants(deps.db, { limit: query.limit ?? 50, cursor: query.cursor, q: query.q });
      return { data: page.rows.map(tenantView), next_cursor: page.nextCursor };
    },
  }),

  defineEndpoint({
    method: 'post', path: '/tenants', operationId: 'createTenant', tags,
    summary: 'Create a tenant, optionally with its first admin',
    auth: { scope: 'tenants:write', systemAdmin: true },
    body: Type.Object({
      slug: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$', description: 'Lower-case letters, digits and dashes; used at login' }),
      name: Type.String({ minLength: 1, maxLength: 200 }),
      require_mfa_for_admins: Type.Optional(Type.Boolean()),
      admin: Type.Optional(Type.Object({
        email: Email,
        name: Type.Optional(Type.String({ maxLength: 200 })),
        password: Type.String(),
      }, { additionalProperties: false })),
    }, { additionalProperties: false }),
    responses: { 201: { description: 'Created', schema: Type.Object({ tenant: Tenant, admin: Type.Union([User, Type.Null()]) }) } },
    async handler({ deps, db, body, audit, reply }) {
      if (await repo.findTenantBySlug(db, body.slug)) {
        throw new AppError('conflict', 'A tenant with this slug already exists.', { errors: [{ pointer: '/body/slug', message: 'is taken' }] });
      }
      if (body.admin) assertPasswordPolicy(body.admin.password, '/body/admin/password', body.admin.email);
      const now = deps.clock.now();
      const tenant = await repo.insertTenant(db, { slug: body.slug, name: body.name, require_mfa_for_admins: body.require_mfa_for_admins ?? false }, now);
      const admin = body.admin
        ? await insertUser(db, { tenant_id: tenant.id, email: body.admin.email, name: body.admin.name ?? '', role: 'admin', password_hash: await hashPassword(body.admin.password) }, now)
        : null;
      audit({ action: 'tenant.create', targetType: 'tenant', targetId: tenant.id, details: { slug: tenant.slug, admin_email: admin?.email ?? null } });
      reply.header('Location', `/api/v1/tenants/${tenant.id}`);
      return { tenant: tenantView(tenant), admin: admin ? userView(admin, now) : null };
    },
  }),

  defineEndpoint({
    method: 'get', path: '/tenants/:tenantId', operationId: 'getTenant', tags,
    summary: 'Get a tenant (system administrators)',
    auth: { scope: 'tenants:read', systemAdmin: true },
    params: TenantParams,
    responses: { 200: { description: 'Tenant', schema: Tenant } },
    async handler({ deps, params }) {
      const tenant = await repo.findTenant(deps.db, params.tenantId);
      if (!tenant) throw notFound('Tenant');
      return tenantView(tenant);
    },
  }),

  defineEndpoint({
    method: 'patch', path: '/tenants/:tenantId', operationId: 'updateTenant', tags,
    summary: 'Update a tenant (system administrators)',
    auth: { scope: 'tenants:write', systemAdmin: true },
    params: TenantParams,
    body: TenantChanges,
    responses: { 200: { description: 'Updated', schema: Tenant } },
    async handler({ deps, db, params, body, audit }) {
      const tenant = await repo.updateTenant(db, params.tenantId, body, deps.clock.now());
      if (!tenant) throw notFound('Tenant');
      audit({ action: 'tenant.update', targetType: 'tenant', targetId: tenant.id, details: body });
      return tenantView(tenant);
    },
  }),

  defineEndpoint({
    method: 'delete', path: '/tenants/:tenantId', operationId: 'deleteTenant', tags,
    summary: 'Delete a tenant and everything in it (system administrators)',
    auth: { scope: 'tenants:write', systemAdmin: true },
    params: TenantParams,
    responses: { 204: { description: 'Deleted' } },
    async handler({ deps, db, principal, params, audit, afterCommit }) {
      if (params.tenantId === principal.homeTenantId) throw new AppError('conflict', 'You cannot delete the tenant you belong to.');
      const tenant = await repo.findTenant(db, params.tenantId);
      if (!tenant) throw notFound('Tenant');
      const storeIds = await listStoreIds(db, tenant.id);
      await repo.deleteTenant(db, params.tenantId);
      deps.principalCache.clear();
      for (const storeId of storeIds) deps.xapiAuth.forgetStore(storeId);
      // Files belong to the tenant too: package content, pending imports, LRS attachments and documents.
      afterCommit(async () => {
        for (const prefix of [`scorm/${tenant.id}/`, `imports/${tenant.id}/`, ...storeIds.flatMap((id) => [`xapi/${id}/`, `xapi-documents/${id}/`])]) {
          await deps.blobs.deletePrefix(prefix);
        }
      });
      audit({ action: 'tenant.delete', targetType: 'tenant', targetId: tenant.id, details: { slug: tenant.slug } });
      return undefined;
    },
  }),
];
