import type { Logger } from 'pino';
import type { Config } from './config/index.js';
import { withTransaction, type Db } from './db/index.js';
import type { Clock } from './deps.js';
import { recordAudit } from './audit/repository.js';
import { generatePassword, hashPassword } from './auth/passwords.js';
import { clearMfa, deleteUserSessions } from './auth/repository.js';
import { defaultTenantSlug, findTenantBySlug, insertTenant } from './tenants/repository.js';
import { findUserByEmail, insertUser, systemAdminExists, updateUser } from './users/repository.js';

export interface FirstAdmin {
  readonly email: string;
  /** Present only when Cairn generated it; printed once and never stored in clear. */
  readonly generatedPassword?: string;
}

/**
 * At first start: the default tenant and a system administrator. Runs under an advisory lock
 * so several nodes starting together create exactly one. Returns undefined when an admin
 * already existed.
 */
export async function ensureFirstAdmin(db: Db, config: Config, clock: Clock, log: Logger): Promise<FirstAdmin | undefined> {
  return withTransaction(db, async (tx) => {
    await tx.raw('select pg_advisory_xact_lock(hashtext(?))', ['cairn:first-admin']);
    if (await systemAdminExists(tx)) return undefined;
    const now = clock.now();
    const tenant = (await findTenantBySlug(tx, defaultTenantSlug)) ?? (await insertTenant(tx, { slug: defaultTenantSlug, name: 'Default' }, now));
    const generatedPassword = config.adminPassword === undefined ? generatePassword() : undefined;
    const user = await insertUser(tx, {
      tenant_id: tenant.id,
      email: config.adminEmail,
      name: 'Administrator',
      role: 'admin',
      is_system_admin: true,
      password_hash: await hashPassword(config.adminPassword ?? generatedPassword!),
    }, now);
    await recordAudit(tx, [{ action: 'user.create', tenantId: tenant.id, actorLabel: 'system (first start)', targetType: 'user', targetId: user.id, details: { email: user.email, role: 'admin', system_admin: true }, principal: undefined, request: undefined, at: now }]);
    log.info({ email: user.email }, 'created the first administrator');
    return { email: user.email, ...(generatedPassword ? { generatedPassword } : {}) };
  });
}

/**
 * `npm run cairn -- create-admin`: creates an admin in a tenant, or resets the password of an
 * existing one (the recovery path when every admin is locked out). A reset also ends the
 * account's sessions, as any password change does, and with `resetMfa` removes its
 * authenticator for an admin who lost both the device and the recovery codes.
 */
export async function createAdmin(db: Db, clock: Clock, input: { email: string; password: string; tenant: string; systemAdmin: boolean; resetMfa?: boolean }): Promise<{ created: boolean; systemAdmin: boolean }> {
  return withTransaction(db, async (tx) => {
    // Same lock as the first start, so a server starting meanwhile does not add a second first admin.
    await tx.raw('select pg_advisory_xact_lock(hashtext(?))', ['cairn:first-admin']);
    const now = clock.now();
    // The default tenant is created at first start; an install prepared from the command line
    // before the server ever ran gets it here.
    const tenant = (await findTenantBySlug(tx, input.tenant))
      ?? (input.tenant === defaultTenantSlug ? await insertTenant(tx, { slug: defaultTenantSlug, name: 'Default' }, now) : undefined);
    if (!tenant) throw new Error(`No tenant with slug "${input.tenant}"`);
    // With no system administrator yet, this one becomes it: otherwise nobody could manage
    // tenants, and the server would still generate its own first admin at start.
    const systemAdmin = input.systemAdmin || !(await systemAdminExists(tx));
    const passwordHash = await hashPassword(input.password);
    const existing = await findUserByEmail(tx, tenant.id, input.email);
    if (existing) {
      await updateUser(tx, tenant.id, existing.id, { password_hash: passwordHash, role: 'admin', status: 'active', locked_until: null, failed_login_count: 0, is_system_admin: existing.is_system_admin || systemAdmin }, now);
      await deleteUserSessions(tx, existing.id);
      if (input.resetMfa) await clearMfa(tx, tenant.id, existing.id);
    } else {
      await insertUser(tx, { tenant_id: tenant.id, email: input.email, name: 'Administrator', role: 'admin', is_system_admin: systemAdmin, password_hash: passwordHash }, now);
    }
    const user = (await findUserByEmail(tx, tenant.id, input.email))!;
    await recordAudit(tx, [{ action: existing ? 'user.admin_reset' : 'user.create', tenantId: tenant.id, actorLabel: 'system (command line)', targetType: 'user', targetId: user.id, details: { email: input.email, system_admin: user.is_system_admin, ...(existing && input.resetMfa ? { mfa_reset: true } : {}) }, principal: undefined, request: undefined, at: now }]);
    return { created: !existing, systemAdmin: user.is_system_admin };
  });
}
