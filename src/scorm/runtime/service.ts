import { randomUUID } from 'node:crypto';
import type { AppDeps } from '../../deps.js';
import { withTransaction, type Queryable } from '../../db/index.js';
import { AppError } from '../../errors/index.js';
import { findUser } from '../../users/repository.js';
import { findEnrollmentOf } from '../../courses/repository.js';
import { recordScore } from '../../grades/service.js';
import * as grades from '../../grades/repository.js';
import type { Item, PackageModel } from '../packages/model.js';
import type { RuntimeClaims, RuntimeTokens } from '../launch/tokens.js';
import { ScormStatementWriter } from '../xapi-bridge/index.js';
import { commitStatements, interactionKey, sessionStatement, type BridgeContext } from '../xapi-bridge/statements.js';
import {
  cmiShapeProblem, formatDuration, formatTimespan, readInteractions, readResult, scorm12SuspendDataLimit,
  type Completion, type Family, type Json, type ScoResult, type Success,
} from './cmi.js';
import { PackageCache, type LoadedPackage } from './packages.js';
import { CommitBatcher } from './commits.js';
import * as repo from './repository.js';
import { effectiveSequencing, findItem, globalObjectiveIds, launchableItems, organizationOf, toSequencingSettings } from './sequencing.js';

export type RuntimeDeps = Pick<AppDeps, 'db' | 'log' | 'clock' | 'config' | 'blobs'>;

/** The largest commit body accepted: 64,000-character suspend data plus hundreds of interactions. */
export const maxCommitBytes = 2 * 1024 * 1024;

/** SCORM's own answer to a commit, which scorm-again reads (`result`, `errorCode`). */
export interface CommitAnswer {
  readonly result: 'true' | 'false';
  readonly errorCode: number;
  readonly errorMessage?: string;
  readonly warnings?: readonly string[];
}

/** The runtime side of the content origin: sessions, commits, sequencing state, results. */
export class ScormRuntime {
  readonly packages = new PackageCache();
  readonly writer: ScormStatementWriter;
  private readonly batcher: CommitBatcher;

  constructor(private readonly deps: RuntimeDeps, readonly tokens: RuntimeTokens) {
    this.writer = new ScormStatementWriter(deps);
    this.batcher = new CommitBatcher(deps.db);
  }

  /** Opens the player: checks the launch token's attempt is still open, mints the session token. */
  async openPlayer(launchToken: string): Promise<{ claims: RuntimeClaims; sessionToken: string; pkg: LoadedPackage }> {
    const claims = await this.tokens.verify(launchToken, 'launch', this.deps.clock.now());
    const attempt = await repo.findAttempt(this.deps.db, claims.attemptId);
    if (!attempt || attempt.status === 'ended') throw new AppError('forbidden', 'This attempt has ended; launch the item again from the course.');
    const pkg = await this.packages.get(this.deps.db, claims.packageId);
    if (!pkg) throw new AppError('not_found', 'The package of this launch is no longer available.');
    const { token } = await this.tokens.sign({ ...claims, use: 'session' }, this.deps.clock.now());
    return { claims, sessionToken: token, pkg };
  }

  async session(token: string): Promise<RuntimeClaims> {
    return this.tokens.verify(token, 'session', this.deps.clock.now());
  }

