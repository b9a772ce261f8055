import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminEmail, startTestApp, type TestApp } from '../support/app.js';
import type { Agent } from '../support/api.js';
import { fixturesDir } from '../../scripts/build-fixtures.js';
import { importJobName, localSpoolPath, processPackage } from '../../src/scorm/packages/service.js';
import type { BlobStore } from '../../src/storage/blob-store.js';

/**
 * A node that only serves HTTP (CAIRN_JOBS_ENABLED=false) queues the import for another node:
 * the package waits in phase `queued`, nothing is spooled locally, and the worker that picks it
 * up reads the zip from the blob store.
 */
let t: TestApp;
let admin: Agent;

beforeAll(async () => {
  t = await startTestApp({ jobs: true, env: { CAIRN_JOBS_ENABLED: 'false' } });
  admin = await t.login();
});
afterAll(async () => { await t?.close(); });

describe('processing phases through the API', () => {
  it('queued on an HTTP-only node, then processed by a worker from the blob store copy', async () => {
    const zip = await fs.readFile(path.join(fixturesDir, 'valid-scorm2004-4th.zip'));
    const res = await admin.post('/api/v1/packages').set('Content-Type', 'application/zip').send(zip);
    expect(res.status).toBe(202);
    const queued = (await admin.get(`/api/v1/packages/${res.body.id}/status`)).body;
    expect(queued).toMatchObject({ status: 'processing', phase: 'queued', percent: 0, errors: null });
    const row = await t.deps.db('scorm_packages').where({ id: res.body.id }).first();
    expect(row).toMatchObject({ upload_size: String(zip.length), source: 'upload' });
    expect(row.job_id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await t.deps.jobs!.get(importJobName, row.job_id))?.state).toBe('created');
    // Nothing spooled on this node: a worker elsewhere reads the upload from the store.
    await expect(fs.stat(localSpoolPath(t.deps.config, res.body.id))).rejects.toThrow();
    const tenantId = (await t.deps.db('users').where({ email: adminEmail }).first()).tenant_id;
    expect((await t.deps.blobs.head(`scorm/${tenantId}/${res.body.id}/upload.zip`))?.size).toBe(zip.length);

    // What a worker node with an S3 store runs for this job: no local file to open, so the zip
    // is downloaded from the store (the local adapter's localPath is hidden to force that path).
    const s3Like: BlobStore = {
      kind: 's3', put: (k, b, o) => t.deps.blobs.put(k, b, o), get: (k, o) => t.deps.blobs.get(k, o), head: (k) => t.deps.blobs.head(k),
      delete: (k) => t.deps.blobs.delete(k), list: (p) => t.deps.blobs.list(p), deletePrefix: (p) => t.deps.blobs.deletePrefix(p),
      sync: () => t.deps.blobs.sync(), check: () => t.deps.blobs.check(), close: () => undefined,
    };
    let downloads = 0;
    const counting: BlobStore = { ...s3Like, get: async (k, o) => { downloads++; return t.deps.blobs.get(k, o); } };
    const outcome = await processPackage({ ...t.deps, blobs: counting }, res.body.id);
    expect(downloads).toBe(1);
    expect(outcome).toMatchObject({ status: 'ready', errors: 0 });
    const done = (await admin.get(`/api/v1/packages/${res.body.id}/status`)).body;
    expect(done).toMatchObject({ status: 'ready', phase: 'ready', percent: 100, progress: { files_done: 5, files_total: 5 } });
    // Running the job again (a retry after a crash) changes nothing.
    expect(await processPackage(t.deps, res.body.id)).toMatchObject({ status: 'ready' });
    expect(await t.deps.db('scorm_items').where({ package_id: res.body.id })).toHaveLength(3);
  });

  it('a package whose job pg-boss gave up on is reported failed (processing_failed), not processing forever', async () => {
    const zip = await fs.readFile(path.join(fixturesDir, 'valid-scorm12.zip'));
    const res = await admin.post('/api/v1/packages').set('Content-Type', 'application/zip').send(zip);
    const row = await t.deps.db('scorm_packages').where({ id: res.body.id }).first();
    await t.deps.db.raw("update pgboss.job set state = 'failed' where id = ?", [row.job_id]);
    const status = (await admin.get(`/api/v1/packages/${res.body.id}/status`)).body;
    expect(status).toMatchObject({ status: 'failed', phase: 'failed', errors: 1 });
    const report = (await admin.get(`/api/v1/packages/${res.body.id}/report`)).body;
    expect(report.findings[0]).toMatchObject({ severity: 'error', code: 'processing_failed' });
  });
});
