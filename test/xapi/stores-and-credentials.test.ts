import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';

let t: TestApp;
beforeAll(async () => { t = await startTestApp({ env: { CAIRN_LRS_KEY: 'seeded-key', CAIRN_LRS_SECRET: 'seeded-secret-0123456789' } }); });
afterAll(async () => { await t?.close(); });

const basic = (key: string, secret: string) => `Basic ${Buffer.from(`${key}:${secret}`).toString('base64')}`;

describe('LRS stores and credentials', () => {
  it('serves /xapi/about without credentials or version header (xAPI 1.0.3 Part 3 §2.8)', async () => {
    const res = await request(t.app).get('/xapi/about');
    expect(res.status).toBe(200);
    expect(res.body.version).toEqual(expect.arrayContaining(['1.0.3', '2.0.0']));
    expect(res.headers['x-experience-api-version']).toBeDefined();
    expect(res.headers['access-control-allow-origin']).toBe('*');
  });

  it('requires the version header on other resources (Part 3 §3.3)', async () => {
    const res = await request(t.app).get('/xapi/statements').set('Authorization', basic('seeded-key', 'seeded-secret-0123456789'));
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/X-Experience-API-Version/);
  });

  it('rejects unsupported versions', async () => {
    const res = await request(t.app).get('/xapi/statements').set('X-Experience-API-Version', '0.95').set('Authorization', basic('seeded-key', 'seeded-secret-0123456789'));
    expect(res.status).toBe(400);
  });

  it('rejects missing and wrong credentials with 401 and a Basic challenge', async () => {
    const none = await request(t.app).get('/xapi/statements').set('X-Experience-API-Version', '1.0.3');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Basic/);
    const wrong = await request(t.app).get('/xapi/statements').set('X-Experience-API-Version', '1.0.3').set('Authorization', basic('seeded-key', 'nope'));
    expect(wrong.status).toBe(401);
  });

  it('seeds a credential from CAIRN_LRS_KEY / CAIRN_LRS_SECRET on the default store', async () => {
    const agent = await t.login();
    const stores = await agent.get('/api/v1/lrs/stores');
    expect(stores.status).toBe(200);
    const store = stores.body.data.find((s: { is_default: boolean }) => s.is_default);
    expect(store).toBeDefined();
    const creds = await agent.get(`/api/v1/lrs/stores/${store.id}/credentials`);
    expect(creds.body.data.map((c: { key: string }) => c.key)).toContain('seeded-key');
    const ok = await request(t.app).get('/xapi/nothing').set('X-Experience-API-Version', '1.0.3').set('Authorization', basic('seeded-key', 'seeded-secret-0123456789'));
    expect(ok.status).toBe(404);
  });

  it('creates a store and a credential whose secret is shown once, hashed at rest, and revocable at once', async () => {
    const agent = await t.login();
    const store = await agent.post('/api/v1/lrs/stores').send({ name: 'Analytics' });
    expect(store.status).toBe(201);
    expect(store.body.is_default).toBe(false);
    const cred = await agent.post(`/api/v1/lrs/stores/${store.body.id}/credentials`).send({ name: 'Dashboard', scopes: ['statements/read'] });
    expect(cred.status).toBe(201);
    const { key, secret, id } = cred.body;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{30,}$/);
    const rows = await t.deps.db('lrs_credentials').where({ id });
    expect(JSON.stringify(rows)).not.toContain(secret);
    expect(cred.body.authority).toMatchObject({ objectType: 'Agent', account: { name: key } });

    const before = await request(t.app).get('/xapi/nothing').set('X-Experience-API-Version', '2.0.0').set('Authorization', basic(key, secret));
    expect(before.status).toBe(404);
    const revoke = await agent.delete(`/api/v1/lrs/stores/${store.body.id}/credentials/${id}`);
    expect(revoke.status).toBe(204);
    const after = await request(t.app).get('/xapi/nothing').set('X-Experience-API-Version', '2.0.0').set('Authorization', basic(key, secret));
    expect(after.status).toBe(401);

    const audit = await agent.get('/api/v1/audit-log?action=lrs_credential.*');
    expect(audit.body.data.map((e: { action: string }) => e.action)).toEqual(['lrs_credential.revoke', 'lrs_credential.create']);
  });

  it('refuses duplicate store names and other tenants\' stores', async () => {
    const agent = await t.login();
    const dup = await agent.post('/api/v1/lrs/stores').send({ name: 'analytics' });
    expect(dup.status).toBe(409);
    const missing = await agent.get('/api/v1/lrs/stores/00000000-0000-4000-8000-000000000000');
    expect(missing.status).toBe(404);
  });
});

