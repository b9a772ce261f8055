import { randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand, CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListBucketsCommand,
  ListMultipartUploadsCommand, ListObjectsV2Command, S3Client,
} from '@aws-sdk/client-s3';
import { describe, inject, it } from 'vitest';
import type { S3Config } from '../../src/config/index.js';

/**
 * The S3-compatible server integration tests use. CI (`.ci/run`) starts one with
 * scripts/s3-test-server.sh and exports these variables; locally, export them yourself.
 */
export interface S3TestServer {
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
}

export const s3HowToRun = [
  'start a server with `bash scripts/s3-test-server.sh start /tmp/cairn-s3`, then run with',
  'CAIRN_TEST_S3_ENDPOINT=http://127.0.0.1:7480 CAIRN_TEST_S3_ACCESS_KEY_ID=TESTKEY CAIRN_TEST_S3_SECRET_ACCESS_KEY=TESTSECRET',
].join(' ');

/** The server named by the environment, or undefined when any of the three variables is missing. */
export function s3TestServerFromEnv(env: NodeJS.ProcessEnv = process.env): S3TestServer | undefined {
  const endpoint = env['CAIRN_TEST_S3_ENDPOINT'];
  const accessKeyId = env['CAIRN_TEST_S3_ACCESS_KEY_ID'];
  const secretAccessKey = env['CAIRN_TEST_S3_SECRET_ACCESS_KEY'];
  if (!endpoint || !accessKeyId || !secretAccessKey) return undefined;
  return { endpoint, accessKeyId, secretAccessKey, region: env['CAIRN_TEST_S3_REGION'] ?? 'us-east-1' };
}

export function s3Client(server: S3TestServer): S3Client {
  return new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: 3_000 },
    maxAttempts: 2,
  });
}

/** Whether the configured server answers an authenticated request; the reason when it does not. */
export async function probeS3(server: S3TestServer | undefined = s3TestServerFromEnv()): Promise<{ server: S3TestServer } | { problem: string }> {
  if (!server) return { problem: 'CAIRN_TEST_S3_ENDPOINT, CAIRN_TEST_S3_ACCESS_KEY_ID and CAIRN_TEST_S3_SECRET_ACCESS_KEY are not all set' };
  const client = s3Client(server);
  try {
    await client.send(new ListBucketsCommand({}), { abortSignal: AbortSignal.timeout(10_000) });
    return { server };
  } catch (error) {
    return { problem: `the S3 server at ${server.endpoint} does not answer: ${(error as Error).name}: ${(error as Error).message}` };
  } finally {
    client.destroy();
  }
}

/**
 * `describe` for tests that need a real S3 server. With CI=true a missing or silent server fails
 * the run (a test named after the problem throws); elsewhere the block is skipped with a warning
 * that says how to run it. Call it with top-level await.
 */
export async function describeWithS3(name: string, body: (server: S3TestServer) => void): Promise<void> {
  const probe = await probeS3();
  if ('server' in probe) {
    describe(name, () => body(probe.server));
    return;
  }
  if (process.env['CI'] === 'true') {
    describe(name, () => {
      it('has a reachable S3 server (required when CI=true)', () => {
        throw new Error(`S3 tests cannot run: ${probe.problem}. .ci/run starts one with scripts/s3-test-server.sh.`);
      });
    });
    return;
  }
  console.warn(`[S3] skipping "${name}": ${probe.problem}. To run it, ${s3HowToRun}.`);
  describe.skip(name, () => {
    it('needs an S3 server', () => undefined);
  });
}

let bucketCounter = 0;

export interface TestBucket {
  readonly name: string;
  /** A store configuration for this bucket (path-style, 5 MB multipart threshold unless overridden). */
  config(overrides?: Partial<S3Config>): S3Config;
  /** The environment variables that point Cairn at this bucket. */
  env(): Record<string, string>;
  /** Empties and deletes the bucket (aborting unfinished multipart uploads too). */
  drop(): Promise<void>;
}

/** A bucket no other test run uses: the run id, the worker's pid and a counter. */
export async function createTestBucket(server: S3TestServer): Promise<TestBucket> {
  const name = `cairn-test-${inject('runId')}-${process.pid}-${++bucketCounter}-${randomBytes(2).toString('hex')}`.toLowerCase().slice(0, 63);
  const client = s3Client(server);
  await client.send(new CreateBucketCommand({ Bucket: name }));
  return {
    name,
    config: (overrides = {}) => ({
      endpoint: server.endpoint,
      region: server.region,
      bucket: name,
      accessKeyId: server.accessKeyId,
      secretAccessKey: server.secretAccessKey,
      forcePathStyle: true,
      prefix: '',
      multipartThresholdBytes: 5 * 1024 * 1024,
      ...overrides,
    }),
    env: () => ({
      CAIRN_BLOB_STORE: 's3',
      CAIRN_S3_ENDPOINT: server.endpoint,
      CAIRN_S3_REGION: server.region,
      CAIRN_S3_BUCKET: name,
      CAIRN_S3_ACCESS_KEY_ID: server.accessKeyId,
      CAIRN_S3_SECRET_ACCESS_KEY: server.secretAccessKey,
      CAIRN_S3_FORCE_PATH_STYLE: 'true',
    }),
    async drop() {
      try {
        const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: name }));
        for (const upload of uploads.Uploads ?? []) {
          await client.send(new AbortMultipartUploadCommand({ Bucket: name, Key: upload.Key, UploadId: upload.UploadId }));
        }
        let token: string | undefined;
        do {
          const page = await client.send(new ListObjectsV2Command({ Bucket: name, ...(token ? { ContinuationToken: token } : {}) }));
          const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
          if (keys.length > 0) await client.send(new DeleteObjectsCommand({ Bucket: name, Delete: { Objects: keys, Quiet: true } }));
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
        await client.send(new DeleteBucketCommand({ Bucket: name }));
      } finally {
        client.destroy();
      }
    },
  };
}
