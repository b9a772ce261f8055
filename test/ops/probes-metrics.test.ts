import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';

/** Liveness, readiness and the Prometheus endpoint, as a monitoring system scrapes them. */
let open: TestApp;
let guarded: TestApp;
let proxied: TestApp;
const metricsToken = 'scrape-token-0123456789abcdef';

beforeAll(async () => {
  [open, guarded, proxied] = await Promise.all([
    startTestApp(),
    startTestApp({ env: { CAIRN_METRICS_TOKEN: metricsToken } }),
    startTestApp({ env: { CAIRN_TRUST_PROXY: 'loopback' } }),
  ]);
});
afterAll(async () => {
  await Promise.all([open?.close(), guarded?.close(), proxied?.close()]);
});

/** Parses Prometheus text into samples: name, labels, value. */
function samples(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const out: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not Prometheus text: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
    out.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return out;
}

describe('/healthz', () => {
  it('answers 200 without a session or the database', async () => {
    const res = await request(open.app).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });
});

describe('/readyz', () => {
  it('answers 200 with each dependency checked and timed', async () => {
    const res = await request(open.app).get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      status: 'ready',
      checks: { database: { ok: true, ms: expect.any(Number) }, blob_store: { ok: true, ms: expect.any(Number) } },
    });
  });
});

describe('/readyz with the blob store down', () => {
  it('answers 503 naming the failing check while the database check still passes', async () => {
    const broken = await startTestApp();
    try {
      broken.deps.blobs.close(); // every call now fails with service_unavailable
      const res = await request(broken.app).get('/readyz');
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ status: 'unavailable', checks: { database: { ok: true }, blob_store: { ok: false, error: 'unreachable' } } });
      expect((await request(broken.app).get('/healthz')).status).toBe(200);
    } finally {
      await broken.close();
    }
  });
});

describe('/metrics', () => {
  it('is served to a loopback client when no token is configured', async () => {
    const res = await request(open.app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('refuses a request that came through a reverse proxy on the same host', async () => {
    // Without trust proxy the proxy's loopback address is all Express sees; the forwarding
    // header shows the caller is outside.
    const res = await request(open.app).get('/metrics').set('X-Forwarded-For', '203.0.113.7');
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('forbidden');
  });

  it('with trust proxy, judges the real client address', async () => {
    expect((await request(proxied.app).get('/metrics').set('X-Forwarded-For', '203.0.113.7')).status).toBe(403);
    expect((await request(proxied.app).get('/metrics').set('X-Forwarded-For', '127.0.0.1')).status).toBe(200);
  });

  it('with CAIRN_METRICS_TOKEN, needs the bearer token, even from loopback', async () => {
    const missing = await request(guarded.app).get('/metrics');
    expect(missing.status).toBe(401);
    expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="metrics"');
    expect(missing.body.code).toBe('unauthenticated');
    expect((await request(guarded.app).get('/metrics').set('Authorization', `Bearer ${metricsToken}x`)).status).toBe(401);
    expect((await request(guarded.app).get('/metrics').set('Authorization', 'Bearer wrong')).status).toBe(401);
    expect((await request(guarded.app).get('/metrics').set('Authorization', `Basic ${metricsToken}`)).status).toBe(401);
    const ok = await request(guarded.app).get('/metrics').set('Authorization', `Bearer ${metricsToken}`);
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('cairn_http_request_duration_seconds');
    // From outside too: the token, not the address, decides.
    expect((await request(guarded.app).get('/metrics').set('X-Forwarded-For', '203.0.113.7').set('Authorization', `Bearer ${metricsToken}`)).status).toBe(200);
  });

  it('labels request latency with the matched route pattern and status, never a raw id', async () => {
    const agent = await open.login();
    const created = await agent.post('/api/v1/courses').send({ title: 'Metrics 101' });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect((await agent.get(`/api/v1/courses/${id}`)).status).toBe(200);
    expect((await agent.get(`/api/v1/courses/${id}`)).status).toBe(200);
    expect((await agent.get('/api/v1/courses/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await request(open.app).get(`/no/such/path/${id}`)).status).toBe(404);

    const res = await request(open.app).get('/metrics');
    expect(res.text).not.toContain(id);
    expect(res.text).not.toContain('/no/such/path');
    const all = samples(res.text);
    const latency = all.filter((s) => s.name.startsWith('cairn_http_request_duration_seconds'));
    const count = (route: string, status: string, method = 'GET') =>
      latency.find((s) => s.name === 'cairn_http_request_duration_seconds_count' && s.labels['route'] === route && s.labels['status_code'] === status && s.labels['method'] === method)?.value;
    expect(count('/api/v1/courses/:courseId', '200')).toBe(2);
    expect(count('/api/v1/courses/:courseId', '404')).toBe(1);
    expect(count('/api/v1/courses', '201', 'POST')).toBe(1);
    expect(count('/api/v1/auth/login', '200', 'POST')).toBe(1);
    expect(count('unmatched', '404')).toBe(1);
    // Buckets for the same series, cumulative up to +Inf.
    const buckets = latency.filter((s) => s.name === 'cairn_http_request_duration_seconds_bucket' && s.labels['route'] === '/api/v1/courses/:courseId' && s.labels['status_code'] === '200');
    expect(buckets.map((b) => b.labels['le'])).toContain('+Inf');
    expect(buckets.find((b) => b.labels['le'] === '+Inf')!.value).toBe(2);
    expect(buckets.length).toBeGreaterThan(5);
    // Every route label is a pattern from the app or one of the fixed names.
    for (const s of latency) expect(s.labels['route']).toMatch(/^(unmatched|\/[A-Za-z0-9_/.:*-]*)$/);
  });

  it('reports the database pool and the process', async () => {
    const all = samples((await request(open.app).get('/metrics')).text);
    const names = new Set(all.map((s) => s.name));
    for (const gauge of ['cairn_db_pool_used_connections', 'cairn_db_pool_free_connections', 'cairn_db_pool_pending_acquires']) {
      expect(names, gauge).toContain(gauge);
    }
    // A login and a course ran, so the pool holds at least one idle connection now.
    const free = all.find((s) => s.name === 'cairn_db_pool_free_connections')!.value;
    const used = all.find((s) => s.name === 'cairn_db_pool_used_connections')!.value;
    expect(free + used).toBeGreaterThan(0);
    for (const processMetric of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(names, processMetric).toContain(processMetric);
    }
  });

  it('counts probe requests under their own route label', async () => {
    await request(open.app).get('/healthz');
    const all = samples((await request(open.app).get('/metrics')).text);
    expect(all.some((s) => s.labels['route'] === '/healthz' && s.labels['status_code'] === '200')).toBe(true);
  });
});
