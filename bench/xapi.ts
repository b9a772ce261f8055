/**
 * npm run bench:xapi [-- --quick]
 *
 * The LRS under load, against real PostgreSQL (DATABASE_URL's server if set, else the
 * machine's PostgreSQL by its Unix socket or 127.0.0.1:5432, else an embedded one), with Cairn running as its own process:
 *  1. POST batches of 100 varied statements at concurrency 4 → statements/s, beside the raw
 *     multi-row INSERT rate of ~1 KB JSONB rows into a bare table, measured in the same run;
 *  2. single-statement POSTs at concurrency 16 → requests/s and p99;
 *  3. with the store filled (≥ 1,000,000 statements in full mode), GET /statements by agent,
 *     by verb+activity, by registration, by since/until and with related_activities → p50/p95.
 * The last line is the JSON summary. Quick mode ends within a minute on a small store.
 */
import http from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { benchDatabase, cairnCommand, freePort, machine, quick, startServer } from './support/harness.js';
import { buildStatementQuery, type StatementQuery } from '../src/xapi/statements/repository.js';
import { ifiKey } from '../src/xapi/validation/agent.js';

// DATABASE_URL names the server to use (a fresh database is created on it for the run).
if (!process.env['BENCH_DATABASE_URL'] && process.env['DATABASE_URL']) process.env['BENCH_DATABASE_URL'] = process.env['DATABASE_URL'];

const key = 'bench-key';
const secret = randomBytes(24).toString('base64url');
const auth = `Basic ${Buffer.from(`${key}:${secret}`).toString('base64')}`;
const phaseSeconds = quick ? 5 : 20;
const targetStored = quick ? 50_000 : 1_000_000;
const queryRounds = quick ? 50 : 300;

// ---------------------------------------------------------------- varied statements
const agents = 20_000;
const verbs = Array.from({ length: 40 }, (_, i) => `http://example.com/xapi/verbs/v${i}`);
const activities = 5_000;
const courses = 50;
const registrations = Array.from({ length: 10_000 }, () => randomUUID());
let sequence = 0;

function pick<T>(items: readonly T[], n: number): T {
  return items[n % items.length]!;
}

/** ~1 KB statements that differ in actor, verb, activity, registration, context and result. */
function makeStatement(): Record<string, unknown> {
  const n = sequence++;
  const a = (n * 7919) % agents;
  const act = (n * 104729) % activities;
  const course = act % courses;
  const statement: Record<string, unknown> = {
    actor: n % 3 === 0
      ? { objectType: 'Agent', name: `Learner ${a}`, account: { homePage: 'https://lms.example.com', name: `learner-${a}` } }
      : { objectType: 'Agent', name: `Learner ${a}`, mbox: `mailto:learner-${a}@example.com` },
    verb: { id: pick(verbs, n * 31), display: { 'en-US': `verb ${(n * 31) % verbs.length}` } },
    object: {
      objectType: 'Activity',
      id: `http://example.com/xapi/activities/a${act}`,
      definition: {
        name: { 'en-US': `Activity ${act}`, 'fr-FR': `Activité ${act}` },
        description: { 'en-US': `A varied activity number ${act} in course ${course} used to exercise the LRS` },
        type: 'http://adlnet.gov/expapi/activities/lesson',
      },
    },
    context: {
      registration: pick(registrations, n * 13),
      platform: 'Cairn bench',
      language: 'en-US',
      instructor: { objectType: 'Agent', name: `Instructor ${course}`, mbox: `mailto:instructor-${course}@example.com` },
      contextActivities: {
        parent: [{ objectType: 'Activity', id: `http://example.com/xapi/courses/c${course}/modules/m${act % 10}` }],
        grouping: [{ objectType: 'Activity', id: `http://example.com/xapi/courses/c${course}` }],
        category: [{ objectType: 'Activity', id: 'http://example.com/xapi/profiles/bench' }],
      },
      extensions: { 'http://example.com/xapi/extensions/session': `s-${n % 1000}` },
    },
    result: {
      score: { scaled: ((n % 100) / 100), raw: n % 100, min: 0, max: 100 },
      success: n % 2 === 0,
      completion: n % 5 !== 0,
      duration: `PT${n % 3600}S`,
      response: 'choice-a[,]choice-b',
    },
    timestamp: new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString(),
  };
  return statement;
}