describe('deleting a store', () => {
  it('removes its attachment and large-document content from the blob store after the commit', async () => {
    const agent = await t.login();
    const store = await agent.post('/api/v1/lrs/stores').send({ name: 'Doomed' });
    const cred = await agent.post(`/api/v1/lrs/stores/${store.body.id}/credentials`).send({ name: 'w', scopes: ['all'] });
    const auth = basic(cred.body.key, cred.body.secret);

    const content = Buffer.from('attachment body');
    const { createHash } = await import('node:crypto');
    const sha2 = createHash('sha256').update(content).digest('hex');
    const statement = {
      actor: { mbox: 'mailto:learner@example.com' }, verb: { id: 'http://adlnet.gov/expapi/verbs/attempted' },
      object: { id: 'http://example.com/activity' },
      attachments: [{ usageType: 'http://example.com/usage', display: { 'en-US': 'a' }, contentType: 'text/plain', length: content.length, sha2 }],
    };
    const boundary = 'cairnboundary';
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(statement)}\r\n--${boundary}\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\nX-Experience-API-Hash: ${sha2}\r\n\r\n`),
      content, Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const posted = await request(t.app).post('/xapi/statements').set('Authorization', auth).set('X-Experience-API-Version', '1.0.3')
      .set('Content-Type', `multipart/mixed; boundary=${boundary}`).send(body);
    expect(posted.status).toBe(200);
    const big = await request(t.app).put('/xapi/activities/profile?activityId=http%3A%2F%2Fexample.com%2Fa&profileId=p')
      .set('Authorization', auth).set('X-Experience-API-Version', '2.0.0').set('Content-Type', 'application/octet-stream').send(Buffer.alloc(300 * 1024, 7));
    expect(big.status).toBe(204);

    const keys = async (prefix: string) => { const out: string[] = []; for await (const b of t.deps.blobs.list(prefix)) out.push(b.key); return out; };
    expect(await keys(`xapi/${store.body.id}/`)).toHaveLength(1);
    expect(await keys(`xapi-documents/${store.body.id}/`)).toHaveLength(1);

    expect((await agent.delete(`/api/v1/lrs/stores/${store.body.id}`)).status).toBe(204);
    expect(await keys(`xapi/${store.body.id}/`)).toEqual([]);
    expect(await keys(`xapi-documents/${store.body.id}/`)).toEqual([]);
    expect((await request(t.app).get('/xapi/statements').set('Authorization', auth).set('X-Experience-API-Version', '1.0.3')).status).toBe(401);
  });
});

describe('methods a resource does not have', () => {
  it.each([
    ['delete', '/xapi/statements', 'GET, HEAD, POST, PUT'],
    ['put', '/xapi/agents', 'GET, HEAD'],
    ['post', '/xapi/activities', 'GET, HEAD'],
    ['delete', '/xapi/about', 'GET, HEAD'],
    ['patch', '/xapi/activities/state', 'DELETE, GET, HEAD, POST, PUT'],
  ] as const)('%s %s answers 405 with Allow even without credentials (Communication 1.1)', async (method, path, allow) => {
    const res = await request(t.app)[method](path).set('X-Experience-API-Version', '1.0.3');
    expect(res.status).toBe(405);
    expect(res.headers['allow']).toBe(allow);
  });
});
