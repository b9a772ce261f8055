import type { Queryable } from '../db/index.js';
import { paginate } from '../db/pagination.js';
import type { UserRow } from '../users/repository.js';
import type { MfaState, Scope } from './principal.js';

export interface SessionRow {
  id: string;
  user_id: string;
  tenant_id: string;
  mfa_state: MfaState;
  created_at: Date;
  last_seen_at: Date;
  expires_at: Date;
  ip: string | null;
  user_agent: string | null;
}

/** A session or token joined with its user and the user's tenant policy: one query per request. */
export type AuthenticatedRow = UserRow & { require_mfa_for_admins: boolean };

export async function insertSession(db: Queryable, session: Omit<SessionRow, 'last_seen_at'>): Promise<void> {
  await db('sessions').insert({ ...session, last_seen_at: session.created_at });
}

export async function findSessionWithUser(db: Queryable, id: string): Promise<{ session: SessionRow; user: AuthenticatedRow } | undefined> {
  const row = await db('sessions as s')
    .join('users as u', 'u.id', 's.user_id')
    .join('tenants as t', 't.id', 'u.tenant_id')
    .where('s.id', id)
    .select(
      'u.*', 't.require_mfa_for_admins',
      's.id as s_id', 's.mfa_state as s_mfa_state', 's.created_at as s_created_at', 's.last_seen_at as s_last_seen_at',
      's.expires_at as s_expires_at', 's.ip as s_ip', 's.user_agent as s_user_agent',
    )
    .first();
  if (!row) return undefined;
  const { s_id, s_mfa_state, s_created_at, s_last_seen_at, s_expires_at, s_ip, s_user_agent, ...user } = row as Record<string, unknown>;
  return {
    session: {
      id: s_id as string, user_id: user['id'] as string, tenant_id: user['tenant_id'] as string, mfa_state: s_mfa_state as MfaState,
      created_at: s_created_at as Date, last_seen_at: s_last_seen_at as Date, expires_at: s_expires_at as Date,
      ip: s_ip as string | null, user_agent: s_user_agent as string | null,
    },
    user: user as unknown as AuthenticatedRow,
  };
}

export async function touchSession(db: Queryable, id: string, now: Date): Promise<void> {
  await db('sessions').where({ id }).update({ last_seen_at: now });
}

export async function setSessionMfaState(db: Queryable, id: string, state: MfaState): Promise<void> {
  await db('sessions').where({ id }).update({ mfa_state: state });
}

export async function deleteSession(db: Queryable, id: string): Promise<void> {
  await db('sessions').where({ id }).delete();
}

/** Ends every session of a user except, optionally, the current one (password change, suspension). */
export async function deleteUserSessions(db: Queryable, userId: string, exceptId?: string): Promise<number> {
  const query = db('sessions').where({ user_id: userId });
  if (exceptId) query.whereNot({ id: exceptId });
  return query.delete();
}

export async function purgeExpiredSessions(db: Queryable, now: Date): Promise<number> {
  return db('sessions').where('expires_at', '<', now).delete();
}

export interface ApiTokenRow {
  id: string;
  user_id: string;
  tenant_id: string;
  name: string;
  token_hash: string;
  token_prefix: string;
  scopes: Scope[];
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
  created_at: Date;
}

export async function insertApiToken(db: Queryable, token: Omit<ApiTokenRow, 'id' | 'last_used_at' | 'revoked_at'>): Promise<ApiTokenRow> {
  const [row] = await db<ApiTokenRow>('api_tokens').insert(token).returning('*');
  return row as ApiTokenRow;
}

export async function findActiveTokenWithUser(db: Queryable, hash: string, now: Date): Promise<{ token: ApiTokenRow; user: AuthenticatedRow } | undefined> {
  const row = await db('api_tokens as k')
    .join('users as u', 'u.id', 'k.user_id')
    .join('tenants as t', 't.id', 'u.tenant_id')
    .where('k.token_hash', hash)
    .whereNull('k.revoked_at')
    .where((w) => w.whereNull('k.expires_at').orWhere('k.expires_at', '>', now))
    .select('u.*', 't.require_mfa_for_admins', 'k.id as k_id', 'k.name as k_name', 'k.scopes as k_scopes', 'k.last_used_at as k_last_used_at', 'k.expires_at as k_expires_at')
    .first();
  if (!row) return undefined;
  const { k_id, k_name, k_scopes, k_last_used_at, k_expires_at, ...user } = row as Record<string, unknown>;
  return {
    token: { id: k_id, name: k_name, scopes: k_scopes, last_used_at: k_last_used_at, expires_at: k_expires_at } as ApiTokenRow,
    user: user as unknown as AuthenticatedRow,
  };
}

