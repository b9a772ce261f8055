import { pgCode, type Queryable } from '../../db/index.js';
import { applyCommits, type CommitOutcome, type CommitWrite } from './repository.js';

interface Pending {
  readonly write: CommitWrite;
  /** The SCO row. */
  readonly key: string;
  resolve(outcome: CommitOutcome): void;
  reject(error: unknown): void;
}

/**
 * Group commit for SCORM commits (docs/decisions/0039). Tens of thousands of learners commit
 * every 30 s; one statement and one transaction per commit spends the database on round trips
 * and transaction overhead. Commits arriving while earlier batches are being written wait and go
 * together in the next statement: with no load a commit is written at once (no timer, no added
 * latency), under load batches grow by themselves. Each caller still gets its own outcome, and
 * only after its batch is in the database.
 */
export class CommitBatcher {
  private queue: Pending[] = [];
  private running = 0;

  constructor(private readonly db: Queryable, private readonly maxInFlight = 4, private readonly maxBatch = 200) {}

  write(write: CommitWrite): Promise<CommitOutcome> {
    return new Promise<CommitOutcome>((resolve, reject) => {
      this.queue.push({ write, key: `${write.attemptId}\u0000${write.item}`, resolve, reject });
      this.pump();
    });
  }

  /** Attempts with a batch being written: batches in flight never share an attempt row (no lock cycles). */
  private readonly busy = new Set<string>();

  private pump(): void {
    while (this.running < this.maxInFlight && this.queue.length > 0) {
      // One commit per SCO row per batch: a second one of the same row waits for the next
      // batch, so commits of one SCO are applied in the order they arrived.
      const batch: Pending[] = [];
      const keys = new Set<string>();
      const attempts = new Set<string>();
      const rest: Pending[] = [];
      for (const p of this.queue) {
        const attempt = p.write.attemptId;
        if (batch.length < this.maxBatch && !keys.has(p.key) && !this.busy.has(attempt)) {
          keys.add(p.key);
          attempts.add(attempt);
          batch.push(p);
        } else rest.push(p);
      }
      if (batch.length === 0) return;
      this.queue = rest;
      this.running++;
      for (const a of attempts) this.busy.add(a);
      this.run(batch.map((p) => p.write)).then(
        (outcomes) => batch.forEach((p, i) => p.resolve(outcomes[i]!)),
        (error: unknown) => batch.forEach((p) => p.reject(error)),
      ).finally(() => {
        for (const a of attempts) this.busy.delete(a);
        this.running--;
        this.pump();
      });
    }
  }

  /** Another node's batch (or a rollup) can still meet these rows in another order: retry once. */
  private async run(writes: CommitWrite[]): Promise<CommitOutcome[]> {
    try {
      return await applyCommits(this.db, writes);
    } catch (error) {
      const code = pgCode(error);
      if (code !== '40P01' && code !== '40001') throw error;
      return applyCommits(this.db, writes);
    }
  }
}
