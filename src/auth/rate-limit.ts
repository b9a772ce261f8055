import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import type { Clock } from '../deps.js';

export interface RateLimitOutcome {
  readonly allowed: boolean;
  readonly remaining: number;
  readonly resetInSeconds: number;
}

interface WindowEntry {
  readonly windowStart: Date;
  readonly windowEnd: number;
  /** Hits this node reserved in PostgreSQL and has not handed out yet. */
  leased: number;
  /** Total reserved by all nodes, as last read from PostgreSQL. */
  reserved: number;
  /** The window's quota is used up (counts only grow): answer 429 without asking again. */
  exhausted: boolean;
}

/**
 * Fixed-window request counters kept in PostgreSQL (an UNLOGGED table) so every node shares
 * them. A node never allows a hit it has not reserved in the database: it reserves a *lease*
 * of several hits in one upsert and hands them out locally. Leases shrink as the window fills
 * (an eighth of what is left, at least one), so the total allowed across all nodes can never
 * pass the limit, and a busy user costs a database round trip every few requests rather than
 * on every one. A lease a node does not use before the window ends is lost, which can only
 * make the limit stricter, never looser. See docs/decisions/0004-rate-limit-counters.md.
 * (Kept out of a repository file on purpose: this class is the counter's only user.)
 */
export class RateLimiter {
  private readonly entries = new Map<string, WindowEntry>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly sweepIntervalMs = 60_000,
  ) {}

  /** Starts the periodic sweep of finished windows from memory. */
  start(): void {
    this.timer ??= setInterval(() => this.sweep(), this.sweepIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.entries.clear();
  }

  async hit(key: string, limit: number, windowSeconds: number): Promise<RateLimitOutcome> {
    const now = this.clock.now().getTime();
    const windowMs = windowSeconds * 1000;
    const windowStartMs = Math.floor(now / windowMs) * windowMs;
    const windowEnd = windowStartMs + windowMs;
    const resetInSeconds = Math.max(1, Math.ceil((windowEnd - now) / 1000));
    const entryKey = `${key}@${windowStartMs}`;
    let entry = this.entries.get(entryKey);
    if (!entry) {
      entry = { windowStart: new Date(windowStartMs), windowEnd, leased: 0, reserved: 0, exhausted: false };
      this.entries.set(entryKey, entry);
    }

    if (entry.leased === 0 && !entry.exhausted) {
      const want = Math.max(1, Math.floor((limit - entry.reserved) / 8));
      const reservedAfter = await this.reserve(key, entry.windowStart, want, limit);
      if (reservedAfter === undefined) {
        entry.exhausted = true;
      } else {
        // Another node may have taken part of what we asked for: keep only what fits.
        const granted = Math.min(want, Math.max(0, limit - (reservedAfter - want)));
        entry.leased += granted;
        entry.reserved = Math.max(entry.reserved, reservedAfter);
        if (reservedAfter >= limit) entry.exhausted = true;
      }
    }

    if (entry.leased > 0) {
      entry.leased -= 1;
      // What is left for the user anywhere: the unreserved quota plus this node's unused lease.
      return { allowed: true, remaining: Math.max(0, limit - entry.reserved) + entry.leased, resetInSeconds };
    }
    return { allowed: false, remaining: 0, resetInSeconds };
  }

  /**
   * Adds `want` to the window's reserved count unless it already reached the limit; returns
   * the new total, or undefined when the quota was used up before this call.
   */
  private async reserve(key: string, windowStart: Date, want: number, limit: number): Promise<number | undefined> {
    const result = await this.db.raw<{ rows: Array<{ count: number }> }>(
      `insert into rate_limit_counters (key, window_start, count) values (?, ?, ?)
       on conflict (key, window_start) do update set count = rate_limit_counters.count + excluded.count
       where rate_limit_counters.count < ?
       returning count`,
      [key, windowStart, want, limit],
    );
    return result.rows[0]?.count;
  }

  private sweep(): void {
    const now = this.clock.now().getTime();
    for (const [k, e] of this.entries) {
      if (e.windowEnd < now) this.entries.delete(k);
    }
    if (this.entries.size > 100_000) this.log.warn({ entries: this.entries.size }, 'rate limiter holds many live windows');
  }
}

/** Removes counters of windows that ended more than an hour ago; run by a periodic job. */
export async function purgeRateLimitCounters(db: Db, now: Date): Promise<number> {
  return db('rate_limit_counters').where('window_start', '<', new Date(now.getTime() - 3600_000)).delete();
}
