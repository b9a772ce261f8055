import type { Queryable } from '../../db/index.js';
import { paginate } from '../../db/pagination.js';
import type { XapiScope } from './scopes.js';

export interface LrsStoreRow {
  id: string;
  tenant_id: string;
  name: string;
  description: string;
  is_default: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface LrsCredentialRow {
  id: string;
  tenant_id: string;
  store_id: string;
  name: string;
  key: string;
  secret_hash: string;
  scopes: XapiScope[];
  authority: Record<string, unknown>;
  revoked_at: Date | null;
  last_used_at: Date | null;
  created_at: Date;
}

export async function insertStore(db: Queryable, store: Omit<LrsStoreRow, 'id' | 'created_at' | 'updated_at'>, now: Date): Promise<LrsStoreRow> {
  const [row] = await db<LrsStoreRow>('lrs_stores').insert({ ...store, created_at: now, updated_at: now }).returning('*');
  return row as LrsStoreRow;
}

export async function findStore(db: Queryable, tenantId: string, id: string): Promise<LrsStoreRow | undefined> {
  return db<LrsStoreRow>('lrs_stores').where({ tenant_id: tenantId, id }).first();
}

export async function findStoreByName(db: Queryable, tenantId: string, name: string): Promise<LrsStoreRow | undefined> {
  return db<LrsStoreRow>('lrs_stores').where({ tenant_id: tenantId }).whereRaw('lower(name) = lower(?)', [name]).first();
}

export async function findDefaultStore(db: Queryable, tenantId: string): Promise<LrsStoreRow | undefined> {
  return db<LrsStoreRow>('lrs_stores').where({ tenant_id: tenantId, is_default: true }).first();
}

export async function listStores(db: Queryable, filter: { tenantId: string; limit: number; cursor?: string | undefined }) {
  return paginate<LrsStoreRow>(db<LrsStoreRow>('lrs_stores').where('tenant_id', filter.tenantId), { limit: filter.limit, cursor: filter.cursor, sortColumn: 'created_at', idColumn: 'id' });
}

export async function updateStore(db: Queryable, tenantId: string, id: string, changes: Partial<Pick<LrsStoreRow, 'name' | 'description' | 'is_default'>>, now: Date): Promise<LrsStoreRow | undefined> {
  const [row] = await db<LrsStoreRow>('lrs_stores').where({ tenant_id: tenantId, id }).update({ ...changes, updated_at: now }).returning('*');
  return row as LrsStoreRow | undefined;
}

export async function clearDefaultStore(db: Queryable, tenantId: string): Promise<void> {
  await db('lrs_stores').where({ tenant_id: tenantId, is_default: true }).update({ is_default: false });
}

export async function deleteStore(db: Queryable, tenantId: string, id: string): Promise<boolean> {
  return (await db('lrs_stores').where({ tenant_id: tenantId, id }).delete()) > 0;
}

export async function insertCredential(db: Queryable, credential: Omit<LrsCredentialRow, 'id' | 'revoked_at' | 'last_used_at'>): Promise<LrsCredentialRow> {
  const [row] = await db<LrsCredentialRow>('lrs_credentials').insert({ ...credential, authority: JSON.stringify(credential.authority) as never }).returning('*');
  return row as LrsCredentialRow;
}

/** The credential behind a Basic-auth key, with its store's tenant: one indexed lookup. */
export async function findActiveCredentialByKey(db: Queryable, key: string): Promise<LrsCredentialRow | undefined> {
  return db<LrsCredentialRow>('lrs_credentials').where({ key }).whereNull('revoked_at').first();
}

export async function findCredential(db: Queryable, storeId: string, id: string): Promise<LrsCredentialRow | undefined> {
  return db<LrsCredentialRow>('lrs_credentials').where({ store_id: storeId, id }).first();
}

export async function listCredentials(db: Queryable, filter: { storeId: string; includeRevoked: boolean; limit: number; cursor?: string | undefined }) {
  const query = db<LrsCredentialRow>('lrs_credentials').where('store_id', filter.storeId);
  if (!filter.includeRevoked) query.whereNull('revoked_at');
  return paginate<LrsCredentialRow>(query, { limit: filter.limit, cursor: filter.cursor, sortColumn: 'created_at', idColumn: 'id' });
}

export async function revokeCredential(db: Queryable, storeId: string, id: string, now: Date): Promise<boolean> {
  return (await db('lrs_credentials').where({ store_id: storeId, id }).whereNull('revoked_at').update({ revoked_at: now })) > 0;
}

export async function touchCredential(db: Queryable, id: string, now: Date): Promise<void> {
  await db('lrs_credentials').where({ id }).update({ last_used_at: now });
}

export async function findCredentialByKey(db: Queryable, key: string): Promise<LrsCredentialRow | undefined> {
  return db<LrsCredentialRow>('lrs_credentials').where({ key }).first();
}

export async function resetCredentialSecret(db: Queryable, id: string, secretHash: string): Promise<void> {
  await db('lrs_credentials').where({ id }).update({ secret_hash: secretHash, revoked_at: null });
}

export async function listStoreIds(db: Queryable, tenantId: string): Promise<string[]> {
  return db('lrs_stores').where({ tenant_id: tenantId }).pluck('id');
}
