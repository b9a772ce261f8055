import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/runtime.js';
import { adminEmail, adminPassword, createTestDatabase } from '../support/app.js';
import { appOnDatabase, LogCapture } from './support.js';

/**
 * What reaches the log shipper: the production logger (createLogger, with its redaction)
 * writing JSON lines into memory, behind the real app and runtime.
 */
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let t: Awaited<ReturnType<typeof appOnDatabase>>;
const logs = new LogCapture('info', (stream) => createLogger({ logLevel: 'info' }, stream));

beforeAll(async () => {
  database = await createTestDatabase();
  t = await appOnDatabase(database.url, {}, logs.logger, { firstAdmin: true });
});
afterAll(async () => {
  await t?.close();
  await database?.drop();
});

const linesFor = (requestId: string) => logs.lines.filter((l) => JSON.stringify(l).includes(requestId));

describe('request logs', () => {
  it('a login is logged with its request id, never with the password, cookie or token', async () => {
    const login = await request(t.app).post('/api/v1/auth/login').set('X-Request-Id', 'log-login-1').send({ email: adminEmail, password: adminPassword });
    expect(login.status).toBe(200);
    const sessionCookie = login.headers['set-cookie']![0]!.split(';')[0]!;
    const sessionValue = sessionCookie.split('=')[1]!;

    // An API token, then a call that carries both the cookie and the bearer header.
    const token = await request(t.app).post('/api/v1/tokens').set('Cookie', sessionCookie).set('X-Request-Id', 'log-token-1').send({ name: 'logging test', scopes: ['courses:read'] });
    expect(token.status, JSON.stringify(token.body)).toBe(201);
    const secret = token.body.token as string;
    expect(secret).toBeTruthy();
    const viaToken = await request(t.app).get('/api/v1/courses').set('Authorization', `Bearer ${secret}`).set('X-Request-Id', 'log-me-1');
    expect(viaToken.status).toBe(200);
    const failed = await request(t.app).post('/api/v1/auth/login').set('X-Request-Id', 'log-login-2').send({ email: adminEmail, password: 'Wrong-Passw0rd-Attempt' });
    expect(failed.status).toBe(401);

    const login1 = linesFor('log-login-1');
    expect(login1.length).toBeGreaterThan(0);
    const completed = login1.find((l) => l['msg'] === 'request completed')!;
    expect(completed).toMatchObject({ level: 30, service: 'cairn', req: { id: 'log-login-1', method: 'POST', url: '/api/v1/auth/login' }, res: { statusCode: 200 } });
    expect(typeof completed['responseTime']).toBe('number');
    expect(linesFor('log-me-1').find((l) => l['msg'] === 'request completed')).toMatchObject({ res: { statusCode: 200 } });
    expect(linesFor('log-login-2').find((l) => l['msg'] === 'request completed')).toMatchObject({ res: { statusCode: 401 } });

    const text = logs.text();
    for (const leaked of [adminPassword, 'Wrong-Passw0rd-Attempt', sessionValue, secret, secret.slice(-12)]) {
      expect(text.includes(leaked), `log contains ${leaked.slice(0, 6)}…`).toBe(false);
    }
    expect(text).not.toMatch(/"(authorization|cookie|set-cookie)":/i);
  });

  it('logs a caller-supplied request id only when it is safe, and echoes the one it used', async () => {
    const res = await request(t.app).get('/api/v1/nothing').set('X-Request-Id', 'bad id with "quotes" and spaces');
    const used = res.headers['x-request-id'] as string;
    expect(used).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.request_id).toBe(used);
    expect(linesFor(used).length).toBeGreaterThan(0);
    expect(logs.text()).not.toContain('and spaces');
  });

  it('a 500 is logged with the error; the response carries only the request id', async () => {
    const { db } = t.runtime.deps;
    await db.raw('alter table courses rename to courses_hidden_by_test');
    try {
      const agent = request.agent(t.app);
      expect((await agent.post('/api/v1/auth/login').send({ email: adminEmail, password: adminPassword })).status).toBe(200);
      const res = await agent.get('/api/v1/courses').set('X-Request-Id', 'log-500-1');
      expect(res.status).toBe(500);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toEqual({
        type: 'https://cairn.dev/problems/internal',
        title: 'Internal server error',
        status: 500,
        detail: 'An unexpected error occurred. Quote the request id when reporting it.',
        instance: '/api/v1/courses',
        code: 'internal',
        request_id: 'log-500-1',
      });
      expect(res.text).not.toMatch(/courses_hidden|relation|select|stack|\.ts:/i);

      const lines = linesFor('log-500-1');
      const failure = lines.find((l) => l['msg'] === 'request failed')!;
      expect(failure).toMatchObject({ level: 50, requestId: 'log-500-1', code: 'internal' });
      const err = failure['err'] as { message: string; stack: string; type: string };
      expect(err.message).toMatch(/relation "courses" does not exist/);
      expect(err.stack).toContain('\n    at ');
      expect(lines.find((l) => l['msg'] === 'request completed' || l['msg'] === 'request errored')).toMatchObject({ level: 50, res: { statusCode: 500 } });
    } finally {
      await db.raw('alter table courses_hidden_by_test rename to courses');
    }
  });

  it('does not log probe and scrape requests one line each', async () => {
    await request(t.app).get('/healthz').set('X-Request-Id', 'log-probe-1');
    await request(t.app).get('/readyz').set('X-Request-Id', 'log-probe-2');
    await request(t.app).get('/metrics').set('X-Request-Id', 'log-probe-3');
    expect([...linesFor('log-probe-1'), ...linesFor('log-probe-2'), ...linesFor('log-probe-3')]).toEqual([]);
  });
});
