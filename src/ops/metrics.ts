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
  return { registry, httpDuration };
}