  /** Everything the player needs before it delivers the first SCO. */
  async state(claims: RuntimeClaims): Promise<Record<string, unknown>> {
    const db = this.deps.db;
    const pkg = await this.mustPackage(claims);
    const attempt = await repo.findAttempt(db, claims.attemptId);
    if (!attempt || attempt.status === 'ended') throw new AppError('forbidden', 'This attempt has ended; launch the item again from the course.');
    const org = organizationOf(pkg.model);
    const rows = await repo.listRuntime(db, attempt.id);
    const sequenced = usesSequencing(pkg);
    const seq = sequenced ? await repo.findSequencing(db, claims.registrationId) : undefined;
    const user = await findUser(db, claims.tenantId, claims.userId);
    const items = launchableItems(org);
    // Where to start without a sequencer: the first SCO not yet completed (resume the
    // suspended one first), else the first.
    const suspended = rows.find((r) => r.exit === 'suspend');
    const firstOpen = items.find((i) => !rows.some((r) => r.item_identifier === i.identifier && r.completion_status === 'completed'));
    return {
      scorm_version: pkg.model.version,
      family: pkg.family,
      title: pkg.title,
      mode: claims.mode,
      credit: claims.mode === 'normal' ? 'credit' : 'no-credit',
      learner: { id: claims.userId, name: user?.name || user?.email || claims.userId },
      attempt: { id: attempt.id, number: attempt.number, status: attempt.status },
      organization: { identifier: org.identifier, title: org.title, items: org.items.map(tocItem) },
      start_item: suspended?.item_identifier ?? firstOpen?.identifier ?? items[0]?.identifier ?? null,
      scos: rows.map((r) => ({ identifier: r.item_identifier, completion_status: r.completion_status, success_status: r.success_status, score_scaled: r.score_scaled, exit: r.exit })),
      sequencing: sequenced ? {
        settings: toSequencingSettings(pkg.model, org),
        global_objective_ids: globalObjectiveIds(pkg.model, org),
        state: seq?.attempt_id === attempt.id ? seq.state : null,
        global_objectives: seq?.global_objectives ?? {},
        shared_data: seq?.shared_data ?? {},
      } : null,
    };
  }

  /**
   * A SCO is about to run: opens its session and returns the CMI to load before the SCO starts
   * (entry, credit, mode, learner, manifest values, and what the last session left).
   */
  async startSession(claims: RuntimeClaims, itemId: string): Promise<{ session_id: string; entry: string; cmi: Json; commit_url_path: string }> {
    const db = this.deps.db;
    const pkg = await this.mustPackage(claims);
    const item = findItem(organizationOf(pkg.model), itemId);
    if (!item || !item.launchUrl) throw new AppError('not_found', `No launchable item ${itemId} in this package.`);
    const before = await repo.findRuntime(db, claims.attemptId, itemId);
    const family = pkg.family;
    const resume = before?.exit === 'suspend';
    // 2004: a session that ended without suspending ended the SCO's learner attempt; the next one
    // starts afresh (RTE 4.2.8). 1.2 has no such rule: the data stays, entry is "".
    const fresh = family === '2004' && before !== undefined && !resume;
    const sessionId = randomUUID();
    const row = await repo.openSession(db, { attemptId: claims.attemptId, tenantId: claims.tenantId, item: itemId, sessionId, freshCmi: fresh }, this.deps.clock.now());
    if (!row) throw new AppError('forbidden', 'This attempt has ended; launch the item again from the course.');
    const entry = before === undefined || fresh ? 'ab-initio' : resume ? 'resume' : '';
    const user = await findUser(db, claims.tenantId, claims.userId);
    const cmi = initialCmi(family, item, fresh ? {} : before?.cmi ?? {}, {
      learnerId: claims.userId, learnerName: user?.name || user?.email || claims.userId, entry, mode: claims.mode,
      // 2004 RTE: cmi.total_time sums the sessions of the current learner attempt, so a SCO that
      // starts afresh sees zero (the attempt's own accounting keeps every session's time).
      totalSeconds: fresh ? 0 : row.total_seconds_before_session,
    }, pkg.model);
    if (claims.mode === 'normal') {
      const context = await this.bridgeContext(claims, pkg, item);
      if (context) this.emit(claims.tenantId, [sessionStatement(context, resume ? 'resumed' : 'initialized', sessionId, this.deps.clock.now())]);
    }
    return { session_id: sessionId, entry, cmi, commit_url_path: `scos/${encodeURIComponent(itemId)}/sessions/${sessionId}/commit` };
  }

