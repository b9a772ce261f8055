import { createHash, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { withTransaction, type Db } from '../../db/index.js';
import type { Clock } from '../../deps.js';
import { AppError } from '../../errors/index.js';
import type { BlobStore } from '../../storage/blob-store.js';
import { isPlainObject } from '../validation/primitives.js';
import { failedPrecondition, hasPreconditions, type Preconditions } from './preconditions.js';
import * as repo from './repository.js';
import { isJsonContentType } from './schemas.js';
import type { DocumentIdentity, DocumentRow, DocumentScope } from './repository.js';

/**
 * The document resources without HTTP: store, merge, fetch, list and delete State, Activity
 * Profile and Agent Profile documents with the concurrency rules of xAPI 1.0.3 Part 3 §3.1 and
 * 2.0 §4.1.4. Every write runs in one transaction holding a per-document advisory lock, so the
 * precondition check and the write cannot be separated by another writer (decision 0042).
 */
export interface DocumentDeps {
  readonly db: Db;
  readonly blobs: BlobStore;
  readonly clock: Clock;
  readonly log: Logger;
}

/**
 * Documents up to this size are kept in the row (bytea); larger ones go to the blob store.
 * State documents (bookmarks, suspend data, cmi5 LaunchData) are almost always a few KB, so
 * nearly every request stays a single database round trip; multi-megabyte profiles (exports,
 * media a content package parks there) stay out of the table, its WAL and its backups
 * (decision 0041).
 */
export const inlineContentLimitBytes = 256 * 1024;

export interface StoredDocument {
  readonly contentType: string;
  /** Unquoted lower-case hex SHA-1 of the content. */
  readonly etag: string;
  readonly updatedAt: Date;
  readonly size: number;
  readonly content: Buffer | null;
  readonly blobKey: string | null;
}

export interface WriteInput {
  readonly body: Buffer;
  /** The request's Content-Type, or undefined when it sent none. */
  readonly contentType: string | undefined;
  readonly agent: Record<string, unknown> | null;
  readonly preconditions: Preconditions;
  /** What a PUT carrying neither If-Match nor If-None-Match may do (decision 0042). */
  readonly unconditionalPut: UnconditionalPut;
}

/**
 * - `allowed`: create or replace (State under 1.0.x, Part 3 §3.1.s3).
 * - `create-only`: create; over an existing document 409 (everything under 2.0, ADL suite 4.1.4).
 * - `forbidden`: over an existing document 409 (§3.1.s4.b13), otherwise 400 — the client MUST send
 *   one of the headers (§3.1.s3.b1; Activity and Agent Profiles under 1.0.x, as the ADL 1.0.3
 *   suite tests it).
 */
export type UnconditionalPut = 'allowed' | 'create-only' | 'forbidden';

export function documentEtag(content: Buffer): string {
  return createHash('sha1').update(content).digest('hex');
}

function toStored(row: DocumentRow): StoredDocument {
  return { contentType: row.content_type, etag: row.etag, updatedAt: row.updated_at, size: Number(row.size), content: row.content, blobKey: row.blob_key };
}

export async function getDocument(deps: DocumentDeps, id: DocumentIdentity): Promise<StoredDocument | undefined> {
  const row = await repo.findDocument(deps.db, id);
  return row ? toStored(row) : undefined;
}

/** The bytes of a blob-held document as a stream (inline documents carry `content`). */
export async function openBlobContent(deps: DocumentDeps, doc: StoredDocument): Promise<Readable> {
  if (!doc.blobKey) throw new AppError('internal', 'document has no blob');
  return (await deps.blobs.get(doc.blobKey)).body;
}

export async function listDocuments(deps: DocumentDeps, scope: DocumentScope, since: Date | undefined): Promise<{ ids: string[]; lastModified: Date | undefined }> {
  return repo.listDocumentIds(deps.db, scope, since);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses bytes as a JSON object, or returns undefined (not UTF-8, not JSON, not an object). */
function parseJsonObject(bytes: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(utf8.decode(bytes));
    return isPlainObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The JSON merge of Part 3 §2.2.s7: each top-level property of the posted object replaces the
 * stored one (nested objects are replaced whole, not merged). Built on a null-prototype object
 * so a posted `"__proto__"` key is stored as data, never as a prototype.
 */
function mergeJson(stored: Record<string, unknown>, posted: Record<string, unknown>): Buffer {
  const merged = Object.assign(Object.create(null) as Record<string, unknown>, stored);
  for (const key of Object.keys(posted)) merged[key] = posted[key];
  return Buffer.from(JSON.stringify(merged), 'utf8');
}

async function storedContent(deps: DocumentDeps, row: DocumentRow): Promise<Buffer> {
  if (row.content) return row.content;
  return readAll(await openBlobContent(deps, toStored(row)));
}

function preconditionFailed(header: 'If-Match' | 'If-None-Match', exists: boolean): AppError {
  const detail = header === 'If-Match'
    ? exists
      ? 'If-Match does not match the document\'s current ETag: it changed since you read it. GET it again and retry with the new ETag.'
      : 'If-Match was sent but the document does not exist.'
    : 'If-None-Match was sent but the document already exists (with a matching ETag).';
  return new AppError('precondition_failed', detail);
}

function putConflict(): AppError {
  return new AppError('conflict', 'The document already exists and the PUT carried neither If-Match nor If-None-Match. '
    + 'Check the current state of the document (GET it), then send If-Match with its ETag to replace it, '
    + 'or If-None-Match: * to create a document only if none exists (xAPI Part 3 §3.1).');
}

function preconditionMissing(): AppError {
  return new AppError('bad_request', 'A PUT to this resource must carry If-Match (with the ETag of the document it replaces) '
    + 'or If-None-Match: * (to create it only if none exists) (xAPI 1.0.3 Part 3 §3.1.s3.b1).');
}

/**
 * PUT (replace) or POST (merge, or create when absent) one document. Returns the new ETag.
 * Blob writes happen inside the transaction (so a failed precondition uploads nothing) and
 * are undone when it rolls back; blobs the write frees are queued and deleted after commit.
 */
export async function writeDocument(deps: DocumentDeps, mode: 'PUT' | 'POST', id: DocumentIdentity, input: WriteInput): Promise<{ etag: string }> {
  const uploaded: string[] = [];
  let kept: string | null = null;
  let freed: string[] = [];
  // A POST is the JSON-object procedure of §2.2.s7: a body labelled application/json must be a
  // JSON object even when there is nothing to merge it with yet (ADL XAPI-00314).
  const postedJson = mode === 'POST' && isJsonContentType(input.contentType) ? parseJsonObject(input.body) : undefined;
  if (mode === 'POST' && isJsonContentType(input.contentType) && !postedJson) {
    throw new AppError('bad_request', 'A POST with Content-Type application/json must carry a JSON object; this body is not one (malformed JSON, not UTF-8, or an array or scalar). Use PUT to store other content (xAPI Part 3 §2.2.s8).');
  }
  try {
    const result = await withTransaction(deps.db, async (tx) => {
      kept = null;
      freed = [];
      await repo.lockDocument(tx, id);
      const existing = await repo.findDocument(tx, id);
      const failed = failedPrecondition(input.preconditions, existing?.etag);
      if (failed) throw preconditionFailed(failed, existing !== undefined);
      if (mode === 'PUT' && !hasPreconditions(input.preconditions) && input.unconditionalPut !== 'allowed') {
        if (existing) throw putConflict();
        if (input.unconditionalPut === 'forbidden') throw preconditionMissing();
      }

      let content = input.body;
      let contentType = input.contentType?.trim() || 'application/octet-stream';
      if (mode === 'POST' && existing) {
        if (!isJsonContentType(existing.content_type) || !postedJson) {
          throw new AppError('bad_request', `POST merges JSON documents only: the stored document is ${existing.content_type} and the posted one is ${input.contentType ?? 'untyped'}; both must be application/json. Use PUT to replace it (xAPI Part 3 §2.2.s8).`);
        }
        const stored = parseJsonObject(await storedContent(deps, existing));
        if (!stored) throw new AppError('bad_request', 'POST merges JSON objects only: the stored document is not a JSON object. Use PUT to replace it (xAPI Part 3 §2.2.s8).');
        content = mergeJson(stored, postedJson);
        contentType = existing.content_type;
      }

      const etag = documentEtag(content);
      let blobKey: string | null = null;
      if (content.length > inlineContentLimitBytes) {
        blobKey = `xapi-documents/${id.storeId}/${randomUUID()}`;
        uploaded.push(blobKey);
        await deps.blobs.put(blobKey, content, { contentType, contentLength: content.length });
      }
      const write: repo.DocumentWrite = {
        agent: input.agent,
        contentType,
        content: blobKey ? null : content,
        blobKey,
        size: content.length,
        etag,
        at: deps.clock.now(),
      };
      if (existing) {
        await repo.updateDocument(tx, existing.id, write);
        if (existing.blob_key) freed = [existing.blob_key];
      } else {
        await repo.insertDocument(tx, id, write);
      }
      await repo.queueBlobDeletions(tx, freed, write.at);
      kept = blobKey;
      return { etag };
    });
    await discardUploads(deps, uploaded.filter((k) => k !== kept));
    await purgeFreed(deps, freed);
    return result;
  } catch (error) {
    await discardUploads(deps, uploaded);
    throw error;
  }
}

async function discardUploads(deps: DocumentDeps, keys: readonly string[]): Promise<void> {
  for (const key of keys) {
    await deps.blobs.delete(key).catch((error: unknown) => deps.log.warn({ err: error, key }, 'could not delete an unused document blob'));
  }
}

/** DELETE one document: 204 whether or not it existed, unless a precondition fails. */
export async function deleteDocument(deps: DocumentDeps, id: DocumentIdentity, preconditions: Preconditions): Promise<void> {
  let freed: string[] = [];
  await withTransaction(deps.db, async (tx) => {
    freed = [];
    await repo.lockDocument(tx, id);
    const existing = await repo.findDocument(tx, id);
    const failed = failedPrecondition(preconditions, existing?.etag);
    if (failed) throw preconditionFailed(failed, existing !== undefined);
    if (!existing) return;
    await repo.deleteDocumentRow(tx, existing.id);
    if (existing.blob_key) freed = [existing.blob_key];
    await repo.queueBlobDeletions(tx, freed, deps.clock.now());
  });
  await purgeFreed(deps, freed);
}

/** DELETE without a document id (State only, Part 3 §2.3.s5): every document in the scope. */
export async function deleteDocuments(deps: DocumentDeps, scope: DocumentScope): Promise<number> {
  let freed: string[] = [];
  const deleted = await withTransaction(deps.db, async (tx) => {
    const result = await repo.deleteScope(tx, scope);
    freed = result.blobKeys;
    await repo.queueBlobDeletions(tx, freed, deps.clock.now());
    return result.deleted;
  });
  await purgeFreed(deps, freed);
  return deleted;
}

/**
 * After a change that freed blobs: delete those at once, then a few older queued ones (left by
 * an erasure whose caller did not purge, or by a blob-store outage). Changes that free nothing
 * (every inline document) cost nothing here.
 */
async function purgeFreed(deps: DocumentDeps, freed: readonly string[]): Promise<void> {
  if (freed.length === 0) return;
  await purgeQueuedDocumentBlobs(deps, { only: freed });
  await purgeQueuedDocumentBlobs(deps, { limit: 20 });
}

/**
 * Deletes queued blobs of replaced or deleted documents (all of them up to `limit`, or only the
 * given keys). Safe to run on several nodes at once: each key is claimed with SKIP LOCKED and
 * forgotten only after the blob store confirmed the deletion. Call it after committing
 * `deleteAgentDocuments`.
 */
export async function purgeQueuedDocumentBlobs(deps: Pick<DocumentDeps, 'db' | 'blobs' | 'log'>, options: { limit?: number; only?: readonly string[] } = {}): Promise<number> {
  if (options.only && options.only.length === 0) return 0;
  try {
    return await withTransaction(deps.db, async (tx) => {
      // Sorted: attachment rows are reserved in the order statement batches record them.
      const keys = (await repo.claimQueuedBlobDeletions(tx, options.limit ?? 100, options.only)).sort();
      const done: string[] = [];
      const reserved: string[] = [];
      for (const key of keys) {
        // An erased statement's attachment a client has posted again since is in use again.
        const attachment = await repo.reserveAttachmentForDeletion(tx, key);
        if (attachment === 'in_use') {
          done.push(key);
          continue;
        }
        if (attachment === 'reserved') reserved.push(key);
        try {
          await deps.blobs.delete(key);
          done.push(key);
        } catch (error) {
          deps.log.warn({ err: error, key }, 'could not delete a document blob; it stays queued');
        }
      }
      await repo.releaseAttachmentReservations(tx, reserved);
      await repo.forgetBlobDeletions(tx, done);
      return done.length;
    });
  } catch (error) {
    // The document change has committed; a later purge retries the queue.
    deps.log.warn({ err: error }, 'document blob purge failed');
    return 0;
  }
}
