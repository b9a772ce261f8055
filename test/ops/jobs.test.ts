import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from '../support/app.js';
import { appOnDatabase, LogCapture } from './support.js';

/**
 * pg-boss as main.ts wires it: queues created, workers running, cron schedules registered,
 * jobs sent through deps.jobs and processed by the real handlers against the real database.
 */
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let t: Awaited<ReturnType<typeof appOnDatabase>>;
const logs = new LogCapture('info');
const day = 86_400_000;

beforeAll(async () => {
  database = await createTestDatabase();
  t = await appOnDatabase(database.url, {}, logs.logger, { jobs: true, firstAdmin: true });
});
afterAll(async () => {
  await t?.close();
  await database?.drop();
});

async function waitForJob(name: string, id: string, timeoutMs = 20_000) {
  const jobs = t.runtime.deps.jobs!;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await jobs.get(name, id);
    if (job && ['completed', 'failed', 'cancelled'].includes(job.state)) return job;
    if (Date.now() > deadline) throw new Error(`job ${name} ${id} still ${job?.state ?? 'missing'} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function connectionsTo(databaseUrl: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: inject('pgServerUrl') });
  await client.connect();
  try {
    const { rows } = await client.query<{ application_name: string }>('select application_name from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [new URL(databaseUrl).pathname.slice(1)]);
    return rows.map((r) => r.application_name);
  } finally {
    await client.end();
  }
}

describe('background jobs on pg-boss', () => {
  it('registers the cron schedules in pgboss.schedule, in UTC', async () => {
    const { db } = t.runtime.deps;
    const rows = await db('pgboss.schedule').select('name', 'cron', 'timezone').orderBy('name');
    expect(rows).toEqual(expect.arrayContaining([
      { name: 'audit-retention', cron: '17 3 * * *', timezone: 'UTC' },
      { name: 'housekeeping', cron: '*/15 * * * *', timezone: 'UTC' },
    ]));
    const queues = await db('pgboss.queue').pluck('name');
    expect(queues).toEqual(expect.arrayContaining(['audit-retention', 'housekeeping']));
  });

  it('audit-retention deletes entries older than the retention period and records the purge', async () => {
    const { db, clock, jobs } = t.runtime.deps;
    const now = clock.now().getTime();
    const row = (daysAgo: number, action: string) => ({ actor_type: 'system', actor_label: 'test', action, details: '{}', created_at: new Date(now - daysAgo * day) });
    await db('audit_log').insert([
      row(400, 'test.old'), row(366, 'test.old'), row(3650, 'test.old'),
      row(364, 'test.recent'), row(10, 'test.recent'),
    ]);
    const before = await db('audit_log').count<Array<{ count: string }>>('* as count');

    const id = await jobs!.send('audit-retention', {});
    const job = await waitForJob('audit-retention', id);
    expect(job.state).toBe('completed');
    expect(job.output).toEqual({ deleted: 3 });

    expect(await db('audit_log').where({ action: 'test.old' }).count<Array<{ count: string }>>('* as count')).toEqual([{ count: '0' }]);
    expect(await db('audit_log').where({ action: 'test.recent' }).count<Array<{ count: string }>>('* as count')).toEqual([{ count: '2' }]);
    // The first admin's creation (today) survives too.
    expect(await db('audit_log').where({ action: 'user.create' }).count<Array<{ count: string }>>('* as count')).toEqual([{ count: '1' }]);
    const purge = await db('audit_log').where({ action: 'audit.purge' }).first();
    expect(purge).toMatchObject({ actor_type: 'system', details: { deleted: 3, retention_days: 365 } });
    expect(new Date(purge.details.before).getTime()).toBeCloseTo(now - 365 * day, -4);
    const after = await db('audit_log').count<Array<{ count: string }>>('* as count');
    expect(Number(after[0]!.count)).toBe(Number(before[0]!.count) - 3 + 1);
    expect(logs.lines.some((l) => l['job'] === 'audit-retention' && l['msg'] === 'job completed' && l['jobId'] === id)).toBe(true);
  });

  it('audit-retention purges in batches and tells each tenant its own count', async () => {
    const { db, clock } = t.runtime.deps;
    const { purgeAuditBefore } = await import('../../src/audit/repository.js');
    const now = clock.now().getTime();
    const tenant = await db('tenants').first('id');
    const rows = Array.from({ length: 25 }, (_, i) => ({
      tenant_id: i < 15 ? tenant.id : null, actor_type: 'system', actor_label: 'test', action: 'test.batch', details: '{}', created_at: new Date(now - 1000 * day),
    }));
    await db('audit_log').insert(rows);
    const perTenant = await purgeAuditBefore(db, new Date(now - 999 * day), 4);
    expect(perTenant.get(tenant.id)).toBe(15);
    expect(perTenant.get('')).toBe(10);
    expect(await db('audit_log').where({ action: 'test.batch' }).count<Array<{ count: string }>>('* as count')).toEqual([{ count: '0' }]);
  });

  it('audit-retention with nothing to purge records no purge entry', async () => {
    const { db, jobs } = t.runtime.deps;
    const purges = async () => Number((await db('audit_log').where({ action: 'audit.purge' }).count<Array<{ count: string }>>('* as count'))[0]!.count);
    const already = await purges();
    const job = await waitForJob('audit-retention', await jobs!.send('audit-retention', {}));
    expect(job.output).toEqual({ deleted: 0 });
    expect(await purges()).toBe(already);
  });

  it('housekeeping drops expired sessions and old rate-limit windows, keeping live ones', async () => {
    const { db, clock, jobs } = t.runtime.deps;
    const now = clock.now().getTime();
    const user = await db('users').first('id', 'tenant_id');
    const session = (expiresIn: number) => ({
      id: createHash('sha256').update(randomBytes(16)).digest('hex'), user_id: user.id, tenant_id: user.tenant_id,
      mfa_state: 'not_enrolled', expires_at: new Date(now + expiresIn),
    });
    const expired = session(-60_000), live = session(3_600_000);
    await db('sessions').insert([expired, live]);
    await db('rate_limit_counters').insert([
      { key: 'test:old', window_start: new Date(now - 2 * 3_600_000), count: 3 },
      { key: 'test:current', window_start: new Date(now - 30_000), count: 1 },
    ]);

    const job = await waitForJob('housekeeping', await jobs!.send('housekeeping', {}));
    expect(job.state).toBe('completed');
    expect(job.output).toMatchObject({ sessions: 1, counters: 1 });
    expect(await db('sessions').whereIn('id', [expired.id, live.id]).pluck('id')).toEqual([live.id]);
    expect(await db('rate_limit_counters').where('key', 'like', 'test:%').pluck('key')).toEqual(['test:current']);
  });

  it('reports jobs by queue and state in /metrics', async () => {
    const res = await request(t.app).get('/metrics');
    expect(res.status).toBe(200);
    const completed = /^cairn_jobs\{queue="audit-retention",state="completed"\} (\d+)$/m.exec(res.text);
    expect(Number(completed?.[1])).toBeGreaterThanOrEqual(2);
    expect(res.text).toMatch(/^cairn_jobs\{queue="housekeeping",state="completed"\} [1-9]/m);
  });

  it('stops cleanly with the runtime: no pg-boss connection left, no queue error logged', async () => {
    expect(await connectionsTo(database.url)).toContain('cairn-jobs');
    const started = Date.now();
    await t.runtime.stop();
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await connectionsTo(database.url)).toEqual([]);
    expect(logs.lines.filter((l) => l['msg'] === 'job queue error' || l['msg'] === 'job queue did not stop cleanly')).toEqual([]);
  });
});
