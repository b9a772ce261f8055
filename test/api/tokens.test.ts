import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';
import { auditRows, createUser, expectProblem, userAgent, type Agent } from '../support/api.js';

let t: TestApp;
let admin: Agent;
beforeAll(async () => {
  t = await startTestApp();
  admin = await t.login();
});
afterAll(async () => { await t?.close(); });

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const api = () => request(t.app);

async function createToken(agent: Agent, scopes: string[], extra: Record<string, unknown> = {}) {
  const res = await agent.post('/api/v1/tokens').send({ name: `token ${Math.random().toString(36).slice(2)}`, scopes, ...extra });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; token: string; token_prefix: string; scopes: string[]; expires_at: string | null; user_id: string };
}

describe('API tokens', () => {
  it('shows the token once and stores only a hash of it', async () => {
    const created = await createToken(admin, ['courses:read']);
    expect(created.token).toMatch(/^cairn_pat_[A-Za-z0-9_-]{40,}$/);
    expect(created.token.startsWith(created.token_prefix)).toBe(true);
    expect(created.token_prefix.length).toBeLessThan(created.token.length - 20);

    const rows = await t.deps.db('api_tokens').where({ id: created.id });
    expect(rows).toHaveLength(1);
    for (const [column, value] of Object.entries(rows[0]!)) {
      expect(JSON.stringify(value) ?? '', `column ${column}`).not.toContain(created.token);
    }
    // Neither listing nor the audit log repeats it.
    const listed = await admin.get('/api/v1/tokens');
    expect(JSON.stringify(listed.body)).not.toContain(created.token);
    expect(listed.body.data.map((d: { id: string }) => d.id)).toContain(created.id);
    const audit = await auditRows(t, { action: 'token.create', target_id: created.id });
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(audit[0])).not.toContain(created.token);
  });

  it('authenticates with Bearer and records last use', async () => {
    const created = await createToken(admin, ['courses:read', 'users:read']);
    const res = await api().get('/api/v1/courses').set(bearer(created.token));
    expect(res.status).toBe(200);
    const me = await api().get('/api/v1/me').set(bearer(created.token));
    expect(me.body.user.email).toBe('admin@test.example');
    const row = await t.deps.db('api_tokens').where({ id: created.id }).first();
    expect(row.last_used_at).not.toBeNull();
  });

  it('rejects unknown and malformed bearer tokens with 401', async () => {
    expectProblem(await api().get('/api/v1/courses').set(bearer('cairn_pat_doesnotexist')), 401, 'unauthenticated');
    expectProblem(await api().get('/api/v1/courses').set(bearer('somebody-elses-jwt')), 401, 'unauthenticated');
    expectProblem(await api().get('/api/v1/courses').set('Authorization', 'Basic Zm9vOmJhcg=='), 401, 'unauthenticated');
  });

  it('needs the endpoint\'s scope: 403 without it', async () => {
    const created = await createToken(admin, ['courses:read']);
    expect((await api().get('/api/v1/courses').set(bearer(created.token))).status).toBe(200);
    expectProblem(await api().post('/api/v1/courses').set(bearer(created.token)).send({ title: 'Nope' }), 403, 'forbidden');
    expectProblem(await api().get('/api/v1/users').set(bearer(created.token)), 403, 'forbidden');
  });

  it('never lets a token do more than its user\'s role: a learner\'s users:read token cannot list users', async () => {
    const { agent: learner } = await userAgent(t, admin, 'learner');
    const created = await createToken(learner, ['users:read', 'courses:read']);
    expectProblem(await api().get('/api/v1/users').set(bearer(created.token)), 403, 'forbidden');
    expect((await api().get('/api/v1/courses').set(bearer(created.token))).status).toBe(200);
  });

  it('follows its user: a role change or suspension applies to the token at once', async () => {
    const { user, agent } = await userAgent(t, admin, 'instructor');
    const created = await createToken(agent, ['courses:write', 'courses:read']);
    expect((await api().post('/api/v1/courses').set(bearer(created.token)).send({ title: 'By instructor token' })).status).toBe(201);
    expect((await admin.patch(`/api/v1/users/${user.id}`).send({ role: 'learner' })).status).toBe(200);
    expectProblem(await api().post('/api/v1/courses').set(bearer(created.token)).send({ title: 'Again' }), 403, 'forbidden');
    expect((await admin.patch(`/api/v1/users/${user.id}`).send({ status: 'suspended' })).status).toBe(200);
    expectProblem(await api().get('/api/v1/courses').set(bearer(created.token)), 401, 'unauthenticated');
  });

  it('stops working once revoked', async () => {
    const created = await createToken(admin, ['courses:read']);
    expect((await api().get('/api/v1/courses').set(bearer(created.token))).status).toBe(200);
    expect((await admin.delete(`/api/v1/tokens/${created.id}`)).status).toBe(204);
    expectProblem(await api().get('/api/v1/courses').set(bearer(created.token)), 401, 'unauthenticated');
    const listed = await admin.get('/api/v1/tokens?include_revoked=true');
    expect(listed.body.data.find((d: { id: string }) => d.id === created.id).revoked_at).not.toBeNull();
    expect((await admin.get('/api/v1/tokens')).body.data.map((d: { id: string }) => d.id)).not.toContain(created.id);
    expect(await auditRows(t, { action: 'token.revoke', target_id: created.id })).toHaveLength(1);
  });

  it('stops working when it expires', async () => {
    const created = await createToken(admin, ['courses:read'], { expires_in_days: 1 });
    expect(Date.parse(created.expires_at!)).toBeGreaterThan(t.clock.now().getTime() + 86_400_000 - 60_000);
    expect((await api().get('/api/v1/courses').set(bearer(created.token))).status).toBe(200);
    t.clock.advance(86_400_000 + 1000);
    admin = await t.login();
    expectProblem(await api().get('/api/v1/courses').set(bearer(created.token)), 401, 'unauthenticated');
  });

  it('cannot mint a token with scopes it lacks, nor one that outlives it', async () => {
    const parent = await createToken(admin, ['tokens:write', 'courses:read'], { expires_in_days: 2 });
    const denied = await api().post('/api/v1/tokens').set(bearer(parent.token)).send({ name: 'escalate', scopes: ['courses:read', 'users:write'] });
    expectProblem(denied, 403, 'forbidden');
    expect(denied.body.detail).toContain('users:write');

    const child = await api().post('/api/v1/tokens').set(bearer(parent.token)).send({ name: 'narrower', scopes: ['courses:read'] });
    expect(child.status).toBe(201);
    // Without an expiry of its own the child ends when its parent does…
    expect(Date.parse(child.body.expires_at)).toBeLessThanOrEqual(Date.parse(parent.expires_at!));
    // …and it cannot ask for longer.
    const longer = await api().post('/api/v1/tokens').set(bearer(parent.token)).send({ name: 'longer', scopes: ['courses:read'], expires_in_days: 30 });
    expectProblem(longer, 403, 'forbidden');

    const noTokensScope = await createToken(admin, ['courses:read']);
    expectProblem(await api().post('/api/v1/tokens').set(bearer(noTokensScope.token)).send({ name: 'x', scopes: ['courses:read'] }), 403, 'forbidden');
  });

  it('is refused by session-only endpoints', async () => {
    const created = await createToken(admin, ['users:write', 'users:read']);
    expectProblem(await api().post('/api/v1/me/password').set(bearer(created.token)).send({ current_password: 'correct horse battery staple', new_password: 'a different long password' }), 403, 'forbidden');
    expectProblem(await api().post('/api/v1/auth/mfa/setup').set(bearer(created.token)), 403, 'forbidden');
    expectProblem(await api().post('/api/v1/auth/logout').set(bearer(created.token)), 403, 'forbidden');
    // The password did not change.
    expect((await api().post('/api/v1/auth/login').send({ email: 'admin@test.example', password: 'correct horse battery staple' })).status).toBe(200);
  });

  it('rejects a duplicate name among a user\'s live tokens with 409', async () => {
    await admin.post('/api/v1/tokens').send({ name: 'ci', scopes: ['courses:read'] });
    expectProblem(await admin.post('/api/v1/tokens').send({ name: 'ci', scopes: ['courses:read'] }), 409, 'conflict');
  });

  it('lets admins list and revoke other users\' tokens, and nobody else', async () => {
    const { user: alice, agent: aliceAgent } = await userAgent(t, admin, 'instructor');
    const { user: bob, agent: bobAgent } = await userAgent(t, admin, 'instructor');
    const aliceToken = await createToken(aliceAgent, ['courses:read', 'tokens:read', 'tokens:write']);
    const bobToken = await createToken(bobAgent, ['courses:read', 'tokens:read', 'tokens:write']);

    // Each sees their own.
    const own = await aliceAgent.get('/api/v1/tokens');
    expect(own.body.data.map((d: { id: string }) => d.id)).toEqual([aliceToken.id]);
    // Not someone else's, by session or by token.
    expectProblem(await aliceAgent.get(`/api/v1/tokens?user_id=${bob.id}`), 403, 'forbidden');
    expectProblem(await aliceAgent.get('/api/v1/tokens?all=true'), 403, 'forbidden');
    expectProblem(await api().get(`/api/v1/tokens?user_id=${bob.id}`).set(bearer(aliceToken.token)), 403, 'forbidden');
    expectProblem(await aliceAgent.delete(`/api/v1/tokens/${bobToken.id}`), 404, 'not_found');
    expect((await api().get('/api/v1/courses').set(bearer(bobToken.token))).status).toBe(200);

    // Admins see and revoke anyone's.
    const bobs = await admin.get(`/api/v1/tokens?user_id=${bob.id}`);
    expect(bobs.body.data.map((d: { id: string }) => d.id)).toEqual([bobToken.id]);
    const all = await admin.get('/api/v1/tokens?all=true&limit=200');
    const ids = all.body.data.map((d: { id: string }) => d.id);
    expect(ids).toEqual(expect.arrayContaining([aliceToken.id, bobToken.id]));
    expect((await admin.delete(`/api/v1/tokens/${bobToken.id}`)).status).toBe(204);
    expectProblem(await api().get('/api/v1/courses').set(bearer(bobToken.token)), 401, 'unauthenticated');
    const audit = await auditRows(t, { action: 'token.revoke', target_id: bobToken.id });
    expect(audit[0]).toMatchObject({ actor_label: 'admin@test.example', details: { user_id: bob.id } });
    expect(alice.id).not.toBe(bob.id);
  });
});
