import type { Queryable } from '../db/index.js';
import { paginate } from '../db/pagination.js';

export interface TenantRow {
  id: string;
  slug: string;
  name: string;
  require_mfa_for_admins: boolean;
  created_at: Date;
  updated_at: Date;
}

export const defaultTenantSlug = 'default';

export async function insertTenant(db: Queryable, tenant: { slug: string; name: string; require_mfa_for_admins?: boolean }, now: Date): Promise<TenantRow> {
  const [row] = await db<TenantRow>('tenants').insert({ ...tenant, created_at: now, updated_at: now }).returning('*');
  return row as TenantRow;
}

export async function findTenant(db: Queryable, id: string): Promise<TenantRow | undefined> {
  return db<TenantRow>('tenants').where({ id }).first();
}

export async function findTenantBySlug(db: Queryable, slug: string): Promise<TenantRow | undefined> {
  return db<TenantRow>('tenants').where({ slug }).first();
}

export async function listTenants(db: Queryable, options: { limit: number; cursor?: string | undefined; q?: string | undefined }) {
  const query = db<TenantRow>('tenants');
  if (options.q) {
    const pattern = `%${options.q.replace(/[%_\\]/g, '\\$&')}%`;
    query.where((w) => w.whereILike('name', pattern).orWhereILike('slug', pattern));
  }
  return paginate<TenantRow>(query, { limit: options.limit, cursor: options.cursor, sortColumn: 'created_at', idColumn: 'id' });
}

export async function updateTenant(db: Queryable, id: string, changes: Partial<Pick<TenantRow, 'name' | 'require_mfa_for_admins'>>, now: Date): Promise<TenantRow | undefined> {
  const [row] = await db<TenantRow>('tenants').where({ id }).update({ ...changes, updated_at: now }).returning('*');
  return row as TenantRow | undefined;
}

export async function deleteTenant(db: Queryable, id: string): Promise<boolean> {
  return (await db('tenants').where({ id }).delete()) > 0;
}
