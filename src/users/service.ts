import type { Static } from 'typebox';
import type { Queryable } from '../db/index.js';
import { AppError, notFound } from '../errors/index.js';
import { isTenantAdmin, type Principal } from '../auth/principal.js';
import { assertPasswordPolicy, hashPassword } from '../auth/passwords.js';
import { deleteUserSessions } from '../auth/repository.js';
import { disableMfa } from '../auth/service.js';
import type { Clock } from '../deps.js';
import * as repo from './repository.js';
import type { CreateUserBody, UpdateUserBody } from './schemas.js';

export async function createUser(db: Queryable, clock: Clock, principal: Principal, input: Static<typeof CreateUserBody>): Promise<repo.UserRow> {
  if (input.is_system_admin && !principal.isSystemAdmin) throw new AppError('forbidden', 'Only system administrators may create system administrators.');
  if (input.password !== undefined) assertPasswordPolicy(input.password, '/body/password', input.email);
  const existing = await repo.findUserByEmail(db, principal.tenantId, input.email);
  if (existing) throw new AppError('conflict', 'A user with this email already exists in this tenant.', { errors: [{ pointer: '/body/email', message: 'is taken' }] });
  return repo.insertUser(db, {
    tenant_id: principal.tenantId,
    email: input.email,
    name: input.name ?? '',
    role: input.role,
    is_system_admin: input.is_system_admin ?? false,
    status: input.status ?? 'active',
    password_hash: input.password !== undefined ? await hashPassword(input.password) : null,
  }, clock.now());
}

/**
 * A system administrator's account is above any one tenant: a tenant admin who could set its
 * password, email or MFA would become a system administrator. Only operators manage operators.
 */
function assertMayManage(principal: Principal, user: repo.UserRow): void {
  if (user.is_system_admin && !principal.isSystemAdmin) {
    throw new AppError('forbidden', 'Only system administrators may change a system administrator\'s account.');
  }
}

/** Lost authenticator: removes the enrollment and ends the user's sessions. */
export async function resetMfa(db: Queryable, principal: Principal, userId: string): Promise<repo.UserRow> {
  const user = await repo.findUser(db, principal.tenantId, userId);
  if (!user) throw notFound('User');
  assertMayManage(principal, user);
  await disableMfa(db, user.tenant_id, user.id);
  await deleteUserSessions(db, user.id);
  return user;
}

/**
 * Admin edits of another user. Guards keep a tenant administrable: an admin cannot demote,
 * suspend or delete the last active admin, and cannot demote or suspend themselves.
 */
export async function updateUser(db: Queryable, clock: Clock, principal: Principal, userId: string, input: Static<typeof UpdateUserBody>): Promise<{ user: repo.UserRow; changed: string[] }> {
  const user = await repo.findUser(db, principal.tenantId, userId);
  if (!user) throw notFound('User');
  assertMayManage(principal, user);
  if (input.is_system_admin !== undefined && !principal.isSystemAdmin) throw new AppError('forbidden', 'Only system administrators may change is_system_admin.');
  const self = user.id === principal.userId;
  if (self && ((input.role && input.role !== user.role) || input.status === 'suspended' || input.is_system_admin === false)) {
    throw new AppError('conflict', 'You cannot demote or suspend yourself; ask another administrator.');
  }
  const losesAdmin = user.role === 'admin' && user.status === 'active' && ((input.role !== undefined && input.role !== 'admin') || input.status === 'suspended');
  if (losesAdmin && (await repo.countActiveAdmins(db, principal.tenantId)) <= 1) {
    throw new AppError('conflict', 'This is the last active admin of the tenant.');
  }
  const changes: Partial<repo.UserRow> = {};
  if (input.email !== undefined && input.email.toLowerCase() !== user.email) {
    const clash = await repo.findUserByEmail(db, principal.tenantId, input.email);
    if (clash) throw new AppError('conflict', 'A user with this email already exists in this tenant.', { errors: [{ pointer: '/body/email', message: 'is taken' }] });
    changes.email = input.email.toLowerCase();
  }
  if (input.name !== undefined) changes.name = input.name;
  if (input.role !== undefined) changes.role = input.role;
  if (input.status !== undefined) changes.status = input.status;
  if (input.is_system_admin !== undefined) changes.is_system_admin = input.is_system_admin;
  if (input.password !== undefined) {
    assertPasswordPolicy(input.password, '/body/password', changes.email ?? user.email);
    changes.password_hash = await hashPassword(input.password);
  }
  const updated = await repo.updateUser(db, principal.tenantId, userId, changes, clock.now());
  if (!updated) throw notFound('User');
  // A new password, suspension or role change should not leave old sessions holding old rights.
  if (input.password !== undefined || input.status === 'suspended' || input.role !== undefined) {
    await deleteUserSessions(db, userId, self ? principal.sessionId : undefined);
  }
  return { user: updated, changed: Object.keys(input).map((k) => (k === 'password' ? 'password' : k)) };
}

export async function deleteUser(db: Queryable, principal: Principal, userId: string): Promise<repo.UserRow> {
  const user = await repo.findUser(db, principal.tenantId, userId);
  if (!user) throw notFound('User');
  assertMayManage(principal, user);
  if (user.id === principal.userId) throw new AppError('conflict', 'You cannot delete yourself.');
  if (user.role === 'admin' && user.status === 'active' && (await repo.countActiveAdmins(db, principal.tenantId)) <= 1) {
    throw new AppError('conflict', 'This is the last active admin of the tenant.');
  }
  await repo.deleteUser(db, principal.tenantId, userId);
  return user;
}

/** Admins read anyone in their tenant; everyone reads themselves. */
export async function getUser(db: Queryable, principal: Principal, userId: string): Promise<repo.UserRow> {
  if (!isTenantAdmin(principal) && userId !== principal.userId) throw notFound('User');
  const user = await repo.findUser(db, principal.tenantId, userId);
  if (!user) throw notFound('User');
  return user;
}

export async function unlockUser(db: Queryable, clock: Clock, principal: Principal, userId: string): Promise<repo.UserRow> {
  const user = await repo.updateUser(db, principal.tenantId, userId, { locked_until: null, failed_login_count: 0 }, clock.now());
  if (!user) throw notFound('User');
  return user;
}
