import { randomBytes } from 'node:crypto';
import * as OTPAuth from 'otpauth';
import type { AppDeps } from '../deps.js';
import { AppError } from '../errors/index.js';
import { withTransaction, type Queryable } from '../db/index.js';
import { recordAudit } from '../audit/repository.js';
import type { RequestInfo } from '../http/request-info.js';
import { findUser, findUserByEmail, type UserRow } from '../users/repository.js';
import { findTenant, findTenantBySlug, defaultTenantSlug } from '../tenants/repository.js';
import { dummyPasswordHash, verifyPassword } from './passwords.js';
import { apiTokenPrefix, newApiToken, randomSecret, sha256Hex } from './tokens.js';
import type { MfaState, Principal, Scope } from './principal.js';
import * as repo from './repository.js';

export const sessionCookieName = 'cairn_session';

/** last_seen_at is written at most this often, so an active console costs one write a minute, not one per request. */
const touchIntervalMs = 60_000;

function mfaEnrollmentRequired(user: repo.AuthenticatedRow, mfa: MfaState): boolean {
  return user.require_mfa_for_admins && (user.role === 'admin' || user.is_system_admin) && user.mfa_enabled_at === null && mfa !== 'verified';
}

function principalFrom(user: repo.AuthenticatedRow, extra: Pick<Principal, 'via' | 'scopes' | 'mfa'> & Partial<Principal>): Principal {
  return {
    userId: user.id,
    tenantId: user.tenant_id,
    homeTenantId: user.tenant_id,
    email: user.email,
    name: user.name,
    role: user.role,
    isSystemAdmin: user.is_system_admin,
    mfaEnrollmentRequired: extra.via === 'session' ? mfaEnrollmentRequired(user, extra.mfa) : false,
    ...extra,
  };
}

/** Resolves a session cookie to a principal, ending sessions that are idle too long or too old. */
export async function authenticateSession(deps: AppDeps, cookieValue: string): Promise<Principal | undefined> {
  const id = sha256Hex(cookieValue);
  const found = await repo.findSessionWithUser(deps.db, id);
  if (!found) return undefined;
  const { session, user } = found;
  const now = deps.clock.now();
  const idleLimit = session.last_seen_at.getTime() + deps.config.sessionIdleMinutes * 60_000;
  if (now.getTime() > idleLimit || now >= session.expires_at || user.status !== 'active') {
    await repo.deleteSession(deps.db, id);
    return undefined;
  }
  if (now.getTime() - session.last_seen_at.getTime() > touchIntervalMs) await repo.touchSession(deps.db, id, now);
  return principalFrom(user, { via: 'session', scopes: 'all', mfa: session.mfa_state, sessionId: id });
}

/** Resolves `Authorization: Bearer cairn_pat_…`; throws 401 for a token that is unknown, expired or revoked. */
export async function authenticateToken(deps: AppDeps, token: string): Promise<Principal> {
  if (!token.startsWith(apiTokenPrefix)) throw new AppError('unauthenticated', 'The bearer token is not a Cairn API token.');
  const now = deps.clock.now();
  const hash = sha256Hex(token);
  const cached = deps.principalCache.get(hash, now.getTime());
  if (cached) return cached;
  const found = await repo.findActiveTokenWithUser(deps.db, hash, now);
  if (!found || found.user.status !== 'active') throw new AppError('unauthenticated', 'The API token is unknown, expired or revoked.');
  const { token: row, user } = found;
  if (!row.last_used_at || now.getTime() - row.last_used_at.getTime() > touchIntervalMs) await repo.touchApiToken(deps.db, row.id, now);
  const principal = principalFrom(user, { via: 'token', scopes: new Set(row.scopes), mfa: 'verified', tokenId: row.id, tokenName: row.name });
  deps.principalCache.set(hash, principal, now.getTime(), row.expires_at?.getTime());
  return principal;
}

/** A system admin may act inside another tenant by naming it (id or slug) in the `Cairn-Tenant` header. */
export async function switchTenant(db: Queryable, principal: Principal, tenantRef: string): Promise<Principal> {
  if (!principal.isSystemAdmin) throw new AppError('forbidden', 'Only system administrators may use the Cairn-Tenant header.');
  const isUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(tenantRef);
  const tenant = isUuid ? await findTenant(db, tenantRef) : await findTenantBySlug(db, tenantRef);
  if (!tenant) throw new AppError('not_found', `Tenant ${tenantRef} not found`);
  // A tenant that demands MFA of its admins demands it of operators acting in it too.
  const enrollmentRequired = principal.mfaEnrollmentRequired
    || (tenant.require_mfa_for_admins && principal.via === 'session' && principal.mfa !== 'verified');
  return { ...principal, tenantId: tenant.id, mfaEnrollmentRequired: enrollmentRequired };
}

