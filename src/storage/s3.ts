import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import {
  CreateBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand,
  ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException,
  type DeleteObjectsCommandOutput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { S3Config } from '../config/index.js';
import { AppError } from '../errors/index.js';
import {
  assertSafeKey, assertSafePrefix, blobNotFound, isInvalidRange, measure, rangeNotSatisfiable, resolveRange, storeClosed, toSeconds,
  type BlobListEntry, type BlobMetadata, type BlobObject, type BlobStore, type ByteRange, type PutOptions,
} from './blob-store.js';

/** Connecting to an object store on the same network or in the same region takes milliseconds. */
const connectionTimeoutMs = 3_000;
/** A server that sends nothing for this long on an open request is gone. */
const socketIdleTimeoutMs = 60_000;
/** The readiness probe must answer within /readyz's own two-second budget. */
const checkTimeoutMs = 1_800;
/** DeleteObjects takes at most this many keys. */
const deleteBatchSize = 1000;

/**
 * Blobs in any S3-compatible service (AWS S3, MinIO, Ceph RGW, …). Bodies of known size below
 * the multipart threshold go up in one PutObject; streams and large bodies go through
 * lib-storage's managed multipart upload (parts of the threshold size, four in flight), so a
 * 2 GB SCORM package never sits in memory.
 */
export class S3BlobStore implements BlobStore {
  readonly kind = 's3' as const;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;
  private closed = false;

  constructor(config: S3Config) {
    this.client = new S3Client({
      region: config.region,
      forcePathStyle: config.forcePathStyle,
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      ...(config.accessKeyId && config.secretAccessKey
        ? { credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey } }
        : {}),
      // SDK ≥ 3.729 adds CRC32 checksums to uploads by default, sending streams as aws-chunked
      // with a trailer; Ceph RGW 16 (seen here) answers MissingContentLength to that, as do
      // older MinIO releases. Checksums only where the API requires them work everywhere, AWS included.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // Without timeouts an unreachable endpoint hangs requests (and /readyz) indefinitely.
      requestHandler: { connectionTimeout: connectionTimeoutMs, socketTimeout: socketIdleTimeoutMs },
      maxAttempts: 3,
    });
    this.bucket = config.bucket;
    this.prefix = config.prefix ? `${config.prefix.replace(/\/+$/, '')}/` : '';
    this.partSize = config.multipartThresholdBytes;
  }

  /** Creates the bucket if it does not exist (development and tests; production buckets are provisioned). */
  async ensureBucket(): Promise<void> {
    this.assertOpen();
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      if (statusOf(error) !== 404) throw translate(error);
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket })).catch((e: unknown) => { throw translate(e); });
    }
  }

  async put(key: string, body: Readable | Buffer | string, options: PutOptions = {}): Promise<BlobMetadata> {
    this.assertOpen();
    assertSafeKey(key);
    const contentType = options.contentType ?? 'application/octet-stream';
    const buffer = typeof body === 'string' ? Buffer.from(body) : body;
    if (Buffer.isBuffer(buffer) && options.contentLength !== undefined && options.contentLength !== buffer.length) {
      throw new AppError('bad_request', `The body is not the declared ${options.contentLength} bytes long.`);
    }
    if (Buffer.isBuffer(buffer) && buffer.length < this.partSize) {
      try {
        await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key), Body: buffer, ContentType: contentType, ContentLength: buffer.length }));
      } catch (error) {
        throw translate(error);
      }
    } else {
      // Counting the stream on its way to lib-storage fails it before CompleteMultipartUpload
      // (or the single PutObject) when the length is wrong, so the previous object survives.
      const source = Buffer.isBuffer(buffer) ? Readable.from([buffer]) : buffer;
      const counted = source.pipe(measure(options.contentLength));
      let sourceError: unknown;
      source.once('error', (error) => {
        sourceError = error;
        counted.destroy(error);
      });
      const upload = new Upload({
        client: this.client,
        params: { Bucket: this.bucket, Key: this.fullKey(key), Body: counted, ContentType: contentType },
        partSize: this.partSize,
        queueSize: 4,
        leavePartsOnError: false,
      });
      try {
        await upload.done();
      } catch (error) {
        source.destroy();
        // The caller's own stream failing is not an outage of the object store.
        throw sourceError ?? translate(error);
      }
    }
    const meta = await this.head(key);
    if (!meta) throw new AppError('service_unavailable', 'The object store did not keep the uploaded file.');
    return meta;
  }

  async get(key: string, options: { range?: ByteRange } = {}): Promise<BlobObject> {
    this.assertOpen();
    assertSafeKey(key);
    const range = options.range;
    // S3 ignores (rather than refuses) a syntactically invalid Range and sends the whole object.
    if (range && isInvalidRange(range)) {
      const meta = await this.head(key);
      if (!meta) throw blobNotFound(key);
      throw rangeNotSatisfiable(meta.size);
    }
    let out;
    try {
      out = await this.client.send(new GetObjectCommand({
        Bucket: this.bucket,
        Key: this.fullKey(key),
        ...(range ? { Range: `bytes=${range.start}-${range.end ?? ''}` } : {}),
      }));
    } catch (error) {
      const status = statusOf(error);
      if (status === 404) throw blobNotFound(key);
      if (status === 416) {
        const meta = await this.head(key);
        if (!meta) throw blobNotFound(key);
        throw rangeNotSatisfiable(meta.size);
      }
      throw translate(error);
    }
    const body = out.Body as Readable;
    const contentRange = /bytes (\d+)-(\d+)\/(\d+)/.exec(out.ContentRange ?? '');
    const meta = {
      key,
      size: contentRange ? Number(contentRange[3]) : Number(out.ContentLength ?? 0),
      contentType: out.ContentType ?? 'application/octet-stream',
      etag: unquote(out.ETag),
      lastModified: toSeconds(out.LastModified),
    };
    if (!range) return { ...meta, body };
    if (contentRange) return { ...meta, body, range: { start: Number(contentRange[1]), end: Number(contentRange[2]) } };
    // The server answered 200 with the whole object (some do for an empty object): apply the range here.
    let resolved;
    try {
      resolved = resolveRange(range, meta.size);
    } catch (error) {
      body.destroy();
      throw error;
    }
    return { ...meta, range: resolved, body: body.pipe(slice(resolved.start, resolved.end)) };
  }

  async head(key: string): Promise<BlobMetadata | undefined> {
    this.assertOpen();
    assertSafeKey(key);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
      return {
        key,
        size: Number(out.ContentLength ?? 0),
        contentType: out.ContentType ?? 'application/octet-stream',
        etag: unquote(out.ETag),
        lastModified: toSeconds(out.LastModified),
      };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw translate(error);
    }
  }

  async delete(key: string): Promise<void> {
    this.assertOpen();
    assertSafeKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
    } catch (error) {
      throw translate(error);
    }
  }

  async *list(prefix: string): AsyncIterable<BlobListEntry> {
    this.assertOpen();
    assertSafePrefix(prefix);
    let token: string | undefined;
    do {
      let out;
      try {
        out = await this.client.send(new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.fullKey(prefix),
          ...(token ? { ContinuationToken: token } : {}),
        }));
      } catch (error) {
        throw translate(error);
      }
      for (const object of out.Contents ?? []) {
        if (!object.Key) continue;
        yield {
          key: object.Key.slice(this.prefix.length),
          size: Number(object.Size ?? 0),
          etag: unquote(object.ETag),
          lastModified: toSeconds(object.LastModified),
        };
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  }

  async deletePrefix(prefix: string): Promise<number> {
    this.assertOpen();
    assertSafePrefix(prefix);
    if (prefix === '') throw new AppError('bad_request', 'deletePrefix needs a non-empty prefix.');
    let count = 0;
    let batch: string[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const command = new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } });
      command.middlewareStack.addRelativeTo(contentMd5Middleware, {
        relation: 'after', toMiddleware: 'flexibleChecksumsMiddleware', name: 'cairnContentMd5', override: true,
      });
      let out: DeleteObjectsCommandOutput;
      try {
        out = await this.client.send(command);
      } catch (error) {
        throw translate(error);
      }
      // DeleteObjects answers 200 even when some keys failed; the failures are in the body.
      const failed = out.Errors ?? [];
      if (failed.length > 0) {
        const first = failed[0]!;
        throw new AppError('service_unavailable', `The object store refused to delete ${failed.length} of ${batch.length} files (${first.Code ?? 'error'} for ${first.Key ?? '?'}).`);
      }
      count += batch.length;
      batch = [];
    };
    for await (const blob of this.list(prefix)) {
      batch.push(this.fullKey(blob.key));
      if (batch.length === deleteBatchSize) await flush();
    }
    await flush();
    return count;
  }

  /** Nothing to do: S3 acknowledges a PUT only once the object is stored. */
  async sync(): Promise<void> {
    this.assertOpen();
  }

  async check(): Promise<void> {
    this.assertOpen();
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: AbortSignal.timeout(checkTimeoutMs) });
    } catch (error) {
      const status = statusOf(error);
      const why = status === 404 ? 'does not exist' : status === 403 ? 'refuses these credentials' : 'is unreachable';
      throw new AppError('service_unavailable', `The S3 bucket ${this.bucket} ${why}.`, { cause: error });
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.destroy();
  }

  private assertOpen(): void {
    if (this.closed) throw storeClosed();
  }

  private fullKey(key: string): string {
    return this.prefix + key;
  }
}

