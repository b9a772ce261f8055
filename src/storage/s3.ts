import { Readable } from 'node:stream';
import {
  CreateBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand,
  ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { S3Config } from '../config/index.js';
import { AppError } from '../errors/index.js';
import {
  assertSafeKey, blobNotFound, rangeNotSatisfiable,
  type BlobMetadata, type BlobObject, type BlobStore, type ByteRange, type PutOptions,
} from './blob-store.js';

/**
 * Blobs in any S3-compatible service. Bodies of known small size go up in one PutObject;
 * streams and large bodies go through lib-storage's managed multipart upload, so a 2 GB
 * SCORM package never sits in memory.
 */
export class S3BlobStore implements BlobStore {
  readonly kind = 's3' as const;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;

  constructor(config: S3Config) {
    this.client = new S3Client({
      region: config.region,
      forcePathStyle: config.forcePathStyle,
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      ...(config.accessKeyId && config.secretAccessKey
        ? { credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey } }
        : {}),
      // Some S3-compatible servers reject the newer default CRC checksums on every request.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    this.bucket = config.bucket;
    this.prefix = config.prefix ? `${config.prefix.replace(/\/+$/, '')}/` : '';
    this.partSize = config.multipartThresholdBytes;
  }

  /** Creates the bucket if it does not exist (development and tests; production buckets are provisioned). */
  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    }
  }

  async put(key: string, body: Readable | Buffer | string, options: PutOptions = {}): Promise<BlobMetadata> {
    assertSafeKey(key);
    const contentType = options.contentType ?? 'application/octet-stream';
    const buffer = typeof body === 'string' ? Buffer.from(body) : body;
    if (Buffer.isBuffer(buffer) && buffer.length < this.partSize) {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key), Body: buffer, ContentType: contentType, ContentLength: buffer.length }));
    } else {
      const upload = new Upload({
        client: this.client,
        params: { Bucket: this.bucket, Key: this.fullKey(key), Body: buffer, ContentType: contentType },
        partSize: this.partSize,
        queueSize: 4,
        leavePartsOnError: false,
      });
      await upload.done();
    }
    const meta = await this.head(key);
    if (!meta) throw new AppError('service_unavailable', 'The object store did not keep the uploaded file.');
    return meta;
  }

  async get(key: string, options: { range?: ByteRange } = {}): Promise<BlobObject> {
    assertSafeKey(key);
    const range = options.range;
    if (range && (range.start < 0 || (range.end !== undefined && range.end < range.start))) {
      const meta = await this.head(key);
      if (!meta) throw blobNotFound(key);
      throw rangeNotSatisfiable(meta.size);
    }
    try {
      const out = await this.client.send(new GetObjectCommand({
        Bucket: this.bucket,
        Key: this.fullKey(key),
        ...(range ? { Range: `bytes=${range.start}-${range.end ?? ''}` } : {}),
      }));
      const contentRange = /bytes (\d+)-(\d+)\/(\d+)/.exec(out.ContentRange ?? '');
      const size = contentRange ? Number(contentRange[3]) : Number(out.ContentLength ?? 0);
      return {
        key,
        size,
        contentType: out.ContentType ?? 'application/octet-stream',
        etag: (out.ETag ?? '').replace(/"/g, ''),
        lastModified: out.LastModified ?? new Date(0),
        body: out.Body as Readable,
        ...(contentRange ? { range: { start: Number(contentRange[1]), end: Number(contentRange[2]) } } : {}),
      };
    } catch (error) {
      const status = statusOf(error);
      if (status === 404) throw blobNotFound(key);
      if (status === 416) {
        const meta = await this.head(key);
        throw rangeNotSatisfiable(meta?.size ?? 0);
      }
      throw error;
    }
  }

  async head(key: string): Promise<BlobMetadata | undefined> {
    assertSafeKey(key);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
      return {
        key,
        size: Number(out.ContentLength ?? 0),
        contentType: out.ContentType ?? 'application/octet-stream',
        etag: (out.ETag ?? '').replace(/"/g, ''),
        lastModified: out.LastModified ?? new Date(0),
      };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    assertSafeKey(key);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
  }

  async *list(prefix: string): AsyncIterable<BlobMetadata> {
    let token: string | undefined;
    do {
      const out = await this.client.send(new ListObjectsV2Command({
        Bucket: this.bucket,
        Prefix: this.fullKey(prefix),
        ...(token ? { ContinuationToken: token } : {}),
      }));
      for (const object of out.Contents ?? []) {
        if (!object.Key) continue;
        yield {
          key: object.Key.slice(this.prefix.length),
          size: Number(object.Size ?? 0),
          // Listing does not return content types; callers that need one use head().
          contentType: 'application/octet-stream',
          etag: (object.ETag ?? '').replace(/"/g, ''),
          lastModified: object.LastModified ?? new Date(0),
        };
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  }

  async deletePrefix(prefix: string): Promise<number> {
    let count = 0;
    let batch: string[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
      count += batch.length;
      batch = [];
    };
    for await (const blob of this.list(prefix)) {
      batch.push(this.fullKey(blob.key));
      if (batch.length === 1000) await flush();
    }
    await flush();
    return count;
  }

  async check(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
  }

  close(): void {
    this.client.destroy();
  }

  private fullKey(key: string): string {
    return this.prefix + key;
  }
}

function statusOf(error: unknown): number | undefined {
  if (error instanceof S3ServiceException) return error.$metadata.httpStatusCode;
  const meta = (error as { $metadata?: { httpStatusCode?: number } }).$metadata;
  return meta?.httpStatusCode;
}
