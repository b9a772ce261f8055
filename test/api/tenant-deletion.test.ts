import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { importFixture } from '../scorm/runtime-support.js';
import { createCourse, createUser, enroll } from '../support/api.js';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t?.close(); });

async function keys(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const blob of t.deps.blobs.list(prefix)) out.push(blob.key);
  return out;
}

describe('deleting a tenant', () => {
  it('removes everything in it — courses, SCORM packages with registrations, LRS stores — and its files', async () => {
    const system = await t.login();
    const created = await system.post('/api/v1/tenants').send({ slug: 'doomed', name: 'Doomed', admin: { email: 'admin@doomed.example', password: 'doomed tenant password' } });
    expect(created.status).toBe(201);
    const tenantId = created.body.tenant.id as string;
    const admin = await t.login('admin@doomed.example', 'doomed tenant password', 'doomed');

    const packageId = await importFixture(t, tenantId, 'runtime-scorm12-quiz.zip');
    const course = await createCourse(admin);
    const item = await admin.post(`/api/v1/courses/${course.id}/items`).send({ kind: 'scorm', title: 'Quiz', ref_id: packageId });
    const learner = await createUser(admin, 'learner');
    await enroll(admin, course.id, learner.id, 'learner');
    const learnerAgent = await t.login(learner.email, learner.password, 'doomed');
    const launch = await learnerAgent.post(`/api/v1/courses/${course.id}/items/${item.body.id}/launch`).send({});
    expect(launch.status, JSON.stringify(launch.body)).toBeLessThan(300);
    expect(await t.deps.db('scorm_registrations').where({ tenant_id: tenantId }).count<Array<{ count: string }>>('* as count')).toEqual([{ count: '1' }]);

    const store = await admin.post('/api/v1/lrs/stores').send({ name: 'Main' });
    const cred = await admin.post(`/api/v1/lrs/stores/${store.body.id}/credentials`).send({ name: 'w', scopes: ['all'] });
    const basic = `Basic ${Buffer.from(`${cred.body.key}:${cred.body.secret}`).toString('base64')}`;
    const posted = await request(t.app).post('/xapi/statements').set('Authorization', basic).set('X-Experience-API-Version', '2.0.0')
      .send({ actor: { mbox: 'mailto:a@doomed.example' }, verb: { id: 'http://adlnet.gov/expapi/verbs/experienced' }, object: { id: 'http://doomed.example/a' } });
    expect(posted.status).toBe(200);
    expect((await keys(`scorm/${tenantId}/`)).length).toBeGreaterThan(0);

    const deleted = await system.delete(`/api/v1/tenants/${tenantId}`);
    expect(deleted.status, JSON.stringify(deleted.body)).toBe(204);

    for (const table of ['users', 'courses', 'scorm_packages', 'scorm_registrations', 'lrs_stores', 'lrs_credentials']) {
      expect(await t.deps.db(table).where({ tenant_id: tenantId }).count<Array<{ count: string }>>('* as count'), table).toEqual([{ count: '0' }]);
    }
    expect(await keys(`scorm/${tenantId}/`)).toEqual([]);
    expect((await request(t.app).get('/xapi/statements').set('Authorization', basic).set('X-Experience-API-Version', '2.0.0')).status).toBe(401);
  });
});
