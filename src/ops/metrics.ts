import { Registry, Histogram, Gauge, collectDefaultMetrics } from 'prom-client';
import type { Db } from '../db/index.js';

export interface Metrics {
  readonly registry: Registry;
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;
}

interface TarnPool {
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
  numPendingCreates(): number;
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('timed out')), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

/** One registry per app instance (tests build many apps; the global registry would clash). */
export function createMetrics(db: Db): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: 'cairn_http_request_duration_seconds',
    help: 'HTTP request latency by method, matched route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const pool = () => (db.client as { pool?: TarnPool }).pool;
  const poolGauge = (name: string, help: string, read: (p: TarnPool) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const p = pool();
        this.set(p ? read(p) : 0);
      },
    });
  poolGauge('cairn_db_pool_used_connections', 'Database connections checked out of the pool', (p) => p.numUsed());
  poolGauge('cairn_db_pool_free_connections', 'Idle database connections in the pool', (p) => p.numFree());
  poolGauge('cairn_db_pool_pending_acquires', 'Requests waiting for a database connection', (p) => p.numPendingAcquires());
  new Gauge({
    name: 'cairn_jobs',
    help: 'Background jobs in pg-boss (not yet archived) by queue and state: created, retry, active, completed, cancelled, failed',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      // Read at scrape time; with the database unreachable the scrape must still answer
      // (that is when the other metrics matter most), so this gauge is then left out.
      this.reset();
      try {
        const result = await withTimeout(db.raw<{ rows: Array<{ name: string; state: string; count: number }> }>(
          'select name, state::text as state, count(*)::int as count from pgboss.job group by name, state',
        ), 1_000);
        for (const row of result.rows) this.set({ queue: row.name, state: row.state }, row.count);
      } catch {
        // no pg-boss schema yet, or the database is down
      }
    },
  });
  return { registry, httpDuration };
}
