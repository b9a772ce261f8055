import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';

let nodeA: TestApp;
let nodeB: TestApp;
beforeAll(async () => {
  nodeA = await startTestApp();
  nodeB = await startTestApp({ sameDatabaseAs: nodeA });
});
afterAll(async () => {
  await nodeB?.close();
  await nodeA?.close();
});

describe('API-token principal cache (decision 0006)', () => {
  it('revocation applies at once on the node that revoked, and on other nodes within the 5-second cache lifetime', async () => {
    const admin = await nodeA.login();
    const created = await admin.post('/api/v1/tokens').send({ name: 'cached', scopes: ['courses:read'] });
    expect(created.status).toBe(201);
    const bearer = `Bearer ${created.body.token}`;
    // Both nodes resolve (and cache) the token.
    expect((await request(nodeA.app).get('/api/v1/courses').set('Authorization', bearer)).status).toBe(200);
    expect((await request(nodeB.app).get('/api/v1/courses').set('Authorization', bearer)).status).toBe(200);

    expect((await admin.delete(`/api/v1/tokens/${created.body.id}`)).status).toBe(204);
    expect((await request(nodeA.app).get('/api/v1/courses').set('Authorization', bearer)).status).toBe(401);

    // Node B has not heard of the revocation; once its entry is older than the TTL it asks the database.
    nodeA.clock.advance(5_001);
    expect((await request(nodeB.app).get('/api/v1/courses').set('Authorization', bearer)).status).toBe(401);
  });

  it('never serves a cached principal past the token\'s own expiry', async () => {
    const admin = await nodeA.login();
    const created = await admin.post('/api/v1/tokens').send({ name: 'short', scopes: ['courses:read'], expires_in_days: 1 });
    const bearer = `Bearer ${created.body.token}`;
    expect((await request(nodeA.app).get('/api/v1/courses').set('Authorization', bearer)).status).toBe(200);
    nodeA.clock.advance(86_400_000 - 1_000);
    expect((await request(nodeA.app).get('/api/v1/courses').set('Authorization', bearer)).status).toBe(200);
    nodeA.clock.advance(2_000);
    expect((await request(nodeA.app).get('/api/v1/courses').set('Authorization', bearer)).status).toBe(401);
  });
});