export interface LoginResult {
  readonly cookieValue: string;
  readonly expiresAt: Date;
  readonly user: UserRow;
  readonly mfa: MfaState;
  readonly mfaEnrollmentRequired: boolean;
}

/**
 * Password login. Order matters: IP rate limit, then lock check (a locked account says so
 * without testing the password), then the password (a dummy hash when the user is unknown,
 * so timing reveals nothing), then suspension. Failures are counted and audited outside any
 * request transaction so a 401 cannot roll them back.
 */
export async function login(deps: AppDeps, input: { email: string; password: string; tenant?: string | undefined }, request: RequestInfo): Promise<LoginResult> {
  const { db, config, clock } = deps;
  const limited = await deps.rateLimiter.hit(`login:ip:${request.ip ?? 'unknown'}`, config.loginRateLimitPerMinute, 60);
  if (!limited.allowed) {
    throw new AppError('rate_limited', 'Too many login attempts from this address; try again shortly.', { headers: { 'Retry-After': String(limited.resetInSeconds) } });
  }
  const tenant = await findTenantBySlug(db, input.tenant ?? defaultTenantSlug);
  const user = tenant ? await findUserByEmail(db, tenant.id, input.email) : undefined;
  const now = clock.now();

  if (user?.locked_until && user.locked_until > now) {
    await recordAudit(db, [{ action: 'auth.login_locked', tenantId: user.tenant_id, actorUserId: user.id, actorLabel: user.email, targetType: 'user', targetId: user.id, principal: undefined, request, at: now }]);
    throw lockedError(user.locked_until, now);
  }

  const passwordOk = await verifyPassword(input.password, user?.password_hash ?? (await dummyPasswordHash()));
  if (!user || !user.password_hash || !passwordOk) {
    if (user) {
      const lockUntil = new Date(now.getTime() + config.loginLockoutMinutes * 60_000);
      const locked = await repo.recordLoginFailure(db, user.id, config.loginMaxFailures, lockUntil, now);
      await recordAudit(db, [
        { action: 'auth.login_failed', tenantId: user.tenant_id, actorUserId: user.id, actorLabel: user.email, targetType: 'user', targetId: user.id, principal: undefined, request, at: now },
        ...(locked ? [{ action: 'user.locked', tenantId: user.tenant_id, actorUserId: user.id, actorLabel: user.email, targetType: 'user', targetId: user.id, details: { until: locked.toISOString(), reason: 'failed_logins' }, principal: undefined, request, at: now }] : []),
      ]);
      if (locked) throw lockedError(locked, now);
    } else if (tenant) {
      await recordAudit(db, [{ action: 'auth.login_failed', tenantId: tenant.id, actorLabel: input.email.slice(0, 200), details: { reason: 'unknown_email' }, principal: undefined, request, at: now }]);
    }
    throw new AppError('invalid_credentials', 'The email or password is wrong.');
  }
  if (user.status !== 'active') throw new AppError('forbidden', 'This account is suspended.');

  const fullTenant = tenant!;
  const authUser: repo.AuthenticatedRow = { ...user, require_mfa_for_admins: fullTenant.require_mfa_for_admins };
  const mfa: MfaState = user.mfa_enabled_at ? 'pending' : 'not_enrolled';
  const cookieValue = randomSecret(32);
  const expiresAt = new Date(now.getTime() + config.sessionMaxHours * 3600_000);
  await withTransaction(db, async (tx) => {
    // With MFA the login is complete only after the code: resetting the failure count on the
    // password alone would let someone who knows it try codes forever, four at a time.
    if (mfa !== 'pending') await repo.recordLoginSuccess(tx, user.id, now);
    await repo.insertSession(tx, {
      id: sha256Hex(cookieValue), user_id: user.id, tenant_id: user.tenant_id, mfa_state: mfa,
      created_at: now, expires_at: expiresAt, ip: request.ip ?? null, user_agent: request.userAgent?.slice(0, 500) ?? null,
    });
    await recordAudit(tx, [{ action: 'auth.login', tenantId: user.tenant_id, actorUserId: user.id, actorLabel: user.email, targetType: 'user', targetId: user.id, details: { mfa }, principal: undefined, request, at: now }]);
  });
  return { cookieValue, expiresAt, user, mfa, mfaEnrollmentRequired: mfaEnrollmentRequired(authUser, mfa) };
}

