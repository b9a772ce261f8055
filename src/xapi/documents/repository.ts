import { createHash } from 'node:crypto';
import type { Queryable } from '../../db/index.js';
import { parseAttachmentKey } from '../statements/attachment-keys.js';

/** The three xAPI document resources (xAPI 1.0.3 Part 3 §2.3, §2.6, §2.7). */
export type DocumentKind = 'state' | 'activity_profile' | 'agent_profile';

/**
 * What names one document. `activityId` is null for agent profiles, `agentKey` for activity
 * profiles; `registration` is set only for states stored with one (lower-case UUID).
 */
export interface DocumentIdentity {
  readonly storeId: string;
  readonly kind: DocumentKind;
  readonly activityId: string | null;
  readonly agentKey: string | null;
  readonly registration: string | null;
  readonly documentId: string;
}

/** The set a list or delete-all request addresses; `registration` undefined means any. */
export interface DocumentScope {
  readonly storeId: string;
  readonly kind: DocumentKind;
  readonly activityId: string | null;
  readonly agentKey: string | null;
  readonly registration?: string | null;
}

export interface DocumentRow {
  id: string;
  store_id: string;
  kind: DocumentKind;
  activity_id: string | null;
  agent_key: string | null;
  agent: Record<string, unknown> | null;
  registration: string | null;
  document_id: string;
  content_type: string;
  content: Buffer | null;
  blob_key: string | null;
  size: string;
  etag: string;
  created_at: Date;
  updated_at: Date;
}

/** What a write stores; exactly one of `content` and `blobKey` is set. */
export interface DocumentWrite {
  readonly agent: Readonly<Record<string, unknown>> | null;
  readonly contentType: string;
  readonly content: Buffer | null;
  readonly blobKey: string | null;
  readonly size: number;
  readonly etag: string;
  readonly at: Date;
}

function sha256(parts: readonly (string | null)[]): Buffer {
  return createHash('sha256').update(JSON.stringify(parts)).digest();
}

export function identityHash(id: Omit<DocumentIdentity, 'storeId'>): Buffer {
  return sha256([id.kind, id.activityId, id.agentKey, id.registration, id.documentId]);
}

export function scopeHash(scope: Pick<DocumentScope, 'kind' | 'activityId' | 'agentKey'>): Buffer {
  return sha256([scope.kind, scope.activityId, scope.agentKey]);
}

export function agentHash(agentKey: string): Buffer {
  return sha256([agentKey]);
}

/**
 * Serializes every writer of one document (including its creation, when there is no row to lock
 * yet) for the rest of the transaction. The key is the first 8 bytes of the identity hash; a
 * collision only makes two unrelated writers wait for each other.
 */
export async function lockDocument(tx: Queryable, id: DocumentIdentity): Promise<void> {
  const key = identityHash(id).readBigInt64BE(0);
  await tx.raw('select pg_advisory_xact_lock(?::bigint)', [key.toString()]);
}

/** Writers call this after `lockDocument`, so the row cannot change under them. */
export async function findDocument(db: Queryable, id: DocumentIdentity): Promise<DocumentRow | undefined> {
  const row: unknown = await db('xapi_documents')
    .where('store_id', id.storeId)
    .andWhere('identity_hash', identityHash(id))
    .first();
  return row as DocumentRow | undefined;
}

export async function insertDocument(db: Queryable, id: DocumentIdentity, write: DocumentWrite): Promise<void> {
  await db('xapi_documents').insert({
    store_id: id.storeId,
    kind: id.kind,
    activity_id: id.activityId,
    agent_key: id.agentKey,
    agent: write.agent === null ? null : JSON.stringify(write.agent),
    registration: id.registration,
    document_id: id.documentId,
    identity_hash: identityHash(id),
    scope_hash: scopeHash(id),
    agent_hash: id.agentKey === null ? null : agentHash(id.agentKey),
    content_type: write.contentType,
    content: write.content,
    blob_key: write.blobKey,
    size: write.size,
    etag: write.etag,
    created_at: write.at,
    updated_at: write.at,
  });
}

export async function updateDocument(db: Queryable, rowId: string, write: DocumentWrite): Promise<void> {
  await db('xapi_documents').where({ id: rowId }).update({
    ...(write.agent === null ? {} : { agent: JSON.stringify(write.agent) }),
    content_type: write.contentType,
    content: write.content,
    blob_key: write.blobKey,
    size: write.size,
    etag: write.etag,
    updated_at: write.at,
  });
}

export async function deleteDocumentRow(db: Queryable, rowId: string): Promise<void> {
  await db('xapi_documents').where({ id: rowId }).del();
}

function scoped(db: Queryable, scope: DocumentScope) {
  const query = db('xapi_documents').where('store_id', scope.storeId).andWhere('scope_hash', scopeHash(scope));
  if (scope.registration !== undefined) {
    if (scope.registration === null) void query.whereNull('registration');
    else void query.where({ registration: scope.registration });
  }
  return query;
}

