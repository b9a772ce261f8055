import type { Readable } from 'node:stream';
import { AppError } from '../errors/index.js';

export interface BlobMetadata {
  readonly key: string;
  /** Total size of the object in bytes (not of a requested range). */
  readonly size: number;
  readonly contentType: string;
  /** Opaque, quoted-free entity tag that changes when the content changes. */
  readonly etag: string;
  readonly lastModified: Date;
}

export interface ByteRange {
  readonly start: number;
  /** Inclusive, as in HTTP `Range: bytes=start-end`; omitted means to the end. */
  readonly end?: number;
}

export interface BlobObject extends BlobMetadata {
  readonly body: Readable;
  /** The bytes actually returned when a range was asked for. */
  readonly range?: { readonly start: number; readonly end: number };
}

export interface PutOptions {
  readonly contentType?: string;
  /** Known length lets adapters skip buffering. */
  readonly contentLength?: number;
}

/**
 * Where Cairn keeps files: SCORM package content, xAPI attachments, exports. Keys are
 * `/`-separated relative paths; adapters must refuse keys that could escape their root.
 */
export interface BlobStore {
  readonly kind: 'local' | 's3';
  put(key: string, body: Readable | Buffer | string, options?: PutOptions): Promise<BlobMetadata>;
  /** Throws `not_found` when absent and `range_not_satisfiable` for a range past the end. */
  get(key: string, options?: { range?: ByteRange }): Promise<BlobObject>;
  head(key: string): Promise<BlobMetadata | undefined>;
  /** Idempotent: deleting a missing key succeeds. */
  delete(key: string): Promise<void>;
  /** Every object whose key starts with `prefix`, in key order. */
  list(prefix: string): AsyncIterable<BlobMetadata>;
  /** Deletes every object under `prefix`; returns how many. */
  deletePrefix(prefix: string): Promise<number>;
  /** Resolves when the store is reachable and writable enough to serve (readiness probe). */
  check(): Promise<void>;
  /** Releases connections (S3 client sockets); the store is unusable afterwards. */
  close(): void;
}

const unsafeKey = /(^|\/)\.\.?(\/|$)|\\|\0|^\/|\/\/|[\u0000-\u001f]/;

/** Rejects keys that are empty, absolute, contain `.`/`..` segments, backslashes or control characters. */
export function assertSafeKey(key: string): void {
  if (key.length === 0 || key.length > 1024 || unsafeKey.test(key) || key.endsWith('/')) {
    throw new AppError('bad_request', `Invalid storage key "${key.slice(0, 100)}".`);
  }
}

export function blobNotFound(key: string): AppError {
  return new AppError('not_found', `File ${key} not found`);
}

export function rangeNotSatisfiable(size: number): AppError {
  return new AppError('range_not_satisfiable', `The file is ${size} bytes long.`, { headers: { 'Content-Range': `bytes */${size}` } });
}

/** Clamps a requested range to the object; throws when it starts past the end. */
export function resolveRange(range: ByteRange, size: number): { start: number; end: number } {
  if (range.start >= size || range.start < 0 || (range.end !== undefined && range.end < range.start)) throw rangeNotSatisfiable(size);
  return { start: range.start, end: Math.min(range.end ?? size - 1, size - 1) };
}