function lockedError(until: Date, now: Date): AppError {
  const seconds = Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000));
  return new AppError('account_locked', `Too many failed logins; the account is locked until ${until.toISOString()}.`, {
    headers: { 'Retry-After': String(seconds) },
    extensions: { locked_until: until.toISOString() },
  });
}

export async function logout(deps: AppDeps, principal: Principal): Promise<void> {
  if (principal.sessionId) await repo.deleteSession(deps.db, principal.sessionId);
}

// ---------------------------------------------------------------------------------------
// TOTP (RFC 6238): SHA-1, 6 digits, 30-second steps, ±1 step of clock drift, as every
// authenticator app expects.

const mfaPurpose = 'mfa-totp';

function totpFor(secretBase32: string, email: string): OTPAuth.TOTP {
  return new OTPAuth.TOTP({ issuer: 'Cairn', label: email, algorithm: 'SHA1', digits: 6, period: 30, secret: OTPAuth.Secret.fromBase32(secretBase32) });
}

export async function startMfaEnrollment(deps: AppDeps, principal: Principal, db: Queryable): Promise<{ secret: string; otpauthUri: string }> {
  const user = await findUser(db, principal.homeTenantId, principal.userId);
  if (!user) throw new AppError('unauthenticated');
  if (user.mfa_enabled_at) throw new AppError('conflict', 'MFA is already enabled; disable it first to enroll a new authenticator.');
  const secret = new OTPAuth.Secret({ size: 20 }).base32;
  await repo.setPendingMfaSecret(db, user.id, deps.secrets.encrypt(mfaPurpose, secret));
  return { secret, otpauthUri: totpFor(secret, user.email).toString() };
}

/** Checks a 6-digit code and consumes its time step; false for a wrong or replayed code. */
async function checkTotp(deps: AppDeps, db: Queryable, user: UserRow, code: string): Promise<boolean> {
  if (!user.mfa_secret_encrypted || !/^\d{6}$/.test(code)) return false;
  const secret = deps.secrets.decrypt(mfaPurpose, user.mfa_secret_encrypted);
  const timestamp = deps.clock.now().getTime();
  const delta = totpFor(secret, user.email).validate({ token: code, timestamp, window: 1 });
  if (delta === null) return false;
  const step = Math.floor(timestamp / 30_000) + delta;
  return repo.advanceMfaStep(db, user.id, step);
}

/** 32 symbols without look-alikes (no l, o, 0, 1): each character is 5 random bits, 50 per code. */
const recoveryAlphabet = 'abcdefghijkmnpqrstuvwxyz23456789';

function newRecoveryCodes(): string[] {
  return Array.from({ length: 10 }, () => {
    const raw = [...randomBytes(10)].map((b) => recoveryAlphabet[b & 31]).join('');
    return `${raw.slice(0, 5)}-${raw.slice(5, 10)}`;
  });
}

export async function confirmMfaEnrollment(deps: AppDeps, principal: Principal, db: Queryable, code: string): Promise<{ recoveryCodes: string[] }> {
  const user = await findUser(db, principal.homeTenantId, principal.userId);
  if (!user) throw new AppError('unauthenticated');
  if (user.mfa_enabled_at) throw new AppError('conflict', 'MFA is already enabled.');
  if (!user.mfa_secret_encrypted) throw new AppError('conflict', 'Start enrollment first (POST /api/v1/auth/mfa/setup).');
  if (!(await checkTotp(deps, db, user, code))) {
    throw new AppError('invalid_credentials', 'The code does not match; check the authenticator app and the device clock.', { errors: [{ pointer: '/body/code', message: 'does not match' }] });
  }
  const recoveryCodes = newRecoveryCodes();
  await repo.markMfaEnabled(db, user.id, deps.clock.now());
  await repo.replaceRecoveryCodes(db, user.id, recoveryCodes.map(sha256Hex));
  if (principal.sessionId) {
    await repo.setSessionMfaState(db, principal.sessionId, 'verified');
    // Other sessions were opened without the second factor; end them.
    await repo.deleteUserSessions(db, user.id, principal.sessionId);
  }
  return { recoveryCodes };
}

