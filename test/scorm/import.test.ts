import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { adminEmail, startTestApp, type TestApp } from '../support/app.js';
import { auditRows, createCourse, expectProblem, uniqueEmail, userAgent, userPassword, type Agent } from '../support/api.js';
import { fixturesDir, importFixtures } from '../../scripts/build-fixtures.js';
import { latestReadyVersion } from '../../src/scorm/packages/repository.js';

/**
 * Package import through HTTP against the real database, blob store and pg-boss worker, with
 * every fixture of fixtures/scorm/. Limits are lowered so the "total size" and "entry count"
 * bombs stay small files.
 */
// Each test waits for real jobs (pg-boss polls every second); a busy CI machine needs room.
vi.setConfig({ testTimeout: 90_000 });

let t: TestApp;
let admin: Agent;
let tenantId: string;

const fixture = (name: string) => fs.readFile(path.join(fixturesDir, name));

async function uploadMultipart(agent: Agent, name: string, fields: Record<string, string> = {}) {
  const req = agent.post('/api/v1/packages');
  for (const [k, v] of Object.entries(fields)) req.field(k, v);
  return req.attach('file', await fixture(name), { filename: name, contentType: 'application/zip' });
}

async function uploadRaw(agent: Agent, body: Buffer, query = '') {
  return agent.post(`/api/v1/packages${query}`).set('Content-Type', 'application/zip').send(body);
}

