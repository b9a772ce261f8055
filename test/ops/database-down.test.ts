import net from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminEmail, adminPassword, createTestDatabase } from '../support/app.js';
import { appOnDatabase } from './support.js';

/**
 * PostgreSQL becomes unreachable under a running Cairn and comes back. A TCP proxy sits
 * between the app (pool and pg-boss) and the server so the test can cut the wire.
 * - `refuse`: every connection is reset (server restarting, firewall reject);
 * - `blackhole`: existing connections are reset and new ones hang (host gone, packets dropped),
 *   which only timeouts can turn into an answer.
 */
class TcpProxy {
  private server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  mode: 'pass' | 'refuse' | 'blackhole' = 'pass';

  constructor(private readonly upstream: { host: string; port: number }) {
    this.server = net.createServer((client) => this.accept(client));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  private accept(client: net.Socket): void {
    this.track(client);
    client.on('error', () => undefined);
    if (this.mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    if (this.mode === 'blackhole') return; // accepted, never answered
    const upstream = net.connect(this.upstream);
    this.track(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.pipe(upstream).pipe(client);
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }

  cut(mode: 'refuse' | 'blackhole'): void {
    this.mode = mode;
    for (const socket of this.sockets) socket.resetAndDestroy();
  }

  restore(): void {
    this.mode = 'pass';
    // Hung (blackholed) sockets are dropped so their clients retry instead of waiting forever.
    for (const socket of this.sockets) if (socket.readableFlowing !== true) socket.destroy();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

let proxy: TcpProxy;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let t: Awaited<ReturnType<typeof appOnDatabase>>;
let cookie: string;

beforeAll(async () => {
  database = await createTestDatabase();
  const direct = new URL(database.url);
  proxy = new TcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
  const viaProxy = new URL(database.url);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(await proxy.listen());
  // The embedded server's URL names its Unix socket (`?host=`), which would bypass the proxy;
  // it also listens on TCP at the URL's host and port, which the proxy forwards to.
  viaProxy.searchParams.delete('host');
  // Pool and pg-boss both go through the proxy; jobs on, as in production.
  t = await appOnDatabase(viaProxy.toString(), { CAIRN_DB_POOL_MAX: '4' }, undefined, { jobs: true, firstAdmin: true });
  const login = await request(t.app).post('/api/v1/auth/login').send({ email: adminEmail, password: adminPassword });
  expect(login.status).toBe(200);
  cookie = login.headers['set-cookie']![0]!.split(';')[0]!;
});
afterAll(async () => {
  proxy?.restore();
  await t?.close();
  await proxy?.close();
  await database?.drop();
});

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await work();
  return { value, ms: Date.now() - started };
}

async function expectHealthy(): Promise<void> {
  const ready = await request(t.app).get('/readyz');
  expect(ready.status, JSON.stringify(ready.body)).toBe(200);
  expect(ready.body.checks.database.ok).toBe(true);
  const courses = await request(t.app).get('/api/v1/courses').set('Cookie', cookie);
  expect(courses.status, JSON.stringify(courses.body)).toBe(200);
}

/** Polls until the app works again without a restart (the pool replaces its dead connections). */
async function expectRecovery(): Promise<number> {
  const started = Date.now();
  for (;;) {
    const ready = await request(t.app).get('/readyz');
    const courses = await request(t.app).get('/api/v1/courses').set('Cookie', cookie);
    if (ready.status === 200 && courses.status === 200) return Date.now() - started;
    if (Date.now() - started > 15_000) throw new Error(`no recovery: readyz ${ready.status} ${JSON.stringify(ready.body)}, courses ${courses.status} ${JSON.stringify(courses.body)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.each(['refuse', 'blackhole'] as const)('database unreachable (%s)', (mode) => {
  it('works before the cut', expectHealthy);

  it('readiness says 503 with the database failing, within a few seconds', async () => {
    proxy.cut(mode);
    const { value: ready, ms } = await timed(() => request(t.app).get('/readyz'));
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'unavailable', checks: { database: { ok: false, error: 'unreachable' }, blob_store: { ok: true } } });
    expect(ms).toBeLessThan(5_000); // the check's own budget is 2 s
    // Liveness does not depend on the database: the process itself is fine.
    expect((await request(t.app).get('/healthz')).status).toBe(200);
    // Metrics still answer (that is when they matter), without the database-backed job gauge.
    const { value: metrics, ms: metricsMs } = await timed(() => request(t.app).get('/metrics'));
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('cairn_db_pool_used_connections');
    expect(metrics.text).not.toMatch(/^cairn_jobs\{/m);
    expect(metricsMs).toBeLessThan(3_000);
  });

  it('an API call answers 503 service_unavailable with Retry-After, never 500', async () => {
    const { value: res, ms } = await timed(() => request(t.app).get('/api/v1/courses').set('Cookie', cookie));
    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.headers['retry-after']).toMatch(/^\d+$/);
    expect(res.body).toMatchObject({ code: 'service_unavailable', status: 503 });
    expect(JSON.stringify(res.body)).not.toMatch(/ECONN|terminated|timeout acquiring|knex/i);
    expect(ms).toBeLessThan(8_000); // connect timeout 3 s, acquire timeout 5 s
    // A write, and a login (rate limiter + user lookup) as well.
    const write = await request(t.app).post('/api/v1/courses').set('Cookie', cookie).send({ title: 'During the outage' });
    expect(write.status).toBe(503);
    const login = await request(t.app).post('/api/v1/auth/login').send({ email: adminEmail, password: adminPassword });
    expect(login.status).toBe(503);
    expect(login.body.code).toBe('service_unavailable');
  });

  it('recovers once the database is back, without a restart', async () => {
    proxy.restore();
    const ms = await expectRecovery();
    expect(ms).toBeLessThan(10_000);
    await expectHealthy();
    const created = await request(t.app).post('/api/v1/courses').set('Cookie', cookie).send({ title: `After the ${mode} outage` });
    expect(created.status).toBe(201);
  });
});