/**
 * Second login step. Runs outside the request transaction: a wrong code counts toward the
 * account lockout (six digits are otherwise brute-forceable) and that count must persist.
 */
export async function verifyMfa(deps: AppDeps, principal: Principal, input: { code?: string | undefined; recoveryCode?: string | undefined }, request: RequestInfo): Promise<void> {
  const { db, config, clock } = deps;
  if (principal.mfa !== 'pending' || !principal.sessionId) throw new AppError('conflict', 'This session is not waiting for an MFA code.');
  const user = await findUser(db, principal.homeTenantId, principal.userId);
  if (!user) throw new AppError('unauthenticated');
  const now = clock.now();
  if (user.locked_until && user.locked_until > now) throw lockedError(user.locked_until, now);
  const ok = input.code !== undefined
    ? await checkTotp(deps, db, user, input.code)
    : input.recoveryCode !== undefined && (await repo.consumeRecoveryCode(db, user.id, sha256Hex(input.recoveryCode.trim().toLowerCase()), now));
  if (!ok) {
    const locked = await repo.recordLoginFailure(db, user.id, config.loginMaxFailures, new Date(now.getTime() + config.loginLockoutMinutes * 60_000), now);
    await recordAudit(db, [
      { action: 'auth.mfa_failed', principal, request, at: now, targetType: 'user', targetId: user.id },
      ...(locked ? [{ action: 'user.locked', principal, request, at: now, targetType: 'user', targetId: user.id, details: { until: locked.toISOString(), reason: 'failed_mfa_codes' } }] : []),
    ]);
    if (locked) {
      await repo.deleteSession(db, principal.sessionId);
      throw lockedError(locked, now);
    }
    throw new AppError('invalid_credentials', 'The code is wrong or was already used.');
  }
  await withTransaction(db, async (tx) => {
    await repo.setSessionMfaState(tx, principal.sessionId!, 'verified');
    await repo.recordLoginSuccess(tx, user.id, now);
    await recordAudit(tx, [{ action: 'auth.mfa_verified', principal, request, at: now, targetType: 'user', targetId: user.id, details: { method: input.code !== undefined ? 'totp' : 'recovery_code' } }]);
  });
}

export async function disableMfa(db: Queryable, tenantId: string, userId: string): Promise<void> {
  if (!(await repo.clearMfa(db, tenantId, userId))) throw new AppError('not_found', 'User not found');
}

// ---------------------------------------------------------------------------------------
// API tokens

export async function createApiToken(deps: AppDeps, db: Queryable, principal: Principal, input: { name: string; scopes: Scope[]; expiresInDays?: number | undefined }) {
  if (principal.scopes !== 'all') {
    const missing = input.scopes.filter((s) => !(principal.scopes as ReadonlySet<Scope>).has(s));
    if (missing.length > 0) throw new AppError('forbidden', `A token cannot grant scopes it lacks: ${missing.join(', ')}.`);
  }
  const now = deps.clock.now();
  let expiresAt = input.expiresInDays ? new Date(now.getTime() + input.expiresInDays * 86_400_000) : null;
  // A token minting a token must not extend its own life: a leaked short-lived token could
  // otherwise turn itself into a permanent one. The child ends with its parent at the latest.
  if (principal.via === 'token' && principal.tokenId) {
    const parent = await repo.findApiToken(db, principal.homeTenantId, principal.tokenId);
    if (parent?.expires_at) {
      if (expiresAt && expiresAt > parent.expires_at) {
        throw new AppError('forbidden', `A token cannot create a token that outlives it (this one expires at ${parent.expires_at.toISOString()}).`);
      }
      expiresAt ??= parent.expires_at;
    }
  }
  const { token, hash, displayPrefix } = newApiToken();
  const row = await repo.insertApiToken(db, {
    user_id: principal.userId,
    tenant_id: principal.homeTenantId,
    name: input.name,
    token_hash: hash,
    token_prefix: displayPrefix,
    scopes: [...new Set(input.scopes)],
    expires_at: expiresAt,
    created_at: now,
  });
  return { row, token };
}
