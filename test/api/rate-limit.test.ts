import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';
import { alignToWindowStart, createUser, expectProblem, type Agent } from '../support/api.js';

let t: TestApp;
let second: TestApp;
beforeAll(async () => {
  t = await startTestApp({ env: { CAIRN_RATE_LIMIT_API_PER_MINUTE: '5', CAIRN_RATE_LIMIT_LOGIN_PER_MINUTE: '1000' } });
  // A second Cairn node on the same database, as behind a load balancer.
  second = await startTestApp({ sameDatabaseAs: t });
});
afterAll(async () => {
  await second?.close();
  await t?.close();
});

/** A fresh user with an API token, so every test starts from an untouched counter. */
async function freshToken(): Promise<string> {
  const admin = await t.login();
  const user = await createUser(admin, 'instructor');
  const agent = await t.login(user.email, user.password);
  // Creating the token is one request of this user's budget: move to a fresh window after it.
  const res = await agent.post('/api/v1/tokens').send({ name: 'rl', scopes: ['courses:read'] });
  expect(res.status).toBe(201);
  return res.body.token;
}

const get = (app: TestApp, token: string) => request(app.app).get('/api/v1/courses').set('Authorization', `Bearer ${token}`);

describe('per-user API rate limit', () => {
  it('answers the 6th request in a minute with 429 rate_limited, Retry-After and RateLimit-* headers; the next minute is open again', async () => {
    const token = await freshToken();
    alignToWindowStart(t.clock);
    for (let i = 1; i <= 5; i++) {
      const res = await get(t, token);
      expect(res.status, `request ${i}`).toBe(200);
      expect(res.headers['ratelimit-limit']).toBe('5');
      expect(res.headers['ratelimit-remaining']).toBe(String(5 - i));
      const reset = Number(res.headers['ratelimit-reset']);
      expect(reset).toBeGreaterThan(0);
      expect(reset).toBeLessThanOrEqual(60);
    }
    const limited = await get(t, token);
    expectProblem(limited, 429, 'rate_limited');
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.headers['ratelimit-remaining']).toBe('0');
    // Still limited a moment later…
    expectProblem(await get(t, token), 429, 'rate_limited');
    // …and open once the window has passed.
    t.clock.advance(retryAfter * 1000);
    const next = await get(t, token);
    expect(next.status).toBe(200);
    expect(next.headers['ratelimit-remaining']).toBe('4');
  });

  it('counts per user: one user at the limit does not slow another', async () => {
    const busy = await freshToken();
    const quiet = await freshToken();
    alignToWindowStart(t.clock);
    for (let i = 0; i < 5; i++) expect((await get(t, busy)).status).toBe(200);
    expect((await get(t, busy)).status).toBe(429);
    expect((await get(t, quiet)).status).toBe(200);
  });

  it('counts a session and a token of the same user together', async () => {
    const admin = await t.login();
    const user = await createUser(admin, 'instructor');
    const agent: Agent = await t.login(user.email, user.password);
    const tokenRes = await agent.post('/api/v1/tokens').send({ name: 'both', scopes: ['courses:read'] });
    alignToWindowStart(t.clock);
    // The window moved; the session is still alive (idle < 30 min).
    for (let i = 0; i < 3; i++) expect((await agent.get('/api/v1/courses')).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await get(t, tokenRes.body.token)).status).toBe(200);
    expect((await agent.get('/api/v1/courses')).status).toBe(429);
    expect((await get(t, tokenRes.body.token)).status).toBe(429);
  });

  it('shares the counter between two nodes on the same database: alternating requests get exactly the limit in total', async () => {
    const token = await freshToken();
    alignToWindowStart(t.clock);
    const outcomes: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await get(i % 2 === 0 ? t : second, token);
      outcomes.push(res.status);
    }
    expect(outcomes.filter((s) => s === 200)).toHaveLength(5);
    expect(outcomes.filter((s) => s === 429)).toHaveLength(7);
    // Both nodes took part in serving the five.
    expect(outcomes.slice(0, 4)).toEqual([200, 200, 200, 200]);
    expect(outcomes.slice(5)).toEqual(new Array(7).fill(429));
  });

  it('holds the limit across nodes under concurrent bursts too', async () => {
    const token = await freshToken();
    alignToWindowStart(t.clock);
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => get(i % 2 === 0 ? t : second, token)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(5);
    expect(results.filter((r) => r.status === 429)).toHaveLength(11);
  });
});

describe('a larger limit across nodes', () => {
  let big: TestApp;
  let bigSecond: TestApp;
  beforeAll(async () => {
    big = await startTestApp({ env: { CAIRN_RATE_LIMIT_API_PER_MINUTE: '60' } });
    bigSecond = await startTestApp({ sameDatabaseAs: big });
  });
  afterAll(async () => {
    await bigSecond?.close();
    await big?.close();
  });

  it('never lets more than the limit through, and lets all of it through when traffic keeps coming to both nodes', async () => {
    const admin = await big.login();
    const user = await createUser(admin, 'instructor');
    const agent = await big.login(user.email, user.password);
    const token = (await agent.post('/api/v1/tokens').send({ name: 'big', scopes: ['courses:read'] })).body.token as string;
    alignToWindowStart(big.clock);
    let allowed = 0;
    for (let i = 0; i < 90; i++) {
      const res = await request((i % 3 === 0 ? bigSecond : big).app).get('/api/v1/courses').set('Authorization', `Bearer ${token}`);
      if (res.status === 200) allowed += 1;
      else expect(res.status).toBe(429);
    }
    expect(allowed).toBe(60);
  });
});

describe('login attempts per client IP', () => {
  let strict: TestApp;
  beforeAll(async () => { strict = await startTestApp({ env: { CAIRN_RATE_LIMIT_LOGIN_PER_MINUTE: '3' } }); });
  afterAll(async () => { await strict?.close(); });

  it('answers the 4th login attempt in a minute from one address with 429, whatever the account', async () => {
    alignToWindowStart(strict.clock);
    const attempt = (email: string, password: string) => request(strict.app).post('/api/v1/auth/login').send({ email, password });
    expect((await attempt('someone@test.example', 'wrong wrong wrong')).status).toBe(401);
    expect((await attempt('other@test.example', 'wrong wrong wrong')).status).toBe(401);
    expect((await attempt('admin@test.example', 'correct horse battery staple')).status).toBe(200);
    const limited = await attempt('admin@test.example', 'correct horse battery staple');
    expectProblem(limited, 429, 'rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Rate-limited attempts are not password guesses: they do not count toward a lockout.
    const user = await strict.deps.db('users').where({ email: 'admin@test.example' }).first();
    expect(user.failed_login_count).toBe(0);
    strict.clock.advance(60_000);
    expect((await attempt('admin@test.example', 'correct horse battery staple')).status).toBe(200);
  });
});
