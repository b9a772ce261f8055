import fs from 'node:fs/promises';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { createTestBucket, describeWithS3, type TestBucket } from '../support/s3.js';

interface Readiness {
  status: string;
  checks: Record<string, { ok: boolean; error?: string; ms: number }>;
}

await describeWithS3('/readyz with CAIRN_BLOB_STORE=s3', (server) => {
  let bucket: TestBucket;
  let app: TestApp;
  beforeAll(async () => {
    bucket = await createTestBucket(server);
    app = await startTestApp({ env: { ...bucket.env(), CAIRN_S3_MULTIPART_THRESHOLD: '5mb' } });
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await bucket?.drop();
  }, 60_000);

  it('reports the blob store ready, and the app really stores files in that bucket', async () => {
    expect(app.deps.blobs.kind).toBe('s3');
    const res = await request(app.app).get('/readyz');
    expect(res.status).toBe(200);
    const body = res.body as Readiness;
    expect(body.status).toBe('ready');
    expect(body.checks['blob_store']?.ok).toBe(true);
    expect(body.checks['database']?.ok).toBe(true);

    await app.deps.blobs.put('readiness/probe.txt', 'stored through the app', { contentType: 'text/plain' });
    expect(await app.deps.blobs.head('readiness/probe.txt')).toMatchObject({ size: 22, contentType: 'text/plain' });
  });
});

describe('/readyz when the blob store is unreachable', () => {
  let app: TestApp;
  beforeAll(async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    app = await startTestApp({
      env: {
        CAIRN_BLOB_STORE: 's3',
        CAIRN_S3_ENDPOINT: `http://127.0.0.1:${port}`,
        CAIRN_S3_BUCKET: 'cairn-nowhere',
        CAIRN_S3_ACCESS_KEY_ID: 'key',
        CAIRN_S3_SECRET_ACCESS_KEY: 'secret',
        CAIRN_S3_FORCE_PATH_STYLE: 'true',
      },
    });
  }, 60_000);
  afterAll(async () => {
    await app?.close();
  });

  it('answers 503 within three seconds, naming blob_store as failing and the database as fine', async () => {
    const started = Date.now();
    const res = await request(app.app).get('/readyz');
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(res.status).toBe(503);
    const body = res.body as Readiness;
    expect(body.status).toBe('unavailable');
    expect(body.checks['blob_store']).toMatchObject({ ok: false });
    expect(body.checks['database']).toMatchObject({ ok: true });
  });
});

describe('/readyz with the local blob store', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  }, 60_000);
  afterAll(async () => {
    await app?.close();
  });

  it('is ready while the blob directory exists and fails once it is gone', async () => {
    expect(app.deps.blobs.kind).toBe('local');
    expect((await request(app.app).get('/readyz')).status).toBe(200);
    await fs.rm(path.join(app.deps.config.blobDir), { recursive: true, force: true });
    const res = await request(app.app).get('/readyz');
    expect(res.status).toBe(503);
    expect((res.body as Readiness).checks['blob_store']?.ok).toBe(false);
  });
});
