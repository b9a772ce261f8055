import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import type { Clock } from '../deps.js';

export interface RateLimitOutcome {
  readonly allowed: boolean;
  readonly remaining: number;
  readonly resetInSeconds: number;
}

interface WindowEntry {
  readonly key: string;
  readonly windowStart: Date;
  readonly windowEnd: number;
  /** Last total read from PostgreSQL (all nodes' hits). */
  synced: number;
  /** Hits this node has allowed but not yet written. */
  pending: number;
}

/**
 * Fixed-window request counters kept in PostgreSQL (an UNLOGGED table) so every node shares
 * them. Writing one row per request would put a database round trip on every API call, so a
 * node batches hits it allowed far from the limit and flushes them every `flushIntervalMs`;
 * the first hit of a window and every hit within `margin` of the limit go to the database
 * synchronously, which makes the limit exact for one node and tight across several.
 * (Kept out of a repository file on purpose: this class is the counter's only user.)
 */
export class RateLimiter {
  private readonly entries = new Map<string, WindowEntry>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly flushIntervalMs = 250,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.flushIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  async hit(key: string, limit: number, windowSeconds: number): Promise<RateLimitOutcome> {
    const now = this.clock.now().getTime();
    const windowMs = windowSeconds * 1000;
    const windowStartMs = Math.floor(now / windowMs) * windowMs;
    const windowEnd = windowStartMs + windowMs;
    const resetInSeconds = Math.max(1, Math.ceil((windowEnd - now) / 1000));
    const entryKey = `${key}@${windowStartMs}`;
    let entry = this.entries.get(entryKey);

    // Counts only grow within a window: once over, stay over without asking the database.
    if (entry && entry.synced > limit) return { allowed: false, remaining: 0, resetInSeconds };

    const margin = Math.max(2, Math.ceil(limit * 0.1));
    if (entry && entry.synced + entry.pending + 1 <= limit - margin) {
      entry.pending += 1;
      return { allowed: true, remaining: limit - entry.synced - entry.pending, resetInSeconds };
    }

    if (!entry) {
      entry = { key, windowStart: new Date(windowStartMs), windowEnd, synced: 0, pending: 0 };
      this.entries.set(entryKey, entry);
    }
    const add = entry.pending + 1;
    entry.pending = 0;
    let count: number;
    try {
      count = await this.increment(key, entry.windowStart, add);
    } catch (error) {
      entry.pending += add - 1;
      throw error;
    }
    entry.synced = Math.max(entry.synced, count);
    const allowed = count <= limit;
    return { allowed, remaining: Math.max(0, limit - count), resetInSeconds };
  }

  /** Writes batched hits; safe to call concurrently (calls share one flush). */
  async flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushing = this.doFlush().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async doFlush(): Promise<void> {
    const now = this.clock.now().getTime();
    const batch = [...this.entries.values()].filter((e) => e.pending > 0);
    if (batch.length > 0) {
      const adds = batch.map((e) => e.pending);
      for (const e of batch) e.pending = 0;
      try {
        const result = await this.db.raw<{ rows: Array<{ key: string; window_start: Date; count: number }> }>(
          `insert into rate_limit_counters (key, window_start, count)
           select * from unnest(?::text[], ?::timestamptz[], ?::int[])
           on conflict (key, window_start) do update set count = rate_limit_counters.count + excluded.count
           returning key, window_start, count`,
          [batch.map((e) => e.key), batch.map((e) => e.windowStart), adds],
        );
        for (const row of result.rows) {
          const entry = this.entries.get(`${row.key}@${row.window_start.getTime()}`);
          if (entry) entry.synced = Math.max(entry.synced, row.count);
        }
      } catch (error) {
        batch.forEach((e, i) => { e.pending += adds[i] ?? 0; });
        this.log.warn({ err: error }, 'rate-limit counters could not be flushed; will retry');
      }
    }
    for (const [k, e] of this.entries) {
      if (e.windowEnd < now && e.pending === 0) this.entries.delete(k);
    }
  }

  private async increment(key: string, windowStart: Date, add: number): Promise<number> {
    const result = await this.db.raw<{ rows: Array<{ count: number }> }>(
      `insert into rate_limit_counters (key, window_start, count) values (?, ?, ?)
       on conflict (key, window_start) do update set count = rate_limit_counters.count + excluded.count
       returning count`,
      [key, windowStart, add],
    );
    return result.rows[0]?.count ?? add;
  }
}

/** Removes counters of windows that ended more than an hour ago; run by a periodic job. */
export async function purgeRateLimitCounters(db: Db, now: Date): Promise<number> {
  return db('rate_limit_counters').where('window_start', '<', new Date(now.getTime() - 3600_000)).delete();
}