/** Polls the status endpoint until the job is done, and returns the final status. */
async function settled(agent: Agent, id: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await agent.get(`/api/v1/packages/${id}/status`);
    expect(res.status).toBe(200);
    if (res.body.status !== 'processing') return res.body;
    if (Date.now() > deadline) throw new Error(`package ${id} still processing: ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function storedKeys(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const entry of t.deps.blobs.list(prefix)) keys.push(entry.key);
  return keys;
}

beforeAll(async () => {
  t = await startTestApp({ jobs: true, env: { CAIRN_SCORM_MAX_UPLOAD: '1mb', CAIRN_SCORM_MAX_UNCOMPRESSED: '16mb', CAIRN_SCORM_MAX_ENTRIES: '1000' } });
  admin = await t.login();
  tenantId = (await t.deps.db('users').where({ email: adminEmail }).first()).tenant_id;
});
afterAll(async () => { await t?.close(); });

describe('upload and processing', () => {
  it('imports a SCORM 1.2 package sent as multipart/form-data: 202, then ready with items, files and a report', async () => {
    const res = await uploadMultipart(admin, 'valid-scorm12.zip');
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body).toMatchObject({ version: 1, status: 'processing', status_url: `/api/v1/packages/${res.body.id}/status` });
    expect(res.headers['location']).toBe(`/api/v1/packages/${res.body.id}`);
    const status = await settled(admin, res.body.id);
    expect(status).toMatchObject({ status: 'ready', phase: 'ready', percent: 100, errors: 0 });

    const pkg = (await admin.get(`/api/v1/packages/${res.body.id}`)).body;
    expect(pkg).toMatchObject({ title: 'Fixture course (SCORM 1.2)', scorm_version: '1.2', file_count: 4, original_filename: 'valid-scorm12.zip', lineage_id: res.body.id });
    expect(pkg.model.organizations[0].items[0]).toMatchObject({ identifier: 'ITEM-1', launchUrl: 'index.html?lesson=1', scormType: 'sco', masteryScore: 80, dataFromLms: 'mode=quiz', timeLimitAction: 'exit,message' });

    const report = (await admin.get(`/api/v1/packages/${res.body.id}/report`)).body;
    expect(report.errors).toBe(0);
    expect(report.findings).toContainEqual(expect.objectContaining({ severity: 'warning', code: 'file_not_listed', location: 'extra/notes.txt' }));

    const prefix = `scorm/${tenantId}/${res.body.id}/content/`;
    expect((await storedKeys(prefix)).sort()).toEqual(['extra/notes.txt', 'imsmanifest.xml', 'index.html', 'shared/style.css'].map((k) => prefix + k));
    expect((await t.deps.blobs.head(`${prefix}index.html`))?.contentType).toBe('text/html; charset=utf-8');
    const css = await t.deps.blobs.get(`${prefix}shared/style.css`);
    expect(css.contentType).toBe('text/css; charset=utf-8');
    expect(css.size).toBe('body { font-family: sans-serif; margin: 2rem; }\n'.length * 40);

    const items = await t.deps.db('scorm_items').where({ package_id: res.body.id }).orderBy('position');
    expect(items.map((i) => [i.identifier, i.launch_url, Number(i.mastery_score), i.max_time_allowed])).toEqual([['ITEM-1', 'index.html?lesson=1', 80, '00:30:00']]);
    expect((await auditRows(t, { action: 'package.upload', target_id: res.body.id })).length).toBe(1);
  });

  it('imports a SCORM 2004 4th edition package sent as a raw application/zip body, with xml:base and sequencing', async () => {
    const res = await uploadRaw(admin, await fixture('valid-scorm2004-4th.zip'), '?filename=course.zip');
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(await settled(admin, res.body.id)).toMatchObject({ status: 'ready' });
    const pkg = (await admin.get(`/api/v1/packages/${res.body.id}`)).body;
    expect(pkg).toMatchObject({ scorm_version: '2004-4', original_filename: 'course.zip', title: 'Fixture course (SCORM 2004 4th)' });
    const module1 = pkg.model.organizations[0].items[0];
    expect(module1.children.map((i: { launchUrl: string }) => i.launchUrl)).toEqual(['content/intro.html?chapter=1', 'content/quiz/quiz.html#start']);
    const items = await t.deps.db('scorm_items').where({ package_id: res.body.id }).orderBy('position');
    expect(items.map((i) => [i.identifier, i.parent_identifier, i.depth])).toEqual([['MODULE-1', null, 0], ['SCO-1', 'MODULE-1', 1], ['SCO-2', 'MODULE-1', 1]]);
    expect(items[1]).toMatchObject({ scaled_passing_score: '0.7000', completion_threshold: '0.8000', completed_by_measure: true });
    expect(items[2].sequencing).toMatchObject({ limitConditions: { attemptLimit: 3 } });
    const prefix = `scorm/${tenantId}/${res.body.id}/content/`;
    expect((await t.deps.blobs.get(`${prefix}content/shared/pixel.bin`)).size).toBe(4096);
  });

  it('re-roots a package zipped one folder down and skips __MACOSX, with a warning', async () => {
    const res = await uploadMultipart(admin, 'nested-folder.zip');
    expect(await settled(admin, res.body.id)).toMatchObject({ status: 'ready' });
    const report = (await admin.get(`/api/v1/packages/${res.body.id}/report`)).body;
    expect(report.findings.map((f: { code: string }) => f.code)).toEqual(expect.arrayContaining(['manifest_nested', 'zip_macos_metadata_skipped']));
    const prefix = `scorm/${tenantId}/${res.body.id}/content/`;
    expect((await storedKeys(prefix)).sort()).toEqual(['imsmanifest.xml', 'index.html', 'shared/style.css'].map((k) => prefix + k));
  });

  it('reads UTF-8 names without the UTF-8 flag as UTF-8 and matches them to percent-encoded hrefs', async () => {
    const res = await uploadMultipart(admin, 'unflagged-utf8-names.zip');
    expect(await settled(admin, res.body.id)).toMatchObject({ status: 'ready' });
    const report = (await admin.get(`/api/v1/packages/${res.body.id}/report`)).body;
    expect(report.findings).toContainEqual(expect.objectContaining({ code: 'zip_names_unflagged_utf8', severity: 'warning' }));
    expect(await t.deps.blobs.head(`scorm/${tenantId}/${res.body.id}/content/résumé.html`)).toBeDefined();
  });

  it('refuses an upload above CAIRN_SCORM_MAX_UPLOAD with 413 and keeps nothing', async () => {
    const before = await t.deps.db('scorm_packages').count<{ count: string }[]>('* as count');
    const res = await uploadRaw(admin, Buffer.alloc(1024 * 1024 + 10));
    expectProblem(res, 413, 'payload_too_large');
    const after = await t.deps.db('scorm_packages').count<{ count: string }[]>('* as count');
    expect(after[0]!.count).toBe(before[0]!.count);
  });

  it('refuses an oversized multipart upload (no Content-Length of the file itself) with 413 and keeps nothing', async () => {
    const before = (await storedKeys(`scorm/${tenantId}/`)).length;
    const rows = await t.deps.db('scorm_packages').count<{ count: string }[]>('* as count');
    // A chunked request declares no length, so only counting the file part's bytes can stop it.
    const server = t.app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const token = (await admin.post('/api/v1/tokens').send({ name: 'chunked-upload', scopes: ['packages:write'] })).body.token as string;
    const boundary = 'cairn-test-boundary';
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.zip"\r\nContent-Type: application/zip\r\n\r\n`;
    const res = await new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, path: '/api/v1/packages', method: 'POST', headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}`, Authorization: `Bearer ${token}` } }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown> }));
      });
      req.on('error', reject);
      req.write(head);
      for (let i = 0; i < 17; i++) req.write(Buffer.alloc(64 * 1024));
      req.end(`\r\n--${boundary}--\r\n`);
    });
    server.close();
    expect(res.status, JSON.stringify(res.body)).toBe(413);
    expect(res.body['code']).toBe('payload_too_large');
    expect((await t.deps.db('scorm_packages').count<{ count: string }[]>('* as count'))[0]!.count).toBe(rows[0]!.count);
    expect((await storedKeys(`scorm/${tenantId}/`)).length).toBe(before);
  });

  it('answers 415 for a body that is neither multipart nor a zip, and 400 for multipart without a file part', async () => {
    expectProblem(await admin.post('/api/v1/packages').set('Content-Type', 'text/plain').send('hello'), 415, 'unsupported_media_type');
    expectProblem(await admin.post('/api/v1/packages').field('lineage', 'x'), 400, 'validation_failed');
  });
});

describe('hostile and broken packages are rejected with a report and nothing stored', () => {
  const rejected = importFixtures.filter((f) => f.expect !== 'ready');
  for (const f of rejected) {
    it(`${f.file} → failed with ${f.expect}`, async () => {
      const res = await uploadMultipart(admin, f.file);
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      const status = await settled(admin, res.body.id);
      expect(status).toMatchObject({ status: 'failed', phase: 'failed' });
      const report = (await admin.get(`/api/v1/packages/${res.body.id}/report`)).body;
      expect(report.findings, JSON.stringify(report.findings)).toContainEqual(expect.objectContaining({ severity: 'error', code: f.expect }));
      expect(report.errors).toBeGreaterThan(0);
      expect(await storedKeys(`scorm/${tenantId}/${res.body.id}/`)).toEqual([]);
      expect(await t.deps.db('scorm_items').where({ package_id: res.body.id })).toEqual([]);
    });
  }

  it('never expands the entities of an XXE / billion-laughs manifest', async () => {
    const res = await uploadMultipart(admin, 'manifest-xxe.zip');
    await settled(admin, res.body.id);
    const row = await t.deps.db('scorm_packages').where({ id: res.body.id }).first();
    expect(row.model).toBeNull();
    expect(JSON.stringify(row.report)).not.toMatch(/lollol|root:/);
  });
});

describe('versions', () => {
  it('a re-upload with lineage becomes version 2; lists show the newest; new registrations would get the newest ready one', async () => {
    const first = await uploadMultipart(admin, 'valid-scorm12.zip');
    await settled(admin, first.body.id);
    const second = await uploadMultipart(admin, 'valid-scorm12.zip', { lineage: first.body.id });
    expect(second.status, JSON.stringify(second.body)).toBe(202);
    expect(second.body).toMatchObject({ lineage_id: first.body.id, version: 2 });
    await settled(admin, second.body.id);
    const third = await uploadRaw(admin, await fixture('valid-scorm12.zip'), `?lineage=${second.body.id}`);
    expect(third.body).toMatchObject({ lineage_id: first.body.id, version: 3 });
    await settled(admin, third.body.id);

    const detail = (await admin.get(`/api/v1/packages/${first.body.id}`)).body;
    expect(detail.versions.map((v: { version: number }) => v.version)).toEqual([3, 2, 1]);
    const list = (await admin.get('/api/v1/packages?limit=200')).body.data.filter((p: { lineage_id: string }) => p.lineage_id === first.body.id);
    expect(list).toEqual([expect.objectContaining({ id: third.body.id, version: 3, version_count: 3 })]);
    const all = (await admin.get('/api/v1/packages?all_versions=true&limit=200')).body.data.filter((p: { lineage_id: string }) => p.lineage_id === first.body.id);
    expect(all.map((p: { version: number }) => p.version)).toEqual([3, 2, 1]);
    expect((await latestReadyVersion(t.deps.db, tenantId, first.body.id))?.id).toBe(third.body.id);
    // The first version keeps its own files: a registration pinned to it still plays it.
    expect(await t.deps.blobs.head(`scorm/${tenantId}/${first.body.id}/content/index.html`)).toBeDefined();
  });

  it('refuses a lineage that is not a package of this tenant', async () => {
    expectProblem(await uploadMultipart(admin, 'valid-scorm12.zip', { lineage: '00000000-0000-4000-8000-000000000000' }), 400, 'validation_failed');
  });
});

describe('import from the blob store', () => {
  it('imports an object under imports/<tenant>/ and leaves the object in place', async () => {
    const key = `imports/${tenantId}/course.zip`;
    await t.deps.blobs.put(key, await fixture('valid-scorm2004-4th.zip'), { contentType: 'application/zip' });
    const res = await admin.post('/api/v1/packages/import').send({ blob_key: key });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(await settled(admin, res.body.id)).toMatchObject({ status: 'ready' });
    expect((await admin.get(`/api/v1/packages/${res.body.id}`)).body).toMatchObject({ source: 'blob', scorm_version: '2004-4' });
    expect(await t.deps.blobs.head(key)).toBeDefined();
  });

  it('keeps the caller\'s object when its package is rejected', async () => {
    const key = `imports/${tenantId}/slip.zip`;
    await t.deps.blobs.put(key, await fixture('zip-slip.zip'));
    const res = await admin.post('/api/v1/packages/import').send({ blob_key: key });
    expect(await settled(admin, res.body.id)).toMatchObject({ status: 'failed' });
    expect(await t.deps.blobs.head(key)).toBeDefined();
  });

  it('refuses keys outside the tenant\'s import folder, missing objects and oversized ones', async () => {
    const learner = await userAgent(t, admin, 'instructor');
    expectProblem(await learner.agent.post('/api/v1/packages/import').send({ blob_key: `scorm/${tenantId}/x/upload.zip` }), 403, 'forbidden');
    expectProblem(await learner.agent.post('/api/v1/packages/import').send({ blob_key: 'imports/other-tenant/a.zip' }), 403, 'forbidden');
    expectProblem(await admin.post('/api/v1/packages/import').send({ blob_key: `imports/${tenantId}/missing.zip` }), 400, 'validation_failed');
    await t.deps.blobs.put(`imports/${tenantId}/huge.zip`, Buffer.alloc(1024 * 1024 + 1));
    expectProblem(await admin.post('/api/v1/packages/import').send({ blob_key: `imports/${tenantId}/huge.zip` }), 413, 'payload_too_large');
  });
});

describe('access', () => {
  it('instructors may upload; learners may not read or upload; another tenant sees nothing', async () => {
    const instructor = await userAgent(t, admin, 'instructor');
    const up = await uploadMultipart(instructor.agent, 'valid-scorm12.zip');
    expect(up.status).toBe(202);
    await settled(instructor.agent, up.body.id);
    const learner = await userAgent(t, admin, 'learner');
    expectProblem(await learner.agent.get('/api/v1/packages'), 403, 'forbidden');
    expectProblem(await uploadMultipart(learner.agent, 'valid-scorm12.zip'), 403, 'forbidden');

    const emailB = uniqueEmail('admin-b');
    const created = await admin.post('/api/v1/tenants').send({ slug: `scorm-b-${Date.now().toString(36)}`, name: 'B', admin: { email: emailB, name: 'B', password: userPassword } });
    expect(created.status).toBe(201);
    const adminB = await t.login(emailB, userPassword, created.body.tenant.slug);
    expectProblem(await adminB.get(`/api/v1/packages/${up.body.id}`), 404, 'not_found');
    expectProblem(await adminB.get(`/api/v1/packages/${up.body.id}/report`), 404, 'not_found');
    expectProblem(await adminB.delete(`/api/v1/packages/${up.body.id}`), 404, 'not_found');
    expectProblem(await uploadMultipart(adminB, 'valid-scorm12.zip', { lineage: up.body.id }), 400, 'validation_failed');
    expect((await adminB.get('/api/v1/packages')).body.data.map((p: { id: string }) => p.id)).not.toContain(up.body.id);
  });

  it('API tokens need packages:write to upload and packages:read to list', async () => {
    const readOnly = (await admin.post('/api/v1/tokens').send({ name: 'pkg-read', scopes: ['packages:read'] })).body.token as string;
    expect((await t.agent().get('/api/v1/packages').set('Authorization', `Bearer ${readOnly}`)).status).toBe(200);
    expectProblem(await t.agent().post('/api/v1/packages').set('Authorization', `Bearer ${readOnly}`).set('Content-Type', 'application/zip').send(await fixture('valid-scorm12.zip')), 403, 'forbidden');
  });
});

describe('delete', () => {
  it('deletes a version and its files, and audits it', async () => {
    const res = await uploadMultipart(admin, 'valid-scorm12.zip');
    await settled(admin, res.body.id);
    const del = await admin.delete(`/api/v1/packages/${res.body.id}`);
    expect(del.status).toBe(204);
    expectProblem(await admin.get(`/api/v1/packages/${res.body.id}`), 404, 'not_found');
    expect(await storedKeys(`scorm/${tenantId}/${res.body.id}/`)).toEqual([]);
    expect((await auditRows(t, { action: 'package.delete', target_id: res.body.id })).length).toBe(1);
  });

  it('is refused (409) for the last ready version of a package a course item launches', async () => {
    const res = await uploadMultipart(admin, 'valid-scorm12.zip');
    await settled(admin, res.body.id);
    const course = await createCourse(admin);
    const item = await admin.post(`/api/v1/courses/${course.id}/items`).send({ kind: 'scorm', title: 'Package', ref_id: res.body.id });
    expect(item.status, JSON.stringify(item.body)).toBe(201);
    expectProblem(await admin.delete(`/api/v1/packages/${res.body.id}`), 409, 'conflict');
    // With a newer ready version the old one may go: the course item resolves to the lineage.
    const v2 = await uploadMultipart(admin, 'valid-scorm12.zip', { lineage: res.body.id });
    await settled(admin, v2.body.id);
    expect((await admin.delete(`/api/v1/packages/${res.body.id}`)).status).toBe(204);
    expect((await latestReadyVersion(t.deps.db, tenantId, res.body.id))?.id).toBe(v2.body.id);
  });

  it('is refused (409) while a registration uses the version', async () => {
    const present = (await t.deps.db.raw("select to_regclass('scorm_registrations') as t")).rows[0].t !== null;
    // Before the runtime's migration exists, stand in with the one column the check reads.
    if (!present) await t.deps.db.raw('create table scorm_registrations (id uuid primary key default gen_random_uuid(), package_id uuid not null)');
    const res = await uploadMultipart(admin, 'valid-scorm12.zip');
    await settled(admin, res.body.id);
    if (present) {
      const course = await createCourse(admin);
      const courseItem = (await admin.post(`/api/v1/courses/${course.id}/items`).send({ kind: 'scorm', title: 'Package', ref_id: res.body.id })).body;
      const user = await t.deps.db('users').where({ email: adminEmail }).first();
      await t.deps.db('scorm_registrations').insert({ tenant_id: tenantId, course_id: course.id, course_item_id: courseItem.id, user_id: user.id, package_id: res.body.id, created_at: new Date(), updated_at: new Date() });
    } else {
      await t.deps.db('scorm_registrations').insert({ package_id: res.body.id });
    }
    const refused = await admin.delete(`/api/v1/packages/${res.body.id}`);
    expectProblem(refused, 409, 'conflict');
    expect(refused.body.registrations).toBe(1);
    expect(await t.deps.blobs.head(`scorm/${tenantId}/${res.body.id}/content/index.html`)).toBeDefined();
    if (!present) await t.deps.db.raw('drop table scorm_registrations');
  });
});