/**
 * DeleteObjects is the one call S3 requires an integrity header on. The SDK sends CRC32, which
 * MinIO releases before 2025 refuse with `MissingContentMD5` (minio/minio#20845); Content-MD5 is
 * accepted by every implementation, AWS included, so it replaces the SDK's header here.
 */
type DeleteObjectsMiddleware = Parameters<DeleteObjectsCommand['middlewareStack']['addRelativeTo']>[0];
type BuildArgs = { request: unknown };
// Typed by hand: the stack accepts a union of middleware kinds, which TypeScript cannot infer a lambda against.
const contentMd5Middleware = ((next: (args: BuildArgs) => Promise<unknown>) => async (args: BuildArgs) => {
  const request = args.request as { headers?: Record<string, string>; body?: unknown };
  if (request.headers && (typeof request.body === 'string' || request.body instanceof Uint8Array)) {
    for (const name of Object.keys(request.headers)) {
      const lower = name.toLowerCase();
      if (lower.startsWith('x-amz-checksum-') || lower === 'x-amz-sdk-checksum-algorithm' || lower === 'content-md5') delete request.headers[name];
    }
    request.headers['content-md5'] = createHash('md5').update(request.body).digest('base64');
  }
  return next(args);
}) as unknown as DeleteObjectsMiddleware;

