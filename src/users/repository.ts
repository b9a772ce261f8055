import type { Queryable } from '../db/index.js';
import { paginate } from '../db/pagination.js';
import type { TenantRole } from '../auth/principal.js';

export interface UserRow {
  id: string;
  tenant_id: string;
  email: string;
  name: string;
  role: TenantRole;
  is_system_admin: boolean;
  status: 'active' | 'suspended';
  password_hash: string | null;
  failed_login_count: number;
  locked_until: Date | null;
  last_login_at: Date | null;
  mfa_secret_encrypted: string | null;
  mfa_enabled_at: Date | null;
  mfa_last_step: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface NewUser {
  readonly tenant_id: string;
  readonly email: string;
  readonly name: string;
  readonly role: TenantRole;
  readonly is_system_admin?: boolean;
  readonly status?: 'active' | 'suspended';
  readonly password_hash?: string | null;
}

export async function insertUser(db: Queryable, user: NewUser, now: Date): Promise<UserRow> {
  const [row] = await db<UserRow>('users').insert({ ...user, email: user.email.toLowerCase(), created_at: now, updated_at: now }).returning('*');
  return row as UserRow;
}

export async function findUser(db: Queryable, tenantId: string, id: string): Promise<UserRow | undefined> {
  return db<UserRow>('users').where({ tenant_id: tenantId, id }).first();
}

export async function findUserByEmail(db: Queryable, tenantId: string, email: string): Promise<UserRow | undefined> {
  return db<UserRow>('users').where({ tenant_id: tenantId, email: email.toLowerCase() }).first();
}

export async function updateUser(db: Queryable, tenantId: string, id: string, changes: Partial<UserRow>, now: Date): Promise<UserRow | undefined> {
  const [row] = await db<UserRow>('users').where({ tenant_id: tenantId, id }).update({ ...changes, updated_at: now }).returning('*');
  return row as UserRow | undefined;
}

export async function deleteUser(db: Queryable, tenantId: string, id: string): Promise<boolean> {
  return (await db('users').where({ tenant_id: tenantId, id }).delete()) > 0;
}

export interface UserFilter {
  readonly tenantId: string;
  readonly role?: TenantRole | undefined;
  readonly status?: 'active' | 'suspended' | undefined;
  readonly email?: string | undefined;
  /** Case-insensitive substring of name or email. */
  readonly q?: string | undefined;
  readonly limit: number;
  readonly cursor?: string | undefined;
}

export async function listUsers(db: Queryable, filter: UserFilter) {
  const query = db<UserRow>('users').where('tenant_id', filter.tenantId);
  if (filter.role) query.where('role', filter.role);
  if (filter.status) query.where('status', filter.status);
  if (filter.email) query.where('email', filter.email.toLowerCase());
  if (filter.q) {
    const pattern = `%${filter.q.replace(/[%_\\]/g, '\\$&')}%`;
    query.where((w) => w.whereILike('name', pattern).orWhereILike('email', pattern));
  }
  return paginate<UserRow>(query, { limit: filter.limit, cursor: filter.cursor, sortColumn: 'created_at', idColumn: 'id' });
}

export async function countActiveAdmins(db: Queryable, tenantId: string): Promise<number> {
  const row = await db('users').where({ tenant_id: tenantId, role: 'admin', status: 'active' }).count<{ count: string }[]>('* as count').first();
  return Number(row?.count ?? 0);
}

export async function systemAdminExists(db: Queryable): Promise<boolean> {
  return (await db('users').where({ is_system_admin: true }).first('id')) !== undefined;
}