// ---------------------------------------------------------------- HTTP with keep-alive
interface Target { host: string; port: number }

function request(target: Target, agent: http.Agent, method: string, pathname: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: target.host, port: target.port, method, path: pathname, agent,
      headers: {
        Authorization: auth,
        'X-Experience-API-Version': '1.0.3',
        ...(body !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } : {}),
      },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** Runs `work` on `concurrency` workers for `seconds`; returns per-call latencies (ms). */
async function run(concurrency: number, seconds: number, work: () => Promise<void>): Promise<{ latencies: number[]; elapsed: number }> {
  const latencies: number[] = [];
  const start = performance.now();
  const deadline = start + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      await work();
      latencies.push(performance.now() - t0);
    }
  }));
  return { latencies, elapsed: (performance.now() - start) / 1000 };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return Math.round((sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0) * 100) / 100;
}

// ---------------------------------------------------------------- raw PostgreSQL baseline
/** The raw baseline: multi-row INSERTs of the same ~1 KB bodies into a bare JSONB table. */
class RawInserter {
  private readonly pool: pg.Pool;
  private rows = 0;
  constructor(url: string, private readonly sample: string[]) {
    this.pool = new pg.Pool({ connectionString: url, max: 4 });
  }
  async setUp(): Promise<void> {
    await this.pool.query('create table bench_raw (id uuid primary key, body jsonb not null)');
  }
  /** Inserts for `seconds` at concurrency 4; returns rows and elapsed seconds. */
  async slice(seconds: number): Promise<{ rows: number; elapsed: number }> {
    let rows = 0;
    const { elapsed } = await run(4, seconds, async () => {
      const ids: string[] = [];
      const bodies: string[] = [];
      for (let i = 0; i < 100; i++) {
        ids.push(randomUUID());
        bodies.push(this.sample[(this.rows + i) % this.sample.length]!);
      }
      await this.pool.query('insert into bench_raw (id, body) select * from unnest($1::uuid[], $2::jsonb[])', [ids, bodies]);
      rows += 100;
      this.rows += 100;
    });
    return { rows, elapsed };
  }
  async tearDown(): Promise<void> {
    await this.pool.query('drop table bench_raw');
    await this.pool.end();
  }
}

/**
 * `--explain`: EXPLAIN (ANALYZE, BUFFERS) of the main statement queries on the filled store,
 * built by the same query builder the LRS uses (docs/xapi-query-plans.md comes from this).
 */
async function explainPlans(url: string, lo: Date, hi: Date): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows: [store] } = await client.query<{ store_id: string }>('select store_id from xapi_statements limit 1');
  const before = new Date(Date.now() + 86_400_000).toISOString();
  const middle = new Date((lo.getTime() + hi.getTime()) / 2);
  const base: StatementQuery = { storeId: store!.store_id, relatedAgents: false, relatedActivities: false, storedBefore: before, ascending: false, limit: 100 };
  const cases: Record<string, StatementQuery> = {
    'no filter (newest first)': base,
    agent: { ...base, agentKey: ifiKey({ mbox: 'mailto:learner-4242@example.com' })! },
    'agent, related_agents=true (an instructor)': { ...base, agentKey: ifiKey({ mbox: 'mailto:instructor-7@example.com' })!, relatedAgents: true },
    verb: { ...base, verbId: verbs[3]! },
    'verb + activity': { ...base, verbId: verbs[3]!, activityId: 'http://example.com/xapi/activities/a1234' },
    activity: { ...base, activityId: 'http://example.com/xapi/activities/a1234' },
    'activity, related_activities=true (a course)': { ...base, activityId: 'http://example.com/xapi/courses/c7', relatedActivities: true },
    registration: { ...base, registration: registrations[42]! },
    'since/until (2 s window)': { ...base, storedFrom: middle.toISOString(), storedBefore: new Date(middle.getTime() + 2000).toISOString() },
    'agent + verb, ascending': { ...base, agentKey: ifiKey({ mbox: 'mailto:learner-4242@example.com' })!, verbId: verbs[3]!, ascending: true },
  };
  for (const [name, query] of Object.entries(cases)) {
    const { sql, bindings } = buildStatementQuery(query);
    let n = 0;
    const text = sql.replace(/\?/g, () => `$${++n}`);
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(`explain (analyze, buffers) ${text}`, bindings);
    console.log(`\n### ${name}\n\n\`\`\`\n${rows.map((r) => r['QUERY PLAN']).join('\n')}\n\`\`\``);
  }
  await client.end();
}

