import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';
import { auditRows, createUser as createUserAs, expectProblem, setCookies } from '../support/api.js';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t?.close(); });

const minutes = (n: number) => n * 60_000;

// These tests move the clock by hours, so every admin action uses a fresh admin session.
const createUser = async (role: 'learner' | 'instructor' | 'admin') => createUserAs(await t.login(), role);

/** Logs in without a cookie jar and returns the raw cookie, so it can be replayed after logout. */
async function rawLogin(app: TestApp, email: string, password: string): Promise<string> {
  const res = await request(app.app).post('/api/v1/auth/login').send({ email, password });
  expect(res.status).toBe(200);
  const cookie = setCookies(res).find((c) => c.startsWith('cairn_session='))!;
  return cookie.split(';')[0]!;
}

const me = (app: TestApp, cookie: string) => request(app.app).get('/api/v1/me').set('Cookie', cookie);

describe('session lifetime', () => {
  it('ends a session idle longer than CAIRN_SESSION_IDLE_MINUTES (30)', async () => {
    const user = await createUser('learner');
    const cookie = await rawLogin(t, user.email, user.password);
    expect((await me(t, cookie)).status).toBe(200);
    t.clock.advance(minutes(31));
    const res = await me(t, cookie);
    expectProblem(res, 401, 'unauthenticated');
    // The dead session is removed server-side, not merely refused.
    expect(await t.deps.db('sessions').where({ user_id: user.id })).toHaveLength(0);
  });

  it('keeps an active session alive: 20 min, request, 20 min, still valid', async () => {
    const user = await createUser('learner');
    const cookie = await rawLogin(t, user.email, user.password);
    t.clock.advance(minutes(20));
    expect((await me(t, cookie)).status).toBe(200);
    t.clock.advance(minutes(20));
    expect((await me(t, cookie)).status).toBe(200);
    t.clock.advance(minutes(29));
    expect((await me(t, cookie)).status).toBe(200);
    t.clock.advance(minutes(31));
    expect((await me(t, cookie)).status).toBe(401);
  });

  it('writes last_seen at most once a minute', async () => {
    const user = await createUser('learner');
    const cookie = await rawLogin(t, user.email, user.password);
    const before = await t.deps.db('sessions').where({ user_id: user.id }).first();
    t.clock.advance(30_000);
    await me(t, cookie);
    const same = await t.deps.db('sessions').where({ user_id: user.id }).first();
    expect(same.last_seen_at.getTime()).toBe(before.last_seen_at.getTime());
    t.clock.advance(31_000);
    await me(t, cookie);
    const later = await t.deps.db('sessions').where({ user_id: user.id }).first();
    expect(later.last_seen_at.getTime()).toBeGreaterThan(before.last_seen_at.getTime() + 60_000);
  });

  it('ends a session after CAIRN_SESSION_MAX_HOURS however active', async () => {
    const short = await startTestApp({ sameDatabaseAs: t, env: { CAIRN_SESSION_MAX_HOURS: '1' } });
    try {
      const user = await createUser('learner');
      const cookie = await rawLogin(short, user.email, user.password);
      for (let i = 0; i < 2; i++) {
        t.clock.advance(minutes(25));
        expect((await me(short, cookie)).status).toBe(200);
      }
      t.clock.advance(minutes(11));
      expectProblem(await me(short, cookie), 401, 'unauthenticated');
    } finally {
      await short.close();
    }
  });

  it('sends a cookie that expires with the session', async () => {
    const res = await request(t.app).post('/api/v1/auth/login').send({ email: (await createUser('learner')).email, password: 'a long enough password 123' });
    const cookie = setCookies(res).find((c) => c.startsWith('cairn_session='))!;
    const expires = Date.parse(/Expires=([^;]+)/i.exec(cookie)![1]!);
    expect(Math.abs(expires - (t.clock.now().getTime() + 12 * 3600_000))).toBeLessThan(5_000);
  });
});