  /**
   * Stores one commit. Malformed bodies are 400 and leave the stored CMI as it was. A commit of a
   * superseded session (an old tab, a beacon overtaken by a relaunch) is recorded but not applied.
   */
  async commit(claims: RuntimeClaims, itemId: string, sessionId: string, raw: string, via: 'xhr' | 'beacon'): Promise<CommitAnswer> {
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      throw new AppError('bad_request', 'The commit is not valid JSON.');
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new AppError('bad_request', 'The commit must be a JSON object with a `cmi` object.');
    const b = body as Json;
    const problem = cmiShapeProblem(b['cmi']);
    if (problem) throw new AppError('bad_request', `Malformed commit: ${problem}.`);
    const sequence = b['commitSequence'] ?? null;
    if (sequence !== null && (!Number.isSafeInteger(sequence) || (sequence as number) < 0)) throw new AppError('bad_request', 'commitSequence must be a non-negative integer.');
    const terminate = b['terminate'] === true;
    const cmi = b['cmi'] as Json;
    const family = claims.family;
    let result = readResult(family, cmi);
    if (terminate && family === '1.2' && claims.mode === 'normal' && result.scoreRaw !== null && await this.applyMasteryScore(claims, itemId, cmi, result.scoreRaw)) {
      result = readResult(family, cmi);
    }
    const warnings: string[] = [];
    if (family === '1.2' && result.suspendData.length > scorm12SuspendDataLimit) {
      warnings.push(`cmi.suspend_data is ${result.suspendData.length} characters, over SCORM 1.2's ${scorm12SuspendDataLimit}; kept whole.`);
    }
    const now = this.deps.clock.now();
    const outcome = await this.batcher.write({
      attemptId: claims.attemptId, item: itemId, sessionId, sequence: sequence as number | null, terminate, via, cmi, body: raw, warnings,
      result: {
        completion_status: result.completion, success_status: result.success, score_scaled: result.scoreScaled, score_raw: result.scoreRaw,
        score_min: result.scoreMin, score_max: result.scoreMax, progress_measure: result.progressMeasure, exit: result.exit,
        session_seconds: result.sessionSeconds, suspend_data_length: result.suspendData.length,
      },
      now,
    });
    if (!outcome.open) throw new AppError('forbidden', 'This attempt has ended; its data can no longer change.');
    if (!outcome.applied) {
      return { result: 'true', errorCode: 0, warnings: [...warnings, 'This commit belongs to an earlier session or is older than the stored data; it was recorded but not applied.'] };
    }
    if (warnings.length > 0) this.deps.log.warn({ attemptId: claims.attemptId, item: itemId, warnings }, 'SCORM commit accepted with warnings');

    const prev = outcome.previous;
    const changed = !prev || terminate || prev.completion_status !== result.completion || prev.success_status !== result.success
      || prev.score_scaled !== result.scoreScaled || prev.score_raw !== result.scoreRaw;
    if (changed) await this.recompute(claims, { terminated: terminate ? { item: itemId, exit: result.exit, result } : undefined });

    if (claims.mode === 'normal') {
      const seen = new Set(prev ? readInteractions(family, { interactions: prev.interactions }).map(interactionKey) : []);
      const interactions = readInteractions(family, cmi);
      // Most commits (autocommit heartbeats) change nothing a statement reports: skip the lookups.
      if (changed || interactions.some((i) => !seen.has(interactionKey(i)))) {
        const pkg = await this.packages.get(this.deps.db, claims.packageId);
        const item = pkg ? findItem(organizationOf(pkg.model), itemId) : undefined;
        const context = pkg && item ? await this.bridgeContext(claims, pkg, item) : undefined;
        if (context) {
          this.emit(claims.tenantId, commitStatements(context, {
            sessionId, previous: prev ? previousResult(prev) : undefined, current: result, previousInteractions: seen, interactions,
            terminated: terminate && !prev?.terminated, at: now,
          }));
        }
      }
    }
    return { result: 'true', errorCode: 0, ...(warnings.length > 0 ? { warnings } : {}) };
  }

  /**
   * SCORM 1.2 RTE §3.4.4 (cmi.core.lesson_status): "If a Mastery Score is provided and the SCO
   * did set the cmi.core.score.raw, the LMS shall compare the cmi.core.score.raw to the Mastery
   * Score and set the cmi.core.lesson_status to either 'passed' or 'failed'." Done on the SCO's
   * final commit of a for-credit session, as SCORM Cloud and scorm-again's own option do, so a
   * score still changing mid-session does not flip the status back and forth. The stored CMI
   * carries the status the LMS set; the commit history keeps what the SCO sent.
   */
  private async applyMasteryScore(claims: RuntimeClaims, itemId: string, cmi: Json, scoreRaw: number): Promise<boolean> {
    const pkg = await this.packages.get(this.deps.db, claims.packageId);
    const mastery = pkg ? findItem(organizationOf(pkg.model), itemId)?.masteryScore : undefined;
    if (mastery === undefined) return false;
    // readResult found a raw score, so cmi.core is an object.
    (cmi['core'] as Json)['lesson_status'] = scoreRaw >= mastery ? 'passed' : 'failed';
    return true;
  }

