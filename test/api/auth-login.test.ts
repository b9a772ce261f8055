import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { adminEmail, adminPassword, startTestApp, type TestApp } from '../support/app.js';
import { auditRows, createUser, expectProblem, setCookies, type Agent } from '../support/api.js';

let t: TestApp;
let admin: Agent;
beforeAll(async () => {
  t = await startTestApp();
  admin = await t.login();
});
afterAll(async () => { await t?.close(); });

const login = (app: TestApp, email: string, password: string) => request(app.app).post('/api/v1/auth/login').send({ email, password });

function sessionCookie(res: request.Response): string {
  const cookie = setCookies(res).find((c) => c.startsWith('cairn_session='));
  if (!cookie) throw new Error(`no session cookie in ${JSON.stringify(res.headers['set-cookie'])}`);
  return cookie;
}

/** Attribute names of a Set-Cookie line, lower-cased, with their values. */
function attributes(cookie: string): Map<string, string> {
  const parts = cookie.split(';').slice(1).map((p) => p.trim());
  return new Map(parts.map((p) => {
    const eq = p.indexOf('=');
    return eq < 0 ? [p.toLowerCase(), ''] : [p.slice(0, eq).toLowerCase(), p.slice(eq + 1)];
  }));
}

describe('password login', () => {
  it('sets an HttpOnly, SameSite=Lax, Path=/ session cookie without Secure on http', async () => {
    const res = await login(t, adminEmail, adminPassword);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ user: { email: adminEmail, role: 'admin' }, mfa_required: false });
    const cookie = sessionCookie(res);
    const value = cookie.slice('cairn_session='.length).split(';')[0]!;
    expect(value.length).toBeGreaterThanOrEqual(40);
    const attrs = attributes(cookie);
    expect(attrs.has('httponly')).toBe(true);
    expect(attrs.get('samesite')).toBe('Lax');
    expect(attrs.get('path')).toBe('/');
    expect(attrs.has('secure')).toBe(false);
    // The cookie value is a bearer secret: the database keeps only its hash.
    const stored = await t.deps.db('sessions').select('id');
    expect(stored.map((s) => s.id)).not.toContain(value);
    // And the cookie authenticates.
    const me = await request(t.app).get('/api/v1/me').set('Cookie', `cairn_session=${value}`);
    expect(me.status).toBe(200);
    expect(me.body.user.email).toBe(adminEmail);
  });

  it('marks the cookie Secure when the public URL is https', async () => {
    const https = await startTestApp({ sameDatabaseAs: t, env: { CAIRN_PUBLIC_URL: 'https://cairn.example', CAIRN_CONTENT_URL: 'https://content.example' } });
    try {
      const res = await login(https, adminEmail, adminPassword);
      expect(res.status).toBe(200);
      const attrs = attributes(sessionCookie(res));
      expect(attrs.has('secure')).toBe(true);
      expect(attrs.has('httponly')).toBe(true);
      expect(attrs.get('samesite')).toBe('Lax');
    } finally {
      await https.close();
    }
  });

  it('answers a wrong password and an unknown email alike: 401 invalid_credentials, same shape', async () => {
    const user = await createUser(admin, 'learner');
    const wrong = await login(t, user.email, 'not the right password');
    const unknown = await login(t, 'nobody-at-all@test.example', 'not the right password');
    expectProblem(wrong, 401, 'invalid_credentials');
    expectProblem(unknown, 401, 'invalid_credentials');
    expect(Object.keys(wrong.body).sort()).toEqual(Object.keys(unknown.body).sort());
    expect(wrong.body.detail).toBe(unknown.body.detail);
    expect(wrong.body.title).toBe(unknown.body.title);
    expect(setCookies(wrong).some((c) => c.startsWith('cairn_session='))).toBe(false);
  });

  it('matches the email case-insensitively', async () => {
    const user = await createUser(admin, 'learner');
    const res = await login(t, user.email.toUpperCase(), user.password);
    expect(res.status).toBe(200);
  });

  it('refuses a suspended user with 403 even with the right password', async () => {
    const user = await createUser(admin, 'learner');
    expect((await admin.patch(`/api/v1/users/${user.id}`).send({ status: 'suspended' })).status).toBe(200);
    const res = await login(t, user.email, user.password);
    expectProblem(res, 403, 'forbidden');
    expect(setCookies(res).some((c) => c.startsWith('cairn_session='))).toBe(false);
  });

  it('logs into another tenant only with its slug', async () => {
    const res = await login(t, adminEmail, adminPassword);
    expect(res.status).toBe(200);
    const other = await request(t.app).post('/api/v1/auth/login').send({ email: adminEmail, password: adminPassword, tenant: 'no-such-tenant' });
    expectProblem(other, 401, 'invalid_credentials');
  });
});

