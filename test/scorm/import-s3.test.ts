import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { adminEmail, startTestApp, type TestApp } from '../support/app.js';
import type { Agent } from '../support/api.js';
import { createTestBucket, describeWithS3, type TestBucket } from '../support/s3.js';
import { fixturesDir } from '../../scripts/build-fixtures.js';

vi.setConfig({ testTimeout: 90_000 });

/** The same import on a real S3-compatible server: upload spooled locally, files in the bucket. */
await describeWithS3('SCORM import with CAIRN_BLOB_STORE=s3', (server) => {
  let bucket: TestBucket;
  let t: TestApp;
  let admin: Agent;
  let tenantId: string;

  async function keys(prefix: string): Promise<string[]> {
    const out: string[] = [];
    for await (const e of t.deps.blobs.list(prefix)) out.push(e.key);
    return out;
  }

  async function settled(id: string): Promise<Record<string, unknown>> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await admin.get(`/api/v1/packages/${id}/status`);
      if (res.body.status !== 'processing') return res.body;
      if (Date.now() > deadline) throw new Error(`still processing: ${JSON.stringify(res.body)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  beforeAll(async () => {
    bucket = await createTestBucket(server);
    t = await startTestApp({ jobs: true, env: bucket.env() });
    admin = await t.login();
    tenantId = (await t.deps.db('users').where({ email: adminEmail }).first()).tenant_id;
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await bucket?.drop();
  }, 60_000);

  it('imports a package into the bucket with content types, and deletes it again', async () => {
    expect(t.deps.blobs.kind).toBe('s3');
    const res = await admin.post('/api/v1/packages').attach('file', await fs.readFile(path.join(fixturesDir, 'valid-scorm2004-4th.zip')), { filename: 'c.zip', contentType: 'application/zip' });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(await settled(res.body.id)).toMatchObject({ status: 'ready' });
    const prefix = `scorm/${tenantId}/${res.body.id}/`;
    expect((await keys(prefix)).sort()).toEqual([
      'content/content/intro.html', 'content/content/quiz/quiz.html', 'content/content/shared/pixel.bin', 'content/content/shared/style.css', 'content/imsmanifest.xml', 'upload.zip',
    ].map((k) => prefix + k));
    expect((await t.deps.blobs.head(`${prefix}content/content/intro.html`))?.contentType).toBe('text/html; charset=utf-8');
    expect((await admin.delete(`/api/v1/packages/${res.body.id}`)).status).toBe(204);
    expect(await keys(prefix)).toEqual([]);
  });

  it('a rejected package leaves nothing in the bucket', async () => {
    const res = await admin.post('/api/v1/packages').attach('file', await fs.readFile(path.join(fixturesDir, 'bomb-lying-size.zip')), { filename: 'b.zip', contentType: 'application/zip' });
    expect(await settled(res.body.id)).toMatchObject({ status: 'failed' });
    expect((await admin.get(`/api/v1/packages/${res.body.id}/report`)).body.findings).toContainEqual(expect.objectContaining({ code: 'zip_entry_size_mismatch' }));
    expect(await keys(`scorm/${tenantId}/${res.body.id}/`)).toEqual([]);
  });
});
