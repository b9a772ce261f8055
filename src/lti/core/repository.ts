import type { Queryable } from '../../db/index.js';

// Keys --------------------------------------------------------------------------------------

export type KeyStatus = 'next' | 'current' | 'previous' | 'retired';

export interface KeyRow {
  kid: string;
  alg: string;
  public_jwk: Record<string, unknown>;
  private_key_encrypted: string | null;
  status: KeyStatus;
  created_at: Date;
  activated_at: Date | null;
  deactivated_at: Date | null;
  published_until: Date | null;
}

export async function listKeys(db: Queryable, statuses?: readonly KeyStatus[]): Promise<KeyRow[]> {
  const query = db<KeyRow>('lti_keys').orderBy('created_at', 'desc');
  if (statuses) query.whereIn('status', statuses as KeyStatus[]);
  return query;
}

export async function findKey(db: Queryable, kid: string): Promise<KeyRow | undefined> {
  return db<KeyRow>('lti_keys').where({ kid }).first();
}

export async function findKeyByStatus(db: Queryable, status: 'current' | 'next'): Promise<KeyRow | undefined> {
  return db<KeyRow>('lti_keys').where({ status }).first();
}

export async function insertKey(db: Queryable, row: Omit<KeyRow, 'deactivated_at' | 'published_until' | 'activated_at'> & { activated_at?: Date | null }): Promise<void> {
  await db('lti_keys').insert({ ...row, public_jwk: JSON.stringify(row.public_jwk) });
}

export async function updateKey(db: Queryable, kid: string, changes: Partial<KeyRow>): Promise<void> {
  await db('lti_keys').where({ kid }).update(changes);
}

/** Previous keys whose overlap has ended: out of the JWKS, private half destroyed. */
export async function retireExpiredKeys(db: Queryable, now: Date): Promise<string[]> {
  const rows = await db('lti_keys')
    .where({ status: 'previous' }).where('published_until', '<=', now)
    .update({ status: 'retired', private_key_encrypted: null }).returning('kid');
  return rows.map((r: { kid: string }) => r.kid);
}

/** Serializes key changes across nodes (rotation job, first start, a manual rotation). */
export async function lockKeys(db: Queryable): Promise<void> {
  await db.raw(`select pg_advisory_xact_lock(hashtext('cairn:lti_keys'))`);
}

// Nonces ------------------------------------------------------------------------------------

/** Records a nonce; false when it was already recorded (a replay). */
export async function consumeNonce(db: Queryable, scope: string, value: string, expiresAt: Date): Promise<boolean> {
  const result = await db.raw(
    'insert into lti_nonces (scope, value, expires_at) values (?, ?, ?) on conflict do nothing',
    [scope, value, expiresAt],
  );
  return (result as { rowCount: number }).rowCount === 1;
}

export async function purgeNonces(db: Queryable, now: Date): Promise<number> {
  return db('lti_nonces').where('expires_at', '<', now).delete();
}

// Login state ---------------------------------------------------------------------------------

export interface StateRow {
  id: string;
  tenant_id: string;
  platform_client_id: string;
  nonce: string;
  binding_hash: string;
  target_link_uri: string;
  login: LoginParams;
  created_at: Date;
  expires_at: Date;
  used_at: Date | null;
}

/** What the platform sent to the login endpoint, kept to finish (or restart) the flow. */
export interface LoginParams {
  readonly iss: string;
  readonly login_hint: string;
  readonly target_link_uri: string;
  readonly client_id: string;
  readonly lti_message_hint?: string;
  readonly lti_deployment_id?: string;
  readonly lti_storage_target?: string;
}

/**
 * Stores a login state in one statement that commits without waiting for the WAL flush
 * (`set_config(…, true)` applies to the statement's own transaction): a state lost in a crash
 * costs one relaunch, and logins should not queue on fsync (decision 0056).
 */
export async function insertState(db: Queryable, row: Omit<StateRow, 'used_at'>): Promise<void> {
  await db.raw(
    `insert into lti_states (id, tenant_id, platform_client_id, nonce, binding_hash, target_link_uri, login, created_at, expires_at)
     select ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ? from (select set_config('synchronous_commit', 'off', true)) as relaxed`,
    [row.id, row.tenant_id, row.platform_client_id, row.nonce, row.binding_hash, row.target_link_uri, JSON.stringify(row.login), row.created_at, row.expires_at],
  );
}

export async function findState(db: Queryable, id: string): Promise<StateRow | undefined> {
  return db<StateRow>('lti_states').where({ id }).first();
}

/**
 * Marks the state used; false when another request used it first. With `relaxCommit` the
 * surrounding transaction commits without waiting for the WAL flush (saving the launch a
 * round trip for `SET LOCAL`; decision 0056).
 */
export async function markStateUsed(db: Queryable, id: string, now: Date, options: { relaxCommit?: boolean } = {}): Promise<boolean> {
  const relax = options.relaxCommit ? ` and (select set_config('synchronous_commit', 'off', true)) is not null` : '';
  const result = await db.raw(`update lti_states set used_at = ? where id = ? and used_at is null${relax}`, [now, id]);
  return (result as { rowCount: number }).rowCount === 1;
}

export async function purgeStates(db: Queryable, before: Date): Promise<number> {
  return db('lti_states').where('expires_at', '<', before).delete();
}