  /** SCORM 2004 sequencing: the engine's serialized state, global objectives, shared data and root rollup. */
  async saveSequencing(claims: RuntimeClaims, body: unknown): Promise<void> {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new AppError('bad_request', 'Send a JSON object.');
    const b = body as Json;
    if (typeof b['state'] !== 'string' || b['state'].length > 1_000_000) throw new AppError('bad_request', '`state` must be the serialized sequencing state (a string up to 1,000,000 characters).');
    const objectives = b['global_objectives'] ?? {};
    // Absent shared data (an older player's unload beacon) keeps what is stored: `{}` would wipe
    // the course's adl.data stores.
    const shared = b['shared_data'];
    if (typeof objectives !== 'object' || objectives === null || Array.isArray(objectives)) throw new AppError('bad_request', '`global_objectives` must be an object.');
    if (shared !== undefined && (typeof shared !== 'object' || shared === null || Array.isArray(shared))) throw new AppError('bad_request', '`shared_data` must be an object.');
    const rollup = parseRollup(b['rollup']);
    const attempt = await repo.findAttempt(this.deps.db, claims.attemptId);
    if (!attempt || attempt.status === 'ended') throw new AppError('forbidden', 'This attempt has ended; its data can no longer change.');
    await repo.saveSequencing(this.deps.db, { registrationId: claims.registrationId, attemptId: claims.attemptId, state: b['state'], globalObjectives: objectives as Json, sharedData: shared as Json | undefined }, this.deps.clock.now());
    if (rollup) await this.recompute(claims, { rollup });
  }

  /**
   * The player's exit: `suspend` keeps the attempt for resume; `exit` ends it (exitAll, or the
   * learner left a finished course), so the next launch starts a new attempt.
   */
  async exit(claims: RuntimeClaims, reason: 'suspend' | 'exit'): Promise<void> {
    await this.recompute(claims, { exit: reason });
  }

  /**
   * Derives the attempt's result from its SCOs (or from the sequencer's root rollup), decides
   * whether the attempt ended, rolls the attempts up into the registration and, when the
   * registration's result changed, writes the gradebook — in one transaction.
   */
  private async recompute(claims: RuntimeClaims, event: { terminated?: { item: string; exit: string; result: ScoResult } | undefined; rollup?: Rollup; exit?: 'suspend' | 'exit' }): Promise<void> {
    const pkg = await this.mustPackage(claims);
    const org = organizationOf(pkg.model);
    const scos = launchableItems(org).filter((i) => i.scormType !== 'asset');
    const now = this.deps.clock.now();
    await withTransaction(this.deps.db, async (tx) => {
      const registration = await repo.lockRegistration(tx, claims.registrationId);
      if (!registration) return;
      const attempt = await repo.findAttempt(tx, claims.attemptId);
      if (!attempt || attempt.status === 'ended') return;
      const rows = await repo.listRuntime(tx, attempt.id);
      const sequenced = usesSequencing(pkg);
      let result: repo.ResultColumns = rollupScos(scos.map((s) => s.identifier), rows);
      if (sequenced) {
        const rollup = event.rollup ?? rollupFromAttempt(attempt);
        if (rollup) result = { ...result, completion_status: rollup.completion, success_status: rollup.success, ...(rollup.scaled !== null ? { score_scaled: rollup.scaled } : {}) };
      }
      let status: repo.AttemptStatus = attempt.status;
      if (event.exit === 'suspend') status = 'suspended';
      if (event.exit === 'exit') status = 'ended';
      if (event.terminated && scos.length <= 1 && !sequenced) {
        const { exit, result: r } = event.terminated;
        if (exit === 'suspend') status = 'suspended';
        else if (pkg.family === '2004') status = 'ended';
        else if (r.completion === 'completed') status = 'ended';
      }
      await repo.updateAttempt(tx, attempt.id, { ...result, status, ...(status === 'ended' ? { ended_at: now } : {}) });
      const attempts = (await repo.listAttempts(tx, registration.id)).map((a) => (a.id === attempt.id ? { ...a, ...result, status } : a));
      const rolled = rollupAttempts(attempts);
      const resultChanged = rolled.completion_status !== registration.completion_status || rolled.success_status !== registration.success_status
        || rolled.score_scaled !== registration.score_scaled;
      await repo.updateRegistration(tx, registration.id, {
        ...rolled,
        ...(rolled.completion_status === 'completed' && !registration.completed_at ? { completed_at: now } : {}),
      }, now);
      if (resultChanged && !registration.preview) await this.writeGrade(tx, registration, rolled, attempt.number, now);
    });
  }

