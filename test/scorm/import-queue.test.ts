import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
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

  it('shows phase uploading with the percent received while the body is still arriving', async () => {
    const zip = await fs.readFile(path.join(fixturesDir, 'bomb-total.zip'));
    const token = (await admin.post('/api/v1/tokens').send({ name: 'slow-upload', scopes: ['packages:read', 'packages:write'] })).body.token as string;
    const server = t.app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const req = http.request({ host: '127.0.0.1', port, path: '/api/v1/packages', method: 'POST', headers: { 'Content-Type': 'application/zip', 'Content-Length': String(zip.length), Authorization: `Bearer ${token}` } });
      const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
        req.on('response', (res) => {
          let body = '';
          res.on('data', (c: Buffer) => { body += c.toString(); });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
      });
      req.write(zip.subarray(0, 100_000));
      await new Promise((r) => setTimeout(r, 400));
      req.write(zip.subarray(100_000, 200_000));
      let uploading: Record<string, unknown> | undefined;
      for (let i = 0; i < 50 && !uploading; i++) {
        const list = await t.agent().get('/api/v1/packages?all_versions=true').set('Authorization', `Bearer ${token}`);
        uploading = list.body.data.find((p: { phase: string }) => p.phase === 'uploading');
        if (!uploading) await new Promise((r) => setTimeout(r, 100));
      }
      expect(uploading).toMatchObject({ status: 'processing', phase: 'uploading' });
      const status = (await t.agent().get(`/api/v1/packages/${uploading!['id'] as string}/status`).set('Authorization', `Bearer ${token}`)).body;
      expect(status.percent).toBeGreaterThan(0);
      expect(status.percent).toBeLessThan(100);
      expect(status.progress.bytes_total).toBe(zip.length);
      req.end(zip.subarray(200_000));
      const done = await answer;
      expect(done.status).toBe(202);
      expect(JSON.parse(done.body)).toMatchObject({ id: uploading!['id'], phase: 'queued' });
    } finally {
      server.close();
    }
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