export async function touchApiToken(db: Queryable, id: string, now: Date): Promise<void> {
  await db('api_tokens').where({ id }).update({ last_used_at: now });
}

export async function findApiToken(db: Queryable, tenantId: string, id: string): Promise<ApiTokenRow | undefined> {
  return db<ApiTokenRow>('api_tokens').where({ tenant_id: tenantId, id }).first();
}

export async function revokeApiToken(db: Queryable, id: string, now: Date): Promise<void> {
  await db('api_tokens').where({ id }).whereNull('revoked_at').update({ revoked_at: now });
}

export async function listApiTokens(db: Queryable, filter: { tenantId: string; userId?: string | undefined; includeRevoked: boolean; limit: number; cursor?: string | undefined }) {
  const query = db<ApiTokenRow>('api_tokens').where('tenant_id', filter.tenantId);
  if (filter.userId) query.where('user_id', filter.userId);
  if (!filter.includeRevoked) query.whereNull('revoked_at');
  return paginate<ApiTokenRow>(query, { limit: filter.limit, cursor: filter.cursor, sortColumn: 'created_at', idColumn: 'id' });
}

/**
 * Counts a failed login atomically and locks the account when the count reaches the limit.
 * Returns the lock expiry when this failure locked it.
 */
export async function recordLoginFailure(db: Queryable, userId: string, maxFailures: number, lockUntil: Date, now: Date): Promise<Date | null> {
  const [row] = await db('users')
    .where({ id: userId })
    .update({
      failed_login_count: db.raw('case when failed_login_count + 1 >= ? then 0 else failed_login_count + 1 end', [maxFailures]),
      locked_until: db.raw('case when failed_login_count + 1 >= ? then ?::timestamptz else locked_until end', [maxFailures, lockUntil]),
      updated_at: now,
    })
    .returning(['locked_until']);
  const locked = (row as { locked_until: Date | null } | undefined)?.locked_until ?? null;
  return locked && locked.getTime() === lockUntil.getTime() ? locked : null;
}

export async function recordLoginSuccess(db: Queryable, userId: string, now: Date): Promise<void> {
  await db('users').where({ id: userId }).update({ failed_login_count: 0, locked_until: null, last_login_at: now });
}

export async function replaceRecoveryCodes(db: Queryable, userId: string, hashes: readonly string[]): Promise<void> {
  await db('mfa_recovery_codes').where({ user_id: userId }).delete();
  if (hashes.length > 0) await db('mfa_recovery_codes').insert(hashes.map((code_hash) => ({ user_id: userId, code_hash })));
}

/** Marks a recovery code used; false when it does not exist or was used already. */
export async function consumeRecoveryCode(db: Queryable, userId: string, hash: string, now: Date): Promise<boolean> {
  const updated = await db('mfa_recovery_codes').where({ user_id: userId, code_hash: hash }).whereNull('used_at').update({ used_at: now });
  return updated > 0;
}

/** Accepts a TOTP step only if it is newer than the last accepted one (no replay). */
export async function advanceMfaStep(db: Queryable, userId: string, step: number): Promise<boolean> {
  const updated = await db('users')
    .where({ id: userId })
    .where((w) => w.whereNull('mfa_last_step').orWhere('mfa_last_step', '<', step))
    .update({ mfa_last_step: step });
  return updated > 0;
}

export async function setPendingMfaSecret(db: Queryable, userId: string, sealedSecret: string): Promise<void> {
  await db('users').where({ id: userId }).update({ mfa_secret_encrypted: sealedSecret, mfa_last_step: null });
}

export async function markMfaEnabled(db: Queryable, userId: string, now: Date): Promise<void> {
  await db('users').where({ id: userId }).update({ mfa_enabled_at: now });
}

export async function clearMfa(db: Queryable, tenantId: string, userId: string): Promise<boolean> {
  const updated = await db('users').where({ tenant_id: tenantId, id: userId }).update({ mfa_secret_encrypted: null, mfa_enabled_at: null, mfa_last_step: null });
  await db('mfa_recovery_codes').where({ user_id: userId }).delete();
  return updated > 0;
}