/** Ids (and the newest update time) of the documents in a scope, optionally updated after `since`. */
export async function listDocumentIds(db: Queryable, scope: DocumentScope, since: Date | undefined): Promise<{ ids: string[]; lastModified: Date | undefined }> {
  const query = scoped(db, scope).select('document_id', 'updated_at');
  if (since) void query.where('updated_at', '>', since);
  const rows = (await query.orderBy('document_id')) as Array<Pick<DocumentRow, 'document_id' | 'updated_at'>>;
  let lastModified: Date | undefined;
  for (const row of rows) if (!lastModified || row.updated_at > lastModified) lastModified = row.updated_at;
  // The same id can appear once per registration when no registration was given.
  return { ids: [...new Set(rows.map((r) => r.document_id))], lastModified };
}

/** Deletes every document in a scope; returns how many and the blob keys they held. */
export async function deleteScope(db: Queryable, scope: DocumentScope): Promise<{ deleted: number; blobKeys: string[] }> {
  const rows: Array<{ blob_key: string | null }> = await scoped(db, scope).del().returning(['blob_key']);
  return { deleted: rows.length, blobKeys: rows.flatMap((r) => (r.blob_key ? [r.blob_key] : [])) };
}

/** Records blob keys to delete once the surrounding transaction has committed. */
export async function queueBlobDeletions(db: Queryable, blobKeys: readonly string[], at?: Date): Promise<void> {
  if (blobKeys.length === 0) return;
  await db('xapi_document_blob_deletions')
    .insert(blobKeys.map((blob_key) => (at ? { blob_key, queued_at: at } : { blob_key })))
    .onConflict('blob_key')
    .ignore();
}

/** Claims up to `limit` queued keys (skipping ones another node is deleting right now). */
export async function claimQueuedBlobDeletions(db: Queryable, limit: number, only?: readonly string[]): Promise<string[]> {
  const query = db('xapi_document_blob_deletions').select('blob_key').orderBy('queued_at').limit(limit).forUpdate().skipLocked();
  if (only) void query.whereIn('blob_key', only);
  const rows: Array<{ blob_key: string }> = await query;
  return rows.map((r) => r.blob_key);
}

/** Marks a reservation row: never committed, never a real attachment's length. */
const reservedLength = -1;

/**
 * For a queued key that is an attachment's content (the queue also holds attachments freed by
 * an erasure, admin/repository.ts): whether its blob may be deleted. A statement may declare
 * the same content again at any moment, so a check-then-delete would race with it; instead
 * the attachment's row is *reserved* — a placeholder inserted in the caller's transaction —
 * so a statement batch recording the attachment meanwhile waits for that transaction, and one
 * that recorded it first makes the reservation fail. Returns `in_use` (keep the blob),
 * `reserved` (delete it, then `releaseAttachmentReservations` before committing), or
 * `not_attachment` (a document's blob, no such rule).
 */
export async function reserveAttachmentForDeletion(db: Queryable, blobKey: string): Promise<'in_use' | 'reserved' | 'not_attachment'> {
  const attachment = parseAttachmentKey(blobKey);
  if (!attachment) return 'not_attachment';
  const result = await db.raw<{ rows: unknown[] }>(
    `insert into xapi_attachments (store_id, sha2, content_type, length) values (?, ?, '', ?)
     on conflict (store_id, sha2) do nothing returning sha2`,
    [attachment.storeId, attachment.sha2, reservedLength],
  );
  return result.rows.length > 0 ? 'reserved' : 'in_use';
}

/** Removes, in one statement, the placeholders `reserveAttachmentForDeletion` made for these keys. */
export async function releaseAttachmentReservations(db: Queryable, blobKeys: readonly string[]): Promise<void> {
  const attachments = blobKeys.flatMap((key) => parseAttachmentKey(key) ?? []);
  if (attachments.length === 0) return;
  await db.raw(
    `delete from xapi_attachments a using unnest(?::uuid[], ?::text[]) as r(store_id, sha2)
     where a.store_id = r.store_id and a.sha2 = r.sha2 and a.length = ?`,
    [attachments.map((a) => a.storeId), attachments.map((a) => a.sha2), reservedLength],
  );
}

export async function forgetBlobDeletions(db: Queryable, blobKeys: readonly string[]): Promise<void> {
  if (blobKeys.length === 0) return;
  await db('xapi_document_blob_deletions').whereIn('blob_key', blobKeys).del();
}

/**
 * Deletes every State and Agent Profile document of one agent in one store (GDPR erasure; the
 * statements engineer's admin erasure calls it, possibly inside its own transaction). Blob-held
 * content is queued in `xapi_document_blob_deletions` in the same transaction; call
 * `purgeQueuedDocumentBlobs` (service.ts) after the commit to remove the bytes at once —
 * otherwise the next document write that frees blobs does it.
 *
 * @example
 *   const n = await deleteAgentDocuments(tx, storeId, ifiKey(agent)!);
 */
export async function deleteAgentDocuments(db: Queryable, storeId: string, agentIfiKey: string): Promise<number> {
  const rows: Array<{ blob_key: string | null }> = await db('xapi_documents')
    .where({ store_id: storeId, agent_hash: agentHash(agentIfiKey), agent_key: agentIfiKey })
    .del()
    .returning(['blob_key']);
  await queueBlobDeletions(db, rows.flatMap((r) => (r.blob_key ? [r.blob_key] : [])));
  return rows.length;
}
