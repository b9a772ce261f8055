import { Transform, type Readable } from 'node:stream';
import { AppError } from '../errors/index.js';

export interface BlobMetadata {
  readonly key: string;
  /** Total size of the object in bytes (not of a requested range). */
  readonly size: number;
  readonly contentType: string;
  /** Opaque, quote-free entity tag that changes when the content changes. */
  readonly etag: string;
  /** Whole seconds, as in HTTP dates (S3 HEAD has no more), so every source of it agrees. */
  readonly lastModified: Date;
}

/**
 * What `list()` yields. S3 listings carry no content type, so neither adapter pretends to:
 * callers that need it ask `head()` for the few objects they serve.
 */
export type BlobListEntry = Omit<BlobMetadata, 'contentType'>;

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
  /**
   * The length the caller expects (e.g. from a Content-Length header). When given, a body of
   * any other length fails with `bad_request` and leaves no object behind — a truncated upload
   * never replaces a good file.
   */
  readonly contentLength?: number;
  /**
   * Default true: the object is on stable storage when `put` resolves. False lets the local
   * adapter skip its per-object flush for bulk writes (a package's thousands of files); the
   * caller then calls `sync()` once before relying on them. S3 ignores it (a PUT is durable).
   */
  readonly durable?: boolean;
  /**
   * The caller promises the key does not exist yet and that nobody reads it before this put
   * resolves (a package extracted under a fresh prefix, published only after extraction). When
   * the key's extension gives its content type (no sidecar needed), the local adapter then
   * writes the file in place instead of through a temporary file and a rename, and an existing
   * key fails with `conflict`; otherwise the put is an ordinary one. S3 ignores it.
   */
  readonly fresh?: boolean;
}

/**
 * Where Cairn keeps files: SCORM package content, xAPI attachments, exports. The contract is
 * the same for every adapter and `test/storage/contract.ts` holds both to it; docs/storage.md
 * describes it for people.
 *
 * Keys are `/`-separated relative paths (see `assertSafeKey`). Failures of the backing store
 * that a retry may cure surface as `service_unavailable`.
 */
export interface BlobStore {
  readonly kind: 'local' | 's3';
  /** Stores the whole body under `key`, replacing any previous object atomically. */
  put(key: string, body: Readable | Buffer | string, options?: PutOptions): Promise<BlobMetadata>;
  /** Throws `not_found` when absent and `range_not_satisfiable` for a range starting past the end or inverted. */
  get(key: string, options?: { range?: ByteRange }): Promise<BlobObject>;
  head(key: string): Promise<BlobMetadata | undefined>;
  /** Idempotent: deleting a missing key succeeds. */
  delete(key: string): Promise<void>;
  /** Every object whose key starts with `prefix` (a plain string prefix), in UTF-8 byte order of the key. */
  list(prefix: string): AsyncIterable<BlobListEntry>;
  /** Deletes every object whose key starts with `prefix` (which must not be empty); returns how many. */
  deletePrefix(prefix: string): Promise<number>;
  /**
   * The object's file on the local disk, for readers that need random access (a zip's central
   * directory is at its end) — only the local adapter has one. Read-only; a concurrent put
   * replaces the file by rename, so an already opened descriptor keeps reading one version.
   */
  localPath?(key: string): string;
  /** Makes every completed `put` durable, including those with `durable: false`. */
  sync(): Promise<void>;
  /** Resolves when the store is reachable and usable (readiness probe); rejects otherwise. */
  check(): Promise<void>;
  /** Releases connections (S3 client sockets). Idempotent; every later call fails with `service_unavailable`. */
  close(): void;
}

/** S3's limit on a key, in UTF-8 bytes. */
export const maxKeyBytes = 1024;
/** Most file systems' NAME_MAX; applied to every adapter so keys behave the same everywhere. */
export const maxSegmentBytes = 255;