describe('logout and password change', () => {
  it('a new login from the same browser replaces its previous session', async () => {
    const user = await createUser('learner');
    const first = await rawLogin(t, user.email, user.password);
    const again = await request(t.app).post('/api/v1/auth/login').set('Cookie', first).send({ email: user.email, password: user.password });
    expect(again.status).toBe(200);
    expectProblem(await me(t, first), 401, 'unauthenticated');
    const second = setCookies(again).find((c) => c.startsWith('cairn_session='))!.split(';')[0]!;
    expect((await me(t, second)).status).toBe(200);
    expect(await t.deps.db('sessions').where({ user_id: user.id })).toHaveLength(1);
  });

  it('logout ends the session server-side: the old cookie no longer works', async () => {
    const user = await createUser('learner');
    const cookie = await rawLogin(t, user.email, user.password);
    const out = await request(t.app).post('/api/v1/auth/logout').set('Cookie', cookie);
    expect(out.status).toBe(204);
    expect(out.text).toBe('');
    // The browser is told to drop the cookie…
    expect(setCookies(out).some((c) => c.startsWith('cairn_session=;') && /Expires=Thu, 01 Jan 1970/i.test(c))).toBe(true);
    // …and a copy kept by an attacker is worthless.
    expectProblem(await me(t, cookie), 401, 'unauthenticated');
    expect(await t.deps.db('sessions').where({ user_id: user.id })).toHaveLength(0);
    expect(await auditRows(t, { action: 'auth.logout', actor_user_id: user.id })).toHaveLength(1);
  });

  it('changing one\'s password ends the other sessions and keeps this one', async () => {
    const user = await createUser('learner');
    const laptop = await rawLogin(t, user.email, user.password);
    const phone = await rawLogin(t, user.email, user.password);
    const newPassword = 'a brand new password 456';
    const res = await request(t.app).post('/api/v1/me/password').set('Cookie', laptop).send({ current_password: user.password, new_password: newPassword });
    expect(res.status).toBe(204);
    expect((await me(t, laptop)).status).toBe(200);
    expectProblem(await me(t, phone), 401, 'unauthenticated');
    expect((await request(t.app).post('/api/v1/auth/login').send({ email: user.email, password: user.password })).status).toBe(401);
    expect((await request(t.app).post('/api/v1/auth/login').send({ email: user.email, password: newPassword })).status).toBe(200);
  });

  it('refuses a password change with the wrong current password or a too-short new one', async () => {
    const user = await createUser('learner');
    const cookie = await rawLogin(t, user.email, user.password);
    expectProblem(await request(t.app).post('/api/v1/me/password').set('Cookie', cookie).send({ current_password: 'wrong wrong wrong', new_password: 'another long password' }), 401, 'invalid_credentials');
    const short = await request(t.app).post('/api/v1/me/password').set('Cookie', cookie).send({ current_password: user.password, new_password: 'short' });
    expectProblem(short, 400, 'validation_failed');
    expect(short.body.errors[0].pointer).toBe('/body/new_password');
  });

  it('an admin resetting a user\'s password ends that user\'s sessions', async () => {
    const user = await createUser('learner');
    const cookie = await rawLogin(t, user.email, user.password);
    expect((await (await t.login()).patch(`/api/v1/users/${user.id}`).send({ password: 'set by the admin 789' })).status).toBe(200);
    expectProblem(await me(t, cookie), 401, 'unauthenticated');
  });
});

describe('cross-site request protection', () => {
  it('rejects a cookie-authenticated write from another origin with 403 csrf_rejected', async () => {
    const cookie = await rawLogin(t, 'admin@test.example', 'correct horse battery staple');
    const before = await t.deps.db('courses').count<{ count: string }[]>('* as count');
    const evil = await request(t.app).post('/api/v1/courses').set('Cookie', cookie).set('Origin', 'https://evil.example').send({ title: 'Planted' });
    expectProblem(evil, 403, 'csrf_rejected');
    const after = await t.deps.db('courses').count<{ count: string }[]>('* as count');
    expect(after[0]!.count).toBe(before[0]!.count);

    const viaReferer = await request(t.app).post('/api/v1/courses').set('Cookie', cookie).set('Referer', 'https://evil.example/page').send({ title: 'Planted' });
    expectProblem(viaReferer, 403, 'csrf_rejected');

    const opaque = await request(t.app).post('/api/v1/courses').set('Cookie', cookie).set('Origin', 'null').send({ title: 'Planted' });
    expectProblem(opaque, 403, 'csrf_rejected');
  });

  it('allows the same write from the public origin', async () => {
    const cookie = await rawLogin(t, 'admin@test.example', 'correct horse battery staple');
    const ok = await request(t.app).post('/api/v1/courses').set('Cookie', cookie).set('Origin', new URL(t.deps.config.publicUrl).origin).send({ title: 'Legit' });
    expect(ok.status).toBe(201);
    // Reads are not state-changing and pass from anywhere (CORS decides whether a page may read them).
    expect((await request(t.app).get('/api/v1/courses').set('Cookie', cookie).set('Origin', 'https://evil.example')).status).toBe(200);
  });

  it('does not apply the origin check to API tokens, which browsers never send on their own', async () => {
    const created = await (await t.login()).post('/api/v1/tokens').send({ name: 'csrf-check', scopes: ['courses:write'] });
    expect(created.status).toBe(201);
    const res = await request(t.app).post('/api/v1/courses').set('Authorization', `Bearer ${created.body.token}`).set('Origin', 'https://evil.example').send({ title: 'By token' });
    expect(res.status).toBe(201);
  });
});
