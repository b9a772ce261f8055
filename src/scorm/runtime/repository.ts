import type { Queryable } from '../../db/index.js';
import { paginate } from '../../db/pagination.js';
import type { Completion, Success } from './cmi.js';

export interface ResultColumns {
  completion_status: Completion;
  success_status: Success;
  score_scaled: number | null;
  score_raw: number | null;
  score_min: number | null;
  score_max: number | null;
  total_seconds: number;
}

export interface RegistrationRow extends ResultColumns {
  id: string;
  tenant_id: string;
  course_id: string;
  course_item_id: string;
  user_id: string;
  package_id: string;
  preview: boolean;
  attempt_count: number;
  first_launched_at: Date | null;
  last_launched_at: Date | null;
  completed_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export type AttemptStatus = 'active' | 'suspended' | 'ended';

export interface AttemptRow extends ResultColumns {
  id: string;
  tenant_id: string;
  registration_id: string;
  number: number;
  status: AttemptStatus;
  commit_count: number;
  started_at: Date;
  last_commit_at: Date | null;
  ended_at: Date | null;
}

export interface RuntimeRow extends ResultColumns {
  attempt_id: string;
  item_identifier: string;
  tenant_id: string;
  cmi: Record<string, unknown>;
  progress_measure: number | null;
  exit: string | null;
  session_count: number;
  session_id: string | null;
  total_seconds_before_session: number;
  session_seconds: number;
  last_sequence: number;
  suspend_data_length: number;
  terminated: boolean;
  updated_at: Date;
}

export interface SequencingRow {
  registration_id: string;
  attempt_id: string | null;
  state: string | null;
  global_objectives: Record<string, unknown>;
  shared_data: Record<string, unknown>;
  updated_at: Date;
}

// Registrations -----------------------------------------------------------------------------------

export async function findRegistrationFor(db: Queryable, courseItemId: string, userId: string): Promise<RegistrationRow | undefined> {
  return db<RegistrationRow>('scorm_registrations').where({ course_item_id: courseItemId, user_id: userId }).first();
}

export async function findRegistration(db: Queryable, tenantId: string, id: string): Promise<RegistrationRow | undefined> {
  return db<RegistrationRow>('scorm_registrations').where({ tenant_id: tenantId, id }).first();
}

/** Creates the learner's registration for an item, or returns the one a concurrent launch created. */
export async function insertRegistration(db: Queryable, r: Pick<RegistrationRow, 'tenant_id' | 'course_id' | 'course_item_id' | 'user_id' | 'package_id' | 'preview'>, now: Date): Promise<RegistrationRow> {
  const [row] = await db<RegistrationRow>('scorm_registrations').insert({ ...r, created_at: now, updated_at: now })
    .onConflict(['course_item_id', 'user_id']).ignore().returning('*');
  return row ?? (await findRegistrationFor(db, r.course_item_id, r.user_id))!;
}

export async function lockRegistration(db: Queryable, id: string): Promise<RegistrationRow | undefined> {
  return db<RegistrationRow>('scorm_registrations').where({ id }).forUpdate().first();
}

export async function updateRegistration(db: Queryable, id: string, changes: Partial<RegistrationRow>, now: Date): Promise<void> {
  await db('scorm_registrations').where({ id }).update({ ...changes, updated_at: now });
}

export interface RegistrationFilter {
  readonly tenantId: string;
  readonly courseId: string;
  readonly courseItemId?: string | undefined;
  readonly userId?: string | undefined;
  readonly limit: number;
  readonly cursor?: string | undefined;
}

export async function listRegistrations(db: Queryable, f: RegistrationFilter) {
  const q = db('scorm_registrations').where({ tenant_id: f.tenantId, course_id: f.courseId });
  if (f.courseItemId) q.where('course_item_id', f.courseItemId);
  if (f.userId) q.where('user_id', f.userId);
  return paginate<RegistrationRow>(q, { limit: f.limit, cursor: f.cursor, sortColumn: 'created_at', idColumn: 'id' });
}

// Attempts ----------------------------------------------------------------------------------------

export async function latestAttempt(db: Queryable, registrationId: string): Promise<AttemptRow | undefined> {
  return db<AttemptRow>('scorm_attempts').where({ registration_id: registrationId }).orderBy('number', 'desc').first();
}

export async function findAttempt(db: Queryable, id: string): Promise<AttemptRow | undefined> {
  return db<AttemptRow>('scorm_attempts').where({ id }).first();
}

export async function listAttempts(db: Queryable, registrationId: string): Promise<AttemptRow[]> {
  return db<AttemptRow>('scorm_attempts').where({ registration_id: registrationId }).orderBy('number');
}

export async function insertAttempt(db: Queryable, a: { tenantId: string; registrationId: string; number: number }, now: Date): Promise<AttemptRow> {
  const [row] = await db<AttemptRow>('scorm_attempts').insert({
    tenant_id: a.tenantId, registration_id: a.registrationId, number: a.number, status: 'active', started_at: now,
  }).returning('*');
  return row as AttemptRow;
}

export async function updateAttempt(db: Queryable, id: string, changes: Partial<AttemptRow>): Promise<void> {
  await db('scorm_attempts').where({ id }).update(changes);
}

// Runtime data ------------------------------------------------------------------------------------

export async function findRuntime(db: Queryable, attemptId: string, item: string): Promise<RuntimeRow | undefined> {
  return db<RuntimeRow>('scorm_runtime_data').where({ attempt_id: attemptId, item_identifier: item }).first();
}

export async function listRuntime(db: Queryable, attemptId: string): Promise<RuntimeRow[]> {
  return db<RuntimeRow>('scorm_runtime_data').where({ attempt_id: attemptId }).orderBy('item_identifier');
}

/**
 * Opens a session of a SCO in an attempt that is still open: the previous sessions' time is
 * folded into the total, and the attempt becomes active again. Returns undefined when the
 * attempt has ended (the token outlived it).
 */
export async function openSession(db: Queryable, s: { attemptId: string; tenantId: string; item: string; sessionId: string; freshCmi: boolean }, now: Date): Promise<RuntimeRow | undefined> {
  const result = await db.raw<{ rows: RuntimeRow[] }>(
    `with att as (
       update scorm_attempts set status = 'active' where id = ? and status <> 'ended' returning id
     )
     insert into scorm_runtime_data as r (attempt_id, item_identifier, tenant_id, cmi, session_count, session_id, updated_at)
     select att.id, ?, ?, '{}'::jsonb, 1, ?, ? from att
     on conflict (attempt_id, item_identifier) do update set
       session_count = r.session_count + 1,
       session_id = excluded.session_id,
       total_seconds_before_session = r.total_seconds,
       session_seconds = 0,
       last_sequence = 0,
       terminated = false,
       cmi = case when ? then '{}'::jsonb else r.cmi end,
       updated_at = excluded.updated_at
     returning r.*`,
    [s.attemptId, s.item, s.tenantId, s.sessionId, now, s.freshCmi],
  );
  return result.rows[0];
}

export interface CommitWrite {
  readonly attemptId: string;
  readonly item: string;
  readonly sessionId: string;
  /** null when the client sent none: always applied. */
  readonly sequence: number | null;
  readonly terminate: boolean;
  readonly via: 'xhr' | 'beacon';
  readonly cmi: Record<string, unknown>;
  readonly body: string;
  readonly warnings: readonly string[];
  readonly result: Omit<ResultColumns, 'total_seconds'> & { progress_measure: number | null; exit: string; session_seconds: number; suspend_data_length: number };
  readonly now: Date;
}

export interface CommitOutcome {
  /** False when the attempt has ended (nothing was written). */
  readonly open: boolean;
  /** False for a commit of a superseded session, or older than one already applied. */
  readonly applied: boolean;
  /** The SCO row's results before this commit, and its interactions (for the xAPI bridge). */
  readonly previous: (Pick<RuntimeRow, 'completion_status' | 'success_status' | 'score_scaled' | 'score_raw' | 'score_min' | 'score_max' | 'terminated' | 'exit'> & { interactions: unknown }) | undefined;
}

/**
 * The hot path of the content origin: a batch of commits (see ./commits.ts) in one statement.
 * Per commit: count it on its attempt (only while the attempt is open), apply the CMI to the
 * SCO's row when it belongs to the row's open session and is newer than what is there, record it
 * in the history either way, and return the row's results before it. A batch never holds two
 * commits of one SCO row.
 *
 * The statement's transaction commits without waiting for its WAL flush
 * (`synchronous_commit = off` for this transaction only, docs/decisions/0039): a database crash
 * can lose the last fraction of a second of commits — which the SCO repeats at its next commit
 * or termination — never corrupt anything; every other write of Cairn stays synchronous.
 */
export async function applyCommits(db: Queryable, commits: readonly CommitWrite[]): Promise<CommitOutcome[]> {
  const input = commits.map((c, k) => ({
    k, attempt_id: c.attemptId, item: c.item, session_id: c.sessionId, seq: c.sequence, terminate: c.terminate, via: c.via, cmi: c.cmi,
    completion: c.result.completion_status, success: c.result.success_status, scaled: c.result.score_scaled, raw: c.result.score_raw,
    min: c.result.score_min, max: c.result.score_max, progress: c.result.progress_measure, exit: c.result.exit,
    session_seconds: c.result.session_seconds, suspend_len: c.result.suspend_data_length, warnings: c.warnings, body: c.body, at: c.now.toISOString(),
  }));
  const result = await db.raw<{ rows: Array<{ k: number; open: boolean; applied: boolean; prev: CommitOutcome['previous'] | null }> }>(
    `with cfg as (select set_config('synchronous_commit', 'off', true) as v),
     i as (
       select * from jsonb_to_recordset(?::jsonb) as x(k int, attempt_id uuid, item text, session_id uuid, seq int, terminate boolean, via text, cmi jsonb,
         completion text, success text, scaled double precision, raw double precision, min double precision, max double precision, progress double precision,
         exit text, session_seconds double precision, suspend_len int, warnings jsonb, body text, at timestamptz)
     ),
     att as (
       update scorm_attempts a set commit_count = a.commit_count + n.count, last_commit_at = n.at,
         status = case when a.status = 'suspended' then 'active' else a.status end
       from (select attempt_id, count(*)::int as count, max(at) as at from i group by attempt_id) n
       where a.id = n.attempt_id and a.status <> 'ended' returning a.id
     ),
     prev as (
       select i.k, r.completion_status, r.success_status, r.score_scaled, r.score_raw, r.score_min, r.score_max, r.terminated, r.exit,
         r.cmi -> 'interactions' as interactions
       from i join att on att.id = i.attempt_id join scorm_runtime_data r on r.attempt_id = i.attempt_id and r.item_identifier = i.item
     ),
     cur as (
       update scorm_runtime_data r set
         cmi = i.cmi, completion_status = i.completion, success_status = i.success, score_scaled = i.scaled, score_raw = i.raw, score_min = i.min, score_max = i.max,
         progress_measure = i.progress, exit = case when i.terminate then i.exit else r.exit end,
         session_seconds = greatest(r.session_seconds, i.session_seconds),
         total_seconds = r.total_seconds_before_session + greatest(r.session_seconds, i.session_seconds),
         last_sequence = coalesce(i.seq, r.last_sequence), suspend_data_length = i.suspend_len,
         terminated = r.terminated or i.terminate, updated_at = i.at
       from i join att on att.id = i.attempt_id
       where r.attempt_id = i.attempt_id and r.item_identifier = i.item and r.session_id = i.session_id
         and (i.seq is null or i.seq > r.last_sequence)
       returning i.k
     ),
     hist as (
       insert into scorm_commits (attempt_id, item_identifier, session_id, sequence, terminate, via, applied, warnings, body, received_at)
       select i.attempt_id, i.item, i.session_id, i.seq, i.terminate, i.via, exists (select 1 from cur where cur.k = i.k), i.warnings, i.body::json, i.at
       from i join att on att.id = i.attempt_id
       order by i.k
       returning id
     )
     select i.k, exists (select 1 from att where att.id = i.attempt_id) as open, cur.k is not null as applied,
       (select to_jsonb(prev) - 'k' from prev where prev.k = i.k) as prev,
       (select count(*) from hist) as recorded, (select v from cfg) as cfg
     from i left join cur on cur.k = i.k
     order by i.k`,
    [JSON.stringify(input)],
  );
  const byK = new Map(result.rows.map((row) => [row.k, row]));
  return commits.map((_c, k) => {
    const row = byK.get(k)!;
    return { open: row.open, applied: row.applied, previous: row.prev ?? undefined };
  });
}

export interface CommitHistoryRow {
  id: string;
  item_identifier: string;
  session_id: string | null;
  sequence: number | null;
  terminate: boolean;
  via: 'xhr' | 'beacon';
  applied: boolean;
  warnings: string[];
  body: unknown;
  received_at: Date;
}

export async function listCommits(db: Queryable, attemptId: string, f: { limit: number; cursor?: string | undefined }) {
  const q = db('scorm_commits').where({ attempt_id: attemptId })
    .select('id', 'item_identifier', 'session_id', 'sequence', 'terminate', 'via', 'applied', 'warnings', 'body', 'received_at');
  return paginate<CommitHistoryRow>(q, { limit: f.limit, cursor: f.cursor, sortColumn: 'id', idColumn: 'id' });
}

// Sequencing --------------------------------------------------------------------------------------

export async function findSequencing(db: Queryable, registrationId: string): Promise<SequencingRow | undefined> {
  return db<SequencingRow>('scorm_sequencing_state').where({ registration_id: registrationId }).first();
}

/** `sharedData` undefined keeps the stored shared data (or `{}` for a first save). */
export async function saveSequencing(db: Queryable, s: { registrationId: string; attemptId: string; state: string; globalObjectives: Record<string, unknown>; sharedData: Record<string, unknown> | undefined }, now: Date): Promise<void> {
  const shared = s.sharedData === undefined ? null : JSON.stringify(s.sharedData);
  await db.raw(
    `insert into scorm_sequencing_state (registration_id, attempt_id, state, global_objectives, shared_data, updated_at)
     values (?, ?, ?, ?::jsonb, coalesce(?::jsonb, '{}'::jsonb), ?)
     on conflict (registration_id) do update set attempt_id = excluded.attempt_id, state = excluded.state,
       global_objectives = excluded.global_objectives,
       shared_data = coalesce(?::jsonb, scorm_sequencing_state.shared_data), updated_at = excluded.updated_at`,
    [s.registrationId, s.attemptId, s.state, JSON.stringify(s.globalObjectives), shared, now, shared],
  );
}

/** A new attempt starts the activity tree afresh; global objectives and shared data stay. */
export async function clearSequencingState(db: Queryable, registrationId: string, now: Date): Promise<void> {
  await db('scorm_sequencing_state').where({ registration_id: registrationId }).update({ state: null, attempt_id: null, updated_at: now });
}