function statusOf(error: unknown): number | undefined {
  if (error instanceof S3ServiceException) return error.$metadata.httpStatusCode;
  const meta = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata;
  return meta?.httpStatusCode;
}

/**
 * Outages (network errors, timeouts, 5xx after the SDK's retries) become `service_unavailable`
 * so callers answer 503 and clients retry; everything else (our own AppErrors, access denied,
 * a missing bucket) passes through unchanged.
 */
function translate(error: unknown): unknown {
  if (error instanceof AppError) return error;
  const status = statusOf(error);
  const { code, name } = error as { code?: string; name?: string };
  const network = status === undefined && (networkErrorCodes.has(code ?? '') || name === 'TimeoutError' || name === 'AbortError');
  if (network || (status !== undefined && status >= 500)) {
    return new AppError('service_unavailable', 'The object store is unavailable.', { cause: error });
  }
  return error;
}

const networkErrorCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);

function unquote(etag: string | undefined): string {
  return (etag ?? '').replace(/"/g, '');
}

/** Bytes start..end (inclusive) of a stream. */
function slice(start: number, end: number): Transform {
  let offset = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const from = Math.max(start - offset, 0);
      const to = Math.min(end + 1 - offset, chunk.length);
      offset += chunk.length;
      done(null, from < to ? chunk.subarray(from, to) : undefined);
    },
  });
}
