import http from 'node:http';
import express from 'express';
import pg from 'pg';
import { pino } from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';
import request from 'supertest';
import { adminEmail, adminPassword, startTestApp, type TestApp } from '../support/app.js';
import { gracefulShutdown, listen, type HttpServer } from '../../src/ops/server.js';

/**
 * Graceful shutdown with the real runtime (pool, rate limiter, pg-boss) and the real server
 * code main.ts uses: in-flight requests finish while new connections are refused, and only
 * then are the job queue and the database pool closed.
 */
let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** Connections to this test's database, by application name, as PostgreSQL sees them. */
async function connectionsTo(databaseUrl: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: inject('pgServerUrl') });
  await client.connect();
  try {
    const { rows } = await client.query<{ application_name: string }>('select application_name from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [new URL(databaseUrl).pathname.slice(1)]);
    return rows.map((r) => r.application_name).sort();
  } finally {
    await client.end();
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}

/** A raw HTTP request whose body the test writes when it chooses. */
function openRequest(port: number, options: { method: string; path: string; headers: Record<string, string> }): { req: http.ClientRequest; response: Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> } {
  const req = http.request({ host: '127.0.0.1', port, method: options.method, path: options.path, headers: options.headers, agent: false });
  const response = new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
  return { req, response };
}

async function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => { res.resume(); resolve(false); });
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

describe('graceful shutdown', () => {
  it('lets a slow request and a slowly uploaded API call finish, refuses new connections, then closes jobs and the pool', async () => {
    t = await startTestApp({ jobs: true });
    const { runtime } = t;
    const entered = deferred();
    const release = deferred();
    // A test-only route in front of the real app: it holds its request open, then uses the pool.
    const outer = express();
    outer.get('/test/slow', async (_req, res) => {
      entered.resolve();
      await release.promise;
      const { rows } = await runtime.deps.db.raw<{ rows: Array<{ n: number }> }>('select count(*)::int as n from users');
      res.json({ users: rows[0]!.n });
    });
    outer.use(t.app);
    const server: HttpServer = await listen(outer, { host: '127.0.0.1', port: 0 });
    const port = server.address.port;
    const shutdown = gracefulShutdown({ servers: [server], stopRuntime: () => runtime.stop(), graceMs: 10_000, log: pino({ level: 'silent' }) });

    const loggedIn = await request(t.app).post('/api/v1/auth/login').send({ email: adminEmail, password: adminPassword });
    const cookie = loggedIn.headers['set-cookie']![0]!.split(';')[0]!;
    expect(cookie).toMatch(/^cairn_session=/);
    expect(await connectionsTo(t.databaseUrl)).toContain('cairn-jobs');

    // In flight: one handler waiting, one API request whose body has not fully arrived.
    const slow = openRequest(port, { method: 'GET', path: '/test/slow', headers: {} });
    slow.req.end();
    await entered.promise;
    const body = JSON.stringify({ title: 'Created while draining' });
    const upload = openRequest(port, { method: 'POST', path: '/api/v1/courses', headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), cookie } });
    upload.req.write(body.slice(0, 10));
    await new Promise((r) => setTimeout(r, 100));

    const stopped = shutdown('test');
    let stoppedYet = false;
    void stopped.then(() => { stoppedYet = true; });
    await new Promise((r) => setTimeout(r, 200));
    expect(await refused(port)).toBe(true);
    expect(stoppedYet).toBe(false);

    upload.req.end(body.slice(10));
    const created = await upload.response;
    expect(created.status).toBe(201);
    expect(JSON.parse(created.body)).toMatchObject({ title: 'Created while draining' });
    expect(created.headers['connection']).toBe('close');

    release.resolve();
    const slowRes = await slow.response;
    expect(slowRes.status).toBe(200);
    expect(JSON.parse(slowRes.body)).toEqual({ users: 1 });

    await stopped;
    // The pool is closed afterwards: no connection of ours (pool or pg-boss) is left, and the
    // knex instance refuses further queries.
    expect(await connectionsTo(t.databaseUrl)).toEqual([]);
    await expect(runtime.deps.db.raw('select 1')).rejects.toThrow();
    // A second shutdown call (SIGINT after SIGTERM) waits for the same sequence, no error.
    await shutdown('again');
  });

  it('cuts requests still open after the grace period so shutdown always ends', async () => {
    t = await startTestApp();
    const outer = express();
    outer.get('/test/hang', () => { /* never answers */ });
    outer.use(t.app);
    const server = await listen(outer, { host: '127.0.0.1', port: 0 });
    const hung = openRequest(server.address.port, { method: 'GET', path: '/test/hang', headers: {} });
    hung.req.end();
    const outcome = hung.response.then(() => new Error('answered'), (error: Error) => error);
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await gracefulShutdown({ servers: [server], stopRuntime: () => t!.runtime.stop(), graceMs: 500, log: pino({ level: 'silent' }) })('test');
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(5_000);
    expect((await outcome).message).toMatch(/socket hang up|ECONNRESET/);
    expect(await connectionsTo(t.databaseUrl)).toEqual([]);
  });
});

describe('connection timeouts', () => {
  it('keeps a slow but steady upload alive and drops a connection on which nothing moves', async () => {
    t = await startTestApp();
    const outer = express();
    outer.post('/test/upload', (req, res) => {
      let bytes = 0;
      req.on('data', (c: Buffer) => { bytes += c.length; });
      req.on('end', () => res.json({ bytes }));
    });
    outer.use(t.app);
    const server = await listen(outer, { host: '127.0.0.1', port: 0, idleTimeoutMs: 400 });
    try {
      // Steady: a chunk every 150 ms for ~1.2 s, three times the idle limit in total.
      const steady = openRequest(server.address.port, { method: 'POST', path: '/test/upload', headers: { 'content-length': '8' } });
      for (let i = 0; i < 8; i++) {
        steady.req.write('x');
        await new Promise((r) => setTimeout(r, 150));
      }
      steady.req.end();
      const done = await steady.response;
      expect(done.status).toBe(200);
      expect(JSON.parse(done.body)).toEqual({ bytes: 8 });

      // Stalled: half a body, then silence.
      const stalled = openRequest(server.address.port, { method: 'POST', path: '/test/upload', headers: { 'content-length': '8' } });
      const outcome = stalled.response.then(() => new Error('answered'), (error: Error) => error);
      stalled.req.write('xxxx');
      const started = Date.now();
      expect((await outcome).message).toMatch(/socket hang up|ECONNRESET/);
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      await server.close(1_000);
    }
  });
});
