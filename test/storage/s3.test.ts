import { randomBytes } from 'node:crypto';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3BlobStore } from '../../src/storage/s3.js';
import { createTestBucket, describeWithS3, s3Client, type TestBucket } from '../support/s3.js';
import { blobStoreContract, readAll } from './contract.js';

await describeWithS3('S3BlobStore against a real S3-compatible server', (server) => {
  let bucket: TestBucket;
  beforeAll(async () => {
    bucket = await createTestBucket(server);
  }, 60_000);
  afterAll(async () => {
    await bucket?.drop();
  }, 120_000);

  // Each test gets its own key prefix in the run's bucket, so listings never see another test.
  const fresh = () => new S3BlobStore(bucket.config({ prefix: `t-${randomBytes(6).toString('hex')}` }));

  describe('contract', () => {
    blobStoreContract({
      multipartThreshold: 5 * 1024 * 1024,
      multipartEtags: true,
      open: async () => fresh(),
      async openBroken() {
        return [
          { why: 'bucket does not exist', store: new S3BlobStore(bucket.config({ bucket: `${bucket.name.slice(0, 50)}-missing` })) },
          { why: 'wrong secret key', store: new S3BlobStore(bucket.config({ secretAccessKey: 'not-the-secret' })) },
        ];
      },
    });
  });

  describe('S3 specifics', () => {
    it('CAIRN_S3_PREFIX keeps deployments sharing a bucket apart, and keys really carry it', async () => {
      const a = new S3BlobStore(bucket.config({ prefix: 'tenant-a/' }));
      const b = new S3BlobStore(bucket.config({ prefix: 'tenant-b' }));
      try {
        await a.put('same/key', 'from a');
        await b.put('same/key', 'from b');
        expect((await readAll((await a.get('same/key')).body)).toString()).toBe('from a');
        const listedByA: string[] = [];
        for await (const entry of a.list('')) listedByA.push(entry.key);
        expect(listedByA).toEqual(['same/key']);
        const client = s3Client(server);
        const raw = await client.send(new ListObjectsV2Command({ Bucket: bucket.name, Prefix: 'tenant-' }));
        client.destroy();
        expect(raw.Contents?.map((o) => o.Key)).toEqual(['tenant-a/same/key', 'tenant-b/same/key']);
        expect(await a.deletePrefix('same/')).toBe(1);
        expect(await b.head('same/key')).toMatchObject({ size: 6 });
      } finally {
        a.close();
        b.close();
      }
    });

    it('uploads a Buffer at or above the threshold in parts, and one below it in a single PutObject', { timeout: 120_000 }, async () => {
      const store = fresh();
      try {
        const big = await store.put('parts/big', randomBytes(11 * 1024 * 1024));
        expect(big.etag).toMatch(/-3$/);
        const small = await store.put('parts/small', randomBytes(5 * 1024 * 1024 - 1));
        expect(small.etag).toMatch(/^[0-9a-f]{32}$/);
      } finally {
        store.close();
      }
    });
  });
});