  /** The course item's line item (created on first need) gets the registration's result. */
  private async writeGrade(tx: Queryable, registration: repo.RegistrationRow, r: repo.ResultColumns, attemptNumber: number, now: Date): Promise<void> {
    const item = await tx('course_items').where({ id: registration.course_item_id }).first() as { id: string; title: string } | undefined;
    if (!item) return;
    // A learner removed from the course keeps their SCORM record; the gradebook takes only members.
    if (!(await findEnrollmentOf(tx, registration.course_id, registration.user_id))) return;
    // Two first results for one item at once must not create two line items.
    await tx.raw('select pg_advisory_xact_lock(hashtext(?))', [`scorm-line-item:${item.id}`]);
    let lineItem = await tx<grades.LineItemRow>('line_items').where({ course_item_id: item.id }).orderBy('created_at').first();
    lineItem ??= await grades.insertLineItem(tx, {
      tenant_id: registration.tenant_id, course_id: registration.course_id, course_item_id: item.id, label: item.title,
      score_maximum: 100, resource_id: null, tag: 'scorm', start_at: null, end_at: null,
    }, now);
    const max = Number(lineItem.score_maximum);
    const given = r.score_scaled === null ? null : Math.round(Math.max(0, r.score_scaled) * max * 10_000) / 10_000;
    const completed = r.completion_status === 'completed' || r.success_status !== 'unknown';
    await recordScore(tx, this.deps.clock, lineItem, {
      userId: registration.user_id,
      scoreGiven: given,
      scoreMaximum: max,
      activityProgress: completed ? 'Completed' : r.completion_status === 'not attempted' || r.completion_status === 'unknown' ? 'Started' : 'InProgress',
      gradingProgress: given !== null || completed ? 'FullyGraded' : 'Pending',
      comment: `SCORM: ${r.completion_status}${r.success_status !== 'unknown' ? `, ${r.success_status}` : ''} (attempt ${attemptNumber})`,
      source: 'scorm',
      scoredAt: now,
    });
  }

  private async mustPackage(claims: RuntimeClaims): Promise<LoadedPackage> {
    const pkg = await this.packages.get(this.deps.db, claims.packageId);
    if (!pkg) throw new AppError('not_found', 'The package of this launch is no longer available.');
    return pkg;
  }

  private async bridgeContext(claims: RuntimeClaims, pkg: LoadedPackage, item: Item): Promise<BridgeContext | undefined> {
    const attempt = await repo.findAttempt(this.deps.db, claims.attemptId);
    if (!attempt) return undefined;
    return {
      publicUrl: this.deps.config.publicUrl, userId: claims.userId, registrationId: claims.registrationId, attemptId: attempt.id, attemptNumber: attempt.number,
      lineageId: pkg.lineageId, courseTitle: pkg.title, itemIdentifier: item.identifier, itemTitle: item.title, scormVersion: pkg.model.version,
    };
  }

  /**
   * Statements are written after the SCORM data is safe and never fail the commit: the LRS copy
   * is a projection, and a content's commit must not be refused because the LRS hiccuped.
   */
  private emit(tenantId: string, statements: Record<string, unknown>[]): void {
    if (statements.length === 0) return;
    const pending = this.writer.storeBridgeStatements(tenantId, statements).catch((error: unknown) => {
      this.deps.log.error({ err: error, tenantId, count: statements.length }, 'SCORM statements not written to the LRS');
    });
    this.inflight.add(pending);
    void pending.finally(() => this.inflight.delete(pending));
  }

  private readonly inflight = new Set<Promise<unknown>>();

  /** Resolves when the statements of earlier commits are stored (tests, shutdown). */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }
}