// Control characters (NUL included) and backslashes are refused outright: the latter is a path
// separator on Windows and a favourite of zip-slip payloads.
const forbiddenCharacters = /[\u0000-\u001f\u007f\\]/;

/**
 * Rejects keys that could escape an adapter's root or that two adapters would treat differently:
 * empty, absolute, empty / `.` / `..` segments, a trailing slash, backslashes, control
 * characters, more than 1024 bytes, or a segment longer than 255 bytes.
 */
export function assertSafeKey(key: string): void {
  const segments = key.split('/');
  if (
    key.length === 0 || Buffer.byteLength(key) > maxKeyBytes || forbiddenCharacters.test(key)
    || segments.some((s) => s === '' || s === '.' || s === '..' || Buffer.byteLength(s) > maxSegmentBytes)
  ) {
    throw new AppError('bad_request', `Invalid storage key "${printable(key)}".`);
  }
}

/**
 * A list/delete prefix: `''` (everything), or the start of a key. Its last segment may be
 * partial (`courses/12/scorm-` matches `courses/12/scorm-3/...`), so only complete segments
 * must be safe.
 */
export function assertSafePrefix(prefix: string): void {
  if (prefix === '') return;
  const segments = prefix.split('/');
  const complete = segments.slice(0, -1);
  if (
    Buffer.byteLength(prefix) > maxKeyBytes || forbiddenCharacters.test(prefix)
    || complete.some((s) => s === '' || s === '.' || s === '..')
  ) {
    throw new AppError('bad_request', `Invalid storage prefix "${printable(prefix)}".`);
  }
}

function printable(text: string): string {
  return text.slice(0, 100).replace(/[\u0000-\u001f\u007f]/g, '?');
}

/** Compares keys as S3 does: by the UTF-8 bytes, not by JavaScript's UTF-16 code units. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Drops the milliseconds: HTTP dates and S3 HEAD responses have whole seconds only. */
export function toSeconds(date: Date | undefined): Date {
  const ms = date?.getTime() ?? 0;
  return new Date(ms - (((ms % 1000) + 1000) % 1000));
}

export function blobNotFound(key: string): AppError {
  return new AppError('not_found', `File ${key} not found`);
}

export function storeClosed(): AppError {
  return new AppError('service_unavailable', 'The blob store has been closed.');
}

export function rangeNotSatisfiable(size: number): AppError {
  return new AppError('range_not_satisfiable', `The file is ${size} bytes long.`, { headers: { 'Content-Range': `bytes */${size}` } });
}

/** True when a range can never be satisfied, whatever the object's size. */
export function isInvalidRange(range: ByteRange): boolean {
  return !Number.isSafeInteger(range.start) || range.start < 0
    || (range.end !== undefined && (!Number.isSafeInteger(range.end) || range.end < range.start));
}

/** Clamps a requested range to the object; throws when it starts past the end or is inverted. */
export function resolveRange(range: ByteRange, size: number): { start: number; end: number } {
  if (isInvalidRange(range) || range.start >= size) throw rangeNotSatisfiable(size);
  return { start: range.start, end: Math.min(range.end ?? size - 1, size - 1) };
}

/**
 * Passes a body through while counting it. With an expected length the stream fails as soon as
 * it is exceeded, or at its end when it fell short — before the adapter commits the object.
 */
export function measure(expectedLength: number | undefined, onChunk?: (chunk: Buffer) => void): Transform & { readonly bytes: number } {
  let bytes = 0;
  const mismatch = () => new AppError('bad_request', `The body is not the declared ${expectedLength} bytes long.`);
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (expectedLength !== undefined && bytes > expectedLength) {
        done(mismatch());
        return;
      }
      onChunk?.(chunk);
      done(null, chunk);
    },
    flush(done) {
      done(expectedLength !== undefined && bytes !== expectedLength ? mismatch() : null);
    },
  });
  return Object.defineProperty(stream, 'bytes', { get: () => bytes }) as Transform & { readonly bytes: number };
}