async function main(): Promise<void> {
  const db = await benchDatabase();
  const port = await freePort();
  console.log(`xAPI benchmark (${quick ? 'quick' : 'full'}) on ${machine()}; ${db.label}`);
  const cairn = cairnCommand();
  const server = await startServer(cairn.command, cairn.args, {
    DATABASE_URL: db.url,
    CAIRN_PORT: String(port),
    CAIRN_CONTENT_PORT: String(await freePort()),
    CAIRN_SECRET_KEY: randomBytes(32).toString('base64url'),
    CAIRN_LRS_KEY: key,
    CAIRN_LRS_SECRET: secret,
    CAIRN_LOG_LEVEL: 'warn',
    CAIRN_DB_POOL_MAX: '24',
    CAIRN_XAPI_BODY_LIMIT: '50mb',
    CAIRN_DATA_DIR: path.resolve('.bench-data', `cairn-${port}`),
  }, port, '/xapi/about');
  const target: Target = { host: '127.0.0.1', port };
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 32 });
  try {
    const sample = Array.from({ length: 1000 }, () => JSON.stringify({ ...makeStatement(), id: randomUUID(), stored: new Date().toISOString() }));
    const averageBytes = Math.round(sample.reduce((n, s) => n + Buffer.byteLength(s), 0) / sample.length);

    // 1. Batches of 100 at concurrency 4 and the raw baseline, in alternating slices so both
    //    see the same background load (the machine may be shared).
    const rawInserter = new RawInserter(db.url, sample);
    await rawInserter.setUp();
    let batched = 0;
    let failures = 0;
    let rawRows = 0;
    let rawSeconds = 0;
    let batchSeconds = 0;
    const batchLatencies: number[] = [];
    const slices = 4;
    for (let i = 0; i < slices; i++) {
      const rawSlice = await rawInserter.slice(phaseSeconds / slices);
      rawRows += rawSlice.rows;
      rawSeconds += rawSlice.elapsed;
      const slice = await run(4, phaseSeconds / slices, async () => {
        const body = JSON.stringify(Array.from({ length: 100 }, makeStatement));
        const res = await request(target, keepAlive, 'POST', '/xapi/statements', body);
        if (res.status === 200) batched += 100;
        else if (failures++ < 3) console.error(`batch POST → ${res.status} ${res.body.slice(0, 300)}`);
      });
      batchSeconds += slice.elapsed;
      batchLatencies.push(...slice.latencies);
    }
    await rawInserter.tearDown();
    const raw = rawRows / rawSeconds;
    console.log(`raw PostgreSQL: ${Math.round(raw)} rows/s (multi-row INSERT of 100 × ~${averageBytes} B JSONB, concurrency 4)`);
    const batchRate = batched / batchSeconds;
    console.log(`batch POST: ${Math.round(batchRate)} statements/s (100 per request, concurrency 4, ${batchLatencies.length} requests, p99 ${percentile(batchLatencies, 99)} ms; alternating with the raw baseline in ${slices} slices)`);

    // 2. Single statements at concurrency 16.
    let singles = 0;
    const single = await run(16, phaseSeconds, async () => {
      const res = await request(target, keepAlive, 'POST', '/xapi/statements', JSON.stringify(makeStatement()));
      if (res.status === 200) singles++;
      else if (failures++ < 3) console.error(`single POST → ${res.status} ${res.body.slice(0, 300)}`);
    });
    const singleRate = singles / single.elapsed;
    console.log(`single POST: ${Math.round(singleRate)} requests/s, p50 ${percentile(single.latencies, 50)} ms, p99 ${percentile(single.latencies, 99)} ms (concurrency 16)`);

    // 3. Fill the store through the same write path (batches of 1,000), then query.
    const count = async () => {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      const { rows } = await client.query<{ n: string }>('select count(*) as n from xapi_statements');
      await client.end();
      return Number(rows[0]!.n);
    };
    let stored = await count();
    const fillStart = performance.now();
    // Quick mode must end within a minute even on a busy machine: its fill is time-boxed.
    const fillDeadline = fillStart + (quick ? 15_000 : Number.POSITIVE_INFINITY);
    while (stored < targetStored && performance.now() < fillDeadline) {
      const remaining = targetStored - stored;
      await Promise.all(Array.from({ length: 4 }, async () => {
        const size = Math.min(1000, Math.ceil(remaining / 4));
        if (size <= 0) return;
        const res = await request(target, keepAlive, 'POST', '/xapi/statements', JSON.stringify(Array.from({ length: size }, makeStatement)));
        if (res.status !== 200) throw new Error(`fill POST → ${res.status} ${res.body.slice(0, 300)}`);
        stored += size;
      }));
      if (stored % 100_000 < 4000) console.log(`  filled ${stored} statements (${Math.round(stored / ((performance.now() - fillStart) / 1000))}/s)`);
    }
    stored = await count();
    const analyze = new pg.Client({ connectionString: db.url });
    await analyze.connect();
    await analyze.query('analyze');
    const { rows: window } = await analyze.query<{ lo: Date; hi: Date }>('select min(stored) as lo, max(stored) as hi from xapi_statements');
    await analyze.end();
    console.log(`store holds ${stored} statements`);

    if (process.argv.includes('--explain')) await explainPlans(db.url, window[0]!.lo, window[0]!.hi);
    const lo = window[0]!.lo.getTime();
    const hi = window[0]!.hi.getTime();
    const enc = (v: unknown) => encodeURIComponent(typeof v === 'string' ? v : JSON.stringify(v));
    let q = 0;
    const queries: Record<string, () => string> = {
      agent: () => `agent=${enc({ mbox: `mailto:learner-${(q * 37) % agents}@example.com` })}`,
      verb_activity: () => `verb=${enc(pick(verbs, q * 31))}&activity=${enc(`http://example.com/xapi/activities/a${(q * 211) % activities}`)}`,
      registration: () => `registration=${pick(registrations, q * 17)}`,
      since_until: () => {
        const from = lo + ((q * 7919) % Math.max(1, hi - lo));
        return `since=${enc(new Date(from).toISOString())}&until=${enc(new Date(from + 2000).toISOString())}`;
      },
      related_activities: () => `activity=${enc(`http://example.com/xapi/courses/c${q % courses}`)}&related_activities=true`,
    };
    const p95: Record<string, number> = {};
    for (const [name, build] of Object.entries(queries)) {
      const latencies: number[] = [];
      let returned = 0;
      for (let i = 0; i < queryRounds; i++, q++) {
        const t0 = performance.now();
        const res = await request(target, keepAlive, 'GET', `/xapi/statements?limit=100&${build()}`);
        latencies.push(performance.now() - t0);
        if (res.status !== 200) throw new Error(`GET ${name} → ${res.status} ${res.body.slice(0, 300)}`);
        returned += (JSON.parse(res.body) as { statements: unknown[] }).statements.length;
      }
      p95[name] = percentile(latencies, 95);
      console.log(`GET by ${name}: p50 ${percentile(latencies, 50)} ms, p95 ${p95[name]} ms (${queryRounds} queries, limit 100, ${Math.round(returned / queryRounds)} statements per page)`);
    }

    console.log(JSON.stringify({
      batch_statements_per_s: Math.round(batchRate),
      raw_insert_rows_per_s: Math.round(raw),
      ratio: Math.round((batchRate / raw) * 1000) / 1000,
      single_post_per_s: Math.round(singleRate),
      single_post_p99_ms: percentile(single.latencies, 99),
      query_p95_ms: p95,
      statements_stored: stored,
    }));
  } finally {
    keepAlive.destroy();
    await server.stop();
    await db.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