/** The stored result columns of a SCO row, in the shape the statement builder compares. */
function previousResult(p: NonNullable<repo.CommitOutcome['previous']>): ScoResult {
  return {
    completion: p.completion_status, success: p.success_status, scoreScaled: p.score_scaled, scoreRaw: p.score_raw, scoreMin: p.score_min, scoreMax: p.score_max,
    progressMeasure: null, exit: p.exit ?? '', sessionSeconds: 0, suspendData: '', location: '',
  };
}

export function usesSequencing(pkg: LoadedPackage): boolean {
  if (pkg.family !== '2004') return false;
  const org = organizationOf(pkg.model);
  const hasSequencing = (items: readonly Item[]): boolean => items.some((i) => i.sequencing !== undefined || hasSequencing(i.children));
  return launchableItems(org).length > 1 || org.sequencing !== undefined || hasSequencing(org.items);
}

interface Rollup {
  readonly completion: Completion;
  readonly success: Success;
  readonly scaled: number | null;
}

function parseRollup(value: unknown): Rollup | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw new AppError('bad_request', '`rollup` must be an object.');
  const v = value as Json;
  const completion = v['completion_status'];
  const success = v['success_status'];
  const scaled = v['score_scaled'];
  if (completion !== 'completed' && completion !== 'incomplete' && completion !== 'not attempted' && completion !== 'unknown') throw new AppError('bad_request', '`rollup.completion_status` is not a SCORM completion status.');
  if (success !== 'passed' && success !== 'failed' && success !== 'unknown') throw new AppError('bad_request', '`rollup.success_status` is not a SCORM success status.');
  if (scaled !== undefined && scaled !== null && (typeof scaled !== 'number' || scaled < -1 || scaled > 1)) throw new AppError('bad_request', '`rollup.score_scaled` must be between -1 and 1.');
  return { completion, success, scaled: typeof scaled === 'number' ? scaled : null };
}

function rollupFromAttempt(a: repo.AttemptRow): Rollup | undefined {
  if (a.completion_status === 'unknown' && a.success_status === 'unknown') return undefined;
  return { completion: a.completion_status, success: a.success_status, scaled: a.score_scaled };
}

/**
 * Without a sequencer (1.2, or 2004 without sequencing): completed when every SCO is; failed when
 * any SCO failed, passed when one passed and all are completed; the score is the mean of the SCOs'
 * scaled scores (raw/min/max only for a single SCO); time adds up.
 */
export function rollupScos(scoIds: readonly string[], rows: readonly repo.RuntimeRow[]): repo.ResultColumns {
  const byId = new Map(rows.map((r) => [r.item_identifier, r]));
  const mine = scoIds.map((id) => byId.get(id)).filter((r): r is repo.RuntimeRow => r !== undefined);
  const total = rows.reduce((s, r) => s + r.total_seconds, 0);
  if (scoIds.length === 1 && mine[0]) {
    const r = mine[0];
    return { completion_status: r.completion_status, success_status: r.success_status, score_scaled: r.score_scaled, score_raw: r.score_raw, score_min: r.score_min, score_max: r.score_max, total_seconds: total };
  }
  const allCompleted = scoIds.length > 0 && mine.length === scoIds.length && mine.every((r) => r.completion_status === 'completed');
  const completion: Completion = allCompleted ? 'completed' : mine.length > 0 ? 'incomplete' : 'not attempted';
  const success: Success = mine.some((r) => r.success_status === 'failed') ? 'failed'
    : allCompleted && mine.some((r) => r.success_status === 'passed') ? 'passed' : 'unknown';
  const scores = mine.map((r) => r.score_scaled).filter((s): s is number => s !== null);
  return {
    completion_status: completion, success_status: success,
    score_scaled: scores.length > 0 ? scores.reduce((a, b) => a + b, 0) / scores.length : null,
    score_raw: null, score_min: null, score_max: null, total_seconds: total,
  };
}

/**
 * A registration over its attempts: completed and passed once any attempt was; the best scaled
 * score of any attempt (with that attempt's raw/min/max); the time of all attempts.
 */