describe('lockout after repeated failures', () => {
  it('locks after 5 consecutive failures (423 with Retry-After), refuses the right password while locked, lifts after 15 minutes', async () => {
    const user = await createUser(admin, 'learner');
    for (let i = 1; i <= 4; i++) {
      expectProblem(await login(t, user.email, `wrong password ${i}`), 401, 'invalid_credentials');
    }
    const fifth = await login(t, user.email, 'wrong password 5');
    expectProblem(fifth, 423, 'account_locked');
    const retryAfter = Number(fifth.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(15 * 60 - 5);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    expect(Date.parse(fifth.body.locked_until)).toBeGreaterThan(t.clock.now().getTime());

    const right = await login(t, user.email, user.password);
    expectProblem(right, 423, 'account_locked');
    expect(Number(right.headers['retry-after'])).toBeGreaterThan(0);

    const failed = await auditRows(t, { action: 'auth.login_failed', target_id: user.id });
    expect(failed).toHaveLength(5);
    const locked = await auditRows(t, { action: 'user.locked', target_id: user.id });
    expect(locked).toHaveLength(1);
    expect(locked[0]).toMatchObject({ target_type: 'user', actor_label: user.email });

    // The admin sees the lock.
    const seen = await admin.get(`/api/v1/users/${user.id}`);
    expect(seen.body.locked_until).not.toBeNull();

    t.clock.advance(15 * 60_000 + 1000);
    // Expired by the clock alone, before any new login, the lock no longer shows.
    const expired = await admin.get(`/api/v1/users/${user.id}`);
    expect(expired.body.locked_until).toBeNull();
    expect((await login(t, user.email, user.password)).status).toBe(200);

    // The counter started again from zero: four more failures do not lock.
    for (let i = 1; i <= 4; i++) expectProblem(await login(t, user.email, `again wrong ${i}`), 401, 'invalid_credentials');
    expect((await login(t, user.email, user.password)).status).toBe(200);
  });

  it('counts only consecutive failures: a successful login resets the counter', async () => {
    const user = await createUser(admin, 'learner');
    for (let i = 0; i < 4; i++) expect((await login(t, user.email, 'wrong wrong wrong')).status).toBe(401);
    expect((await login(t, user.email, user.password)).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await login(t, user.email, 'wrong wrong wrong')).status).toBe(401);
    expect((await login(t, user.email, user.password)).status).toBe(200);
  });

  it('lets an admin unlock the account early', async () => {
    const user = await createUser(admin, 'learner');
    for (let i = 0; i < 5; i++) await login(t, user.email, 'wrong wrong wrong');
    expectProblem(await login(t, user.email, user.password), 423, 'account_locked');

    const unlocked = await admin.post(`/api/v1/users/${user.id}/unlock`);
    expect(unlocked.status).toBe(200);
    expect(unlocked.body.locked_until).toBeNull();
    expect((await login(t, user.email, user.password)).status).toBe(200);
    const audit = await auditRows(t, { action: 'user.unlock', target_id: user.id });
    expect(audit).toHaveLength(1);
    expect(audit[0]!['actor_label']).toBe(adminEmail);
  });

  it('does not let a non-admin unlock anyone', async () => {
    const user = await createUser(admin, 'learner');
    const learner = await t.login(user.email, user.password);
    expectProblem(await learner.post(`/api/v1/users/${user.id}/unlock`), 403, 'forbidden');
  });
});