export function rollupAttempts(attempts: readonly repo.AttemptRow[]): repo.ResultColumns {
  const latest = attempts[attempts.length - 1];
  const best = attempts.filter((a) => a.score_scaled !== null).sort((a, b) => b.score_scaled! - a.score_scaled!)[0];
  return {
    completion_status: attempts.some((a) => a.completion_status === 'completed') ? 'completed' : latest?.completion_status ?? 'unknown',
    success_status: attempts.some((a) => a.success_status === 'passed') ? 'passed' : latest?.success_status ?? 'unknown',
    score_scaled: best?.score_scaled ?? null, score_raw: best?.score_raw ?? null, score_min: best?.score_min ?? null, score_max: best?.score_max ?? null,
    total_seconds: attempts.reduce((s, a) => s + a.total_seconds, 0),
  };
}

function tocItem(i: Item): Record<string, unknown> {
  return {
    identifier: i.identifier, title: i.title, visible: i.isVisible, launchable: Boolean(i.launchUrl) && i.children.length === 0,
    launch_url: i.launchUrl ?? null, scorm_type: i.scormType ?? null, hide_lms_ui: i.hideLmsUi ?? [], children: i.children.map(tocItem),
  };
}

/** "Jane Q. Doe" → "Doe, Jane Q.", the 1.2 student_name convention (RTE 3.4.4). */
function lastFirst(name: string): string {
  const parts = name.trim().split(/\s+/);
  if (parts.length < 2 || name.includes(',')) return name;
  return `${parts[parts.length - 1]}, ${parts.slice(0, -1).join(' ')}`;
}

function pick(source: Json, keys: readonly string[]): Json {
  const out: Json = {};
  for (const k of keys) if (source[k] !== undefined && source[k] !== '') out[k] = source[k];
  return out;
}

/**
 * The JSON the player hands to scorm-again's loadFromJSON before the SCO starts. `model` is the
 * package's: an item's sequencing may live in the manifest's sequencingCollection (IDRef).
 */
export function initialCmi(family: Family, item: Item, previous: Json, s: { learnerId: string; learnerName: string; entry: string; mode: string; totalSeconds: number }, model: PackageModel): Json {
  const credit = s.mode === 'normal' ? 'credit' : 'no-credit';
  if (family === '1.2') {
    const core = (previous['core'] ?? {}) as Json;
    return {
      core: {
        student_id: s.learnerId, student_name: lastFirst(s.learnerName), credit, entry: s.entry, lesson_mode: s.mode,
        total_time: formatTimespan(s.totalSeconds),
        ...pick(core, ['lesson_location', 'lesson_status']),
        ...(core['score'] ? { score: pick(core['score'] as Json, ['raw', 'min', 'max']) } : {}),
      },
      ...pick(previous, ['suspend_data', 'comments', 'objectives', 'student_preference']),
      launch_data: item.dataFromLms ?? '',
      student_data: {
        mastery_score: item.masteryScore !== undefined ? String(item.masteryScore) : '',
        max_time_allowed: item.maxTimeAllowed ?? '',
        time_limit_action: item.timeLimitAction ?? '',
      },
    };
  }
  const primary = effectiveSequencing(model, item.sequencing)?.objectives?.primary;
  const threshold = item.completionThreshold;
  return {
    learner_id: s.learnerId, learner_name: s.learnerName, credit, entry: s.entry, mode: s.mode,
    total_time: formatDuration(s.totalSeconds),
    launch_data: item.dataFromLms ?? '',
    ...(item.maxTimeAllowed ? { max_time_allowed: item.maxTimeAllowed } : {}),
    ...(item.timeLimitAction ? { time_limit_action: item.timeLimitAction } : {}),
    ...(threshold?.completedByMeasure ? { completion_threshold: String(threshold.minProgressMeasure) } : {}),
    // IMS SS: minNormalizedMeasure defaults to 1.0 when the objective is satisfied by measure.
    ...(primary?.satisfiedByMeasure ? { scaled_passing_score: String(primary.minNormalizedMeasure ?? 1) } : {}),
    ...pick(previous, ['location', 'completion_status', 'success_status', 'progress_measure', 'suspend_data', 'objectives', 'interactions', 'comments_from_learner', 'learner_preference']),
    ...(previous['score'] ? { score: pick(previous['score'] as Json, ['scaled', 'raw', 'min', 'max']) } : {}),
  };
}
