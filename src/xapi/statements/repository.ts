import type { Queryable } from '../../db/index.js';
import { indexKey } from './relations.js';

/**
 * SQL of the statements resource. Timestamps that order statements (`stored`) travel as
 * text with microseconds ("…T12:00:00.123456Z"): JavaScript dates would drop the
 * microseconds the order and the consistency bound rely on.
 */

const isoMicros = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;
const isoMillis = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

/** One statement ready to insert. */
export interface StatementInsert {
  readonly id: string;
  readonly verbId: string;
  readonly actorKey: string | null;
  readonly objectKind: string;
  readonly objectId: string | null;
  readonly registration: string | null;
  readonly voids: string | null;
  readonly version: string;
  /** ISO instant when the statement carries a timestamp; null → the LRS uses `stored`. */
  readonly timestamp: string | null;
  /** A statement of the same batch voids this one. */
  readonly voidedInBatch: boolean;
  /** The statement JSON without `stored` (and without `timestamp` when the client sent none). */
  readonly body: Record<string, unknown>;
  readonly agents: ReadonlyArray<readonly [string, boolean]>;
  readonly activities: ReadonlyArray<readonly [string, boolean]>;
}

export interface BatchInsert {
  readonly storeId: string;
  readonly credentialId: string;
  readonly statements: readonly StatementInsert[];
  readonly attachments: ReadonlyArray<{ sha2: string; contentType: string; length: number }>;
  readonly definitions: ReadonlyArray<{ id: string; definition: Record<string, unknown> }>;
  /** Whether the writer may update canonical Activity definitions (`define` scope). */
  readonly trusted: boolean;
  readonly identities: ReadonlyArray<{ key: string; name: string; ifi: Record<string, unknown> }>;
  /** Fail with SQLSTATE XA409 (storing nothing) when an id already exists. */
  readonly abortOnConflict: boolean;
}

export interface BatchResult {
  readonly inserted: Set<string>;
  /** SHA-2s of the attachments this batch was the first to record in the store. */
  readonly newAttachments: readonly string[];
  /** `stored` of the batch, milliseconds, as written into the statements. */
  readonly stored: string;
}

export const conflictSqlState = 'XA409';

/**
 * Statement writers label their transaction (set_config … is_local: it reverts at commit), so
 * the consistency bound waits only for them, not for unrelated writes such as rate-limit
 * counters or documents.
 */
const writerApplicationName = 'cairn xapi statement writer';

/**
 * Writes a whole batch in ONE SQL statement: statements, relation rows, attachment records,
 * activity definitions and identities are data-modifying CTEs over JSON record sets, so a
 * batch of any size is one round trip and atomic on its own. `stored` is read from the
 * clock after the transaction has an xid, which is what makes the consistency bound of
 * `consistentThrough` truthful.
 */
export async function insertBatch(db: Queryable, batch: BatchInsert): Promise<BatchResult> {
  const statements = batch.statements.map((s, n) => ({
    n, id: s.id, v: s.verbId, a: s.actorKey, k: s.objectKind, o: s.objectId, r: s.registration, x: s.voids,
    ver: s.version, ts: s.timestamp, vb: s.voidedInBatch, b: s.body,
  }));
  const agents: Array<{ i: string; k: string; d: boolean }> = [];
  const activities: Array<{ i: string; k: string; d: boolean }> = [];
  for (const s of batch.statements) {
    for (const [k, d] of s.agents) agents.push({ i: s.id, k, d });
    for (const [k, d] of s.activities) activities.push({ i: s.id, k, d });
  }
  const hasVoiding = batch.statements.some((s) => s.voids !== null);
  // Parts with nothing to write are left out of the statement: fewer plan nodes to run for
  // the common single statement about known learners and activities.
  const hasAttachments = batch.attachments.length > 0;
  const hasDefinitions = batch.definitions.length > 0;
  const hasIdentities = batch.identities.length > 0;
  const definitionConflict = batch.trusted
    ? `do update set definition = xapi_merge_definition(xapi_activities.definition, excluded.definition), trusted = true, updated_at = now()
       where not xapi_activities.trusted or xapi_activities.definition is distinct from xapi_merge_definition(xapi_activities.definition, excluded.definition)`
    : 'do nothing';
  // $1 store, $2 credential, $3 trusted, $4 abort on conflict, $5..$10 JSON record sets.
  const text = `
    with tx as materialized (select set_config('application_name', '${writerApplicationName}', true) as marked, pg_current_xact_id() as xid),
    clock as materialized (
      select clock_timestamp() as stored, to_char(clock_timestamp() at time zone 'UTC', ${isoMillis}) as stored_text from tx
    ),
    input as materialized (
      select * from json_to_recordset($5::json) as x(n int, id uuid, v text, a text, k text, o text, r uuid, x uuid, ver text, ts timestamptz, vb boolean, b json)
    ),
    -- Statements of the batch that a voiding statement stored earlier already targets.
    voided_early as materialized (
      select distinct p.voids as id from input i join xapi_statements p on p.store_id = $1 and p.voids = i.id where p.voids is not null
    ),
    ins as (
      insert into xapi_statements (store_id, id, stored, "timestamp", verb_id, actor_key, object_kind, object_id, registration, voided, voids, credential_id, version, statement)
      select $1, i.id, c.stored, coalesce(i.ts, c.stored), i.v, i.a, i.k, i.o, i.r,
        i.x is null and (i.vb or i.id in (select id from voided_early)),
        i.x, $2, i.ver,
        -- The client's JSON with the LRS's stored (and timestamp when absent) appended.
        (left(i.b::text, -1) || ',"stored":"' || c.stored_text || '"'
          || case when i.ts is null then ',"timestamp":"' || c.stored_text || '"' else '' end || '}')::json
      from input i cross join clock c
      order by i.n
      on conflict (store_id, id) do nothing
      returning id, seq, stored
    ),
    agent_rows as (
      insert into xapi_statement_agents (store_id, agent_key, stored, seq, direct)
      select $1, r.k, ins.stored, ins.seq, r.d from json_to_recordset($6::json) as r(i uuid, k text, d boolean) join ins on ins.id = r.i
    ),
    activity_rows as (
      insert into xapi_statement_activities (store_id, activity_id, stored, seq, direct)
      select $1, r.k, ins.stored, ins.seq, r.d from json_to_recordset($7::json) as r(i uuid, k text, d boolean) join ins on ins.id = r.i
    ),
    ${hasAttachments ? `attachment_rows as (
      insert into xapi_attachments (store_id, sha2, content_type, length)
      select $1, a.sha2, a.content_type, a.length from json_to_recordset($8::json) as a(sha2 text, content_type text, length bigint)
      -- The order blob purges reserve rows in (documents/service.ts): no waiting in a cycle.
      order by a.sha2
      on conflict (store_id, sha2) do nothing
      returning sha2
    ),` : ''}
    ${hasDefinitions ? `definition_rows as (
      insert into xapi_activities (store_id, activity_id, definition, trusted)
      select $1, d.id, d.definition, $3 from json_to_recordset($9::json) as d(id text, definition jsonb)
      where exists (select 1 from ins)
      order by d.id
      on conflict (store_id, activity_id) ${definitionConflict}
    ),` : ''}
    ${hasIdentities ? `identity_rows as (
      insert into xapi_agents (store_id, agent_key, name, ifi)
      select $1, g.k, g.n, g.f from json_to_recordset($10::json) as g(k text, n text, f jsonb)
      where exists (select 1 from ins)
      -- One order for every writer, so concurrent batches never wait on each other in a cycle.
      order by g.k, g.n
      on conflict do nothing
    ),` : ''}
    -- Names the type of every parameter, used by the parts above or not.
    params as (select $3::boolean as trusted, $8::json as attachments, $9::json as definitions, $10::json as identities)
    ${hasVoiding ? `, voiding as (
      update xapi_statements t set voided = true
      from input i join ins on ins.id = i.id
      where i.x is not null and t.store_id = $1 and t.id = i.x and t.voids is null and not t.voided
    )` : ''}
    select xapi_abort_on_conflict(case when $4 then (select count(*) from input) - (select count(*) from ins) else 0 end) as ok,
      (select coalesce(json_agg(ins.id), '[]'::json) from ins) as inserted,
      ${hasAttachments ? `(select coalesce(json_agg(sha2), '[]'::json) from attachment_rows)` : `'[]'::json`} as new_attachments,
      (select stored_text from clock) as stored`;
  const values = [
    batch.storeId,
    batch.credentialId,
    batch.trusted,
    batch.abortOnConflict,
    JSON.stringify(statements),
    JSON.stringify(agents),
    JSON.stringify(activities),
    JSON.stringify(batch.attachments.map((a) => ({ sha2: a.sha2, content_type: a.contentType, length: a.length }))),
    JSON.stringify(batch.definitions),
    JSON.stringify(batch.identities.map((g) => ({ k: g.key, n: g.name, f: g.ifi }))),
  ];
  // A named (prepared) statement: PostgreSQL parses and plans this CTE once per connection.
  const rows = await preparedQuery<{ inserted: string[]; new_attachments: string[]; stored: string }>(db, `xapi_insert_batch_${batch.trusted ? 't' : 'u'}${hasVoiding ? 'v' : ''}${hasAttachments ? 'a' : ''}${hasDefinitions ? 'd' : ''}${hasIdentities ? 'i' : ''}`, text, values);
  const row = rows[0]!;
  return { inserted: new Set(row.inserted), newAttachments: row.new_attachments, stored: row.stored };
}

interface PgConnection {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/** Runs a named prepared statement on the pool (or the transaction's connection). */
async function preparedQuery<Row>(db: Queryable, name: string, text: string, values: unknown[]): Promise<Row[]> {
  const client = db.client as unknown as { acquireConnection(): Promise<PgConnection>; releaseConnection(connection: PgConnection): Promise<void> };
  const connection = await client.acquireConnection();
  try {
    return (await connection.query({ name, text, values })).rows as Row[];
  } finally {
    await client.releaseConnection(connection);
  }
}

export interface StoredStatementRow {
  id: string;
  statement: string;
  voided: boolean;
  voids: string | null;
  stored: string;
}

/** Statements by id in a store (any voided state), JSON as text. */
export async function findStatements(db: Queryable, storeId: string, ids: readonly string[]): Promise<StoredStatementRow[]> {
  if (ids.length === 0) return [];
  const result = await db.raw(
    `select id::text, statement::text as statement, voided, voids::text, to_char(stored at time zone 'UTC', ${isoMillis}) as stored
     from xapi_statements where store_id = ? and id = any(?::uuid[])`,
    [storeId, [...ids]],
  );
  return (result as { rows: StoredStatementRow[] }).rows;
}

/** One statement for GET ?statementId / ?voidedStatementId. */
export async function findStatement(db: Queryable, storeId: string, id: string, credentialId: string | undefined): Promise<StoredStatementRow | undefined> {
  const result = await db.raw(
    `select id::text, statement::text as statement, voided, voids::text, to_char(stored at time zone 'UTC', ${isoMillis}) as stored
     from xapi_statements where store_id = ? and id = ?${credentialId ? ' and credential_id = ?' : ''}`,
    credentialId ? [storeId, id, credentialId] : [storeId, id],
  );
  return (result as { rows: StoredStatementRow[] }).rows[0];
}

/**
 * The instant before which every statement is visible to a query that starts now:
 * the earlier of now and the start of the oldest statement-writing transaction that has an
 * xid and has not finished. Writers label themselves and take their xid before they read
 * `stored` from the clock, so a writer not yet listed here will store a later instant.
 */
export async function consistentThrough(db: Queryable): Promise<string> {
  const rows = await preparedQuery<{ at: string }>(db, 'xapi_consistent_through',
    `select to_char(least(clock_timestamp(), min(xact_start)) at time zone 'UTC', ${isoMicros}) as at
     from pg_stat_activity
     where datname = current_database() and application_name = '${writerApplicationName}' and backend_xid is not null and pid <> pg_backend_pid()`, []);
  return rows[0]!.at;
}

export interface StatementQuery {
  readonly storeId: string;
  readonly agentKey?: string | undefined;
  readonly relatedAgents: boolean;
  readonly verbId?: string | undefined;
  readonly activityId?: string | undefined;
  readonly relatedActivities: boolean;
  readonly registration?: string | undefined;
  /** statements/read/mine: only what this credential wrote. */
  readonly credentialId?: string | undefined;
  /** stored >= this (inclusive lower bound, microseconds). */
  readonly storedFrom?: string | undefined;
  /** stored < this (exclusive upper bound, microseconds). */
  readonly storedBefore: string;
  readonly ascending: boolean;
  /** Keyset position: rows strictly after this (stored, seq) in the query's order. */
  readonly after?: { readonly stored: string; readonly seq: string } | undefined;
  readonly limit: number;
  /** Queries exclude voided statements; the admin browser may ask for them. */
  readonly voided?: 'exclude' | 'only' | 'include' | undefined;
  /**
   * Apply xAPI's Filter Conditions for StatementRefs (statements targeting a matching statement
   * match too). The xAPI resource does; the admin browser filters on each statement's own data.
   */
  readonly statementRefs?: boolean | undefined;
}

export interface QueriedRow {
  id: string;
  voided: boolean;
  statement: string;
  stored: string;
  seq: string;
  stored_ms: string;
}

/**
 * A page of statements. One table drives the scan in (stored, seq) order — the agent or
 * activity relation table, or an index of xapi_statements — and every other filter is an
 * index probe on the candidate row, so a page costs `limit` rows of index scan however large
 * the store (plans in docs/xapi-query-plans.md).
 */
export function buildStatementQuery(q: StatementQuery): { sql: string; bindings: unknown[] } {
  const where: string[] = [];
  const bindings: unknown[] = [];
  let from: string;
  let key: string;
  let activityDrives = false;
  if (q.agentKey !== undefined) {
    from = 'xapi_statement_agents d join xapi_statements s on s.seq = d.seq';
    key = 'd';
    where.push('d.store_id = ?', 'd.agent_key = ?');
    bindings.push(q.storeId, indexKey(q.agentKey));
    if (!q.relatedAgents) where.push('d.direct');
  } else if (q.activityId !== undefined && !(q.verbId !== undefined && !q.relatedActivities)) {
    from = 'xapi_statement_activities d join xapi_statements s on s.seq = d.seq';
    key = 'd';
    activityDrives = true;
    where.push('d.store_id = ?', 'd.activity_id = ?');
    bindings.push(q.storeId, indexKey(q.activityId));
    if (!q.relatedActivities) where.push('d.direct');
  } else {
    from = 'xapi_statements s';
    key = 's';
  }
  where.push('s.store_id = ?');
  bindings.push(q.storeId);
  if ((q.voided ?? 'exclude') === 'exclude') where.push('not s.voided');
  else if (q.voided === 'only') where.push('s.voided');
  // The filters that do not drive the scan are probes on the candidate row.
  filterProbes(q, 's', { agent: false, activity: !activityDrives }, where, bindings);
  pageWindow(q, 's', key, where, bindings);
  const direction = q.ascending ? 'asc' : 'desc';
  const limit = Math.max(1, Math.floor(q.limit)) + 1;
  const columns = (k: string, s: string) => `${s}.id::text as id, ${s}.voided, ${s}.statement::text as statement, to_char(${k}.stored at time zone 'UTC', ${isoMicros}) as stored, ${k}.seq::text as seq,
      to_char(${k}.stored at time zone 'UTC', ${isoMillis}) as stored_ms, ${k}.stored as stored_at, ${k}.seq as seq_n`;
  const direct = `select ${columns(key, 's')}
    from ${from}
    where ${where.join(' and ')}
    order by ${key}.stored ${direction}, ${key}.seq ${direction}
    limit ${limit}`;
  const targeting = statementRefBranch(q, direction, limit, columns('r', 'r'));
  if (!targeting) return { sql: direct, bindings };
  // Both branches are pages in the same order; the union (which also drops a statement both
  // found) is cut to one page again.
  const sql = `select id, voided, statement, stored, seq, stored_ms from ((${direct}) union (${targeting.sql})) u
    order by u.stored_at ${direction}, u.seq_n ${direction}
    limit ${limit}`;
  return { sql, bindings: [...bindings, ...targeting.bindings] };
}

/**
 * The agent / verb / activity / registration filters as conditions on one statement row `t`
 * (relation tables probed by its exact `(store, key, stored, seq)`). `agent` and `activity` say
 * whether those two are probed here or drive the scan instead.
 */
function filterProbes(q: StatementQuery, t: string, probe: { agent: boolean; activity: boolean }, where: string[], bindings: unknown[]): void {
  if (probe.agent && q.agentKey !== undefined) {
    where.push(`exists (select 1 from xapi_statement_agents a where a.store_id = ${t}.store_id and a.agent_key = ? and a.stored = ${t}.stored and a.seq = ${t}.seq${q.relatedAgents ? '' : ' and a.direct'})`);
    bindings.push(indexKey(q.agentKey));
  }
  if (q.verbId !== undefined) {
    where.push(`${t}.verb_id = ?`);
    bindings.push(indexKey(q.verbId));
  }
  if (probe.activity && q.activityId !== undefined) {
    where.push(q.relatedActivities
      ? `exists (select 1 from xapi_statement_activities x where x.store_id = ${t}.store_id and x.activity_id = ? and x.stored = ${t}.stored and x.seq = ${t}.seq)`
      : `${t}.object_kind = 'Activity' and ${t}.object_id = ?`);
    bindings.push(indexKey(q.activityId));
  }
  if (q.registration !== undefined) {
    where.push(`${t}.registration = ?`);
    bindings.push(q.registration);
  }
}

/**
 * What limits the returned statements themselves: `mine` (on the statement row `s`), since,
 * until and the page position (on the row `key` that drives the scan, whose (stored, seq) the
 * index is ordered by).
 */
function pageWindow(q: StatementQuery, s: string, key: string, where: string[], bindings: unknown[]): void {
  if (q.credentialId !== undefined) {
    where.push(`${s}.credential_id = ?`);
    bindings.push(q.credentialId);
  }
  if (q.storedFrom !== undefined) {
    where.push(`${key}.stored >= ?::timestamptz`);
    bindings.push(q.storedFrom);
  }
  where.push(`${key}.stored < ?::timestamptz`);
  bindings.push(q.storedBefore);
  if (q.after) {
    where.push(`(${key}.stored, ${key}.seq) ${q.ascending ? '>' : '<'} (?::timestamptz, ?::bigint)`);
    bindings.push(q.after.stored, q.after.seq);
  }
}

/** Longest StatementRef chain followed (a → b → c …); longer chains are not worth a query. */
const maxStatementRefDepth = 10;

/**
 * "Filter Conditions for StatementRefs" (1.0.3 Part 3 §2.1.3; 2.0 4.1.6.1): a statement whose
 * object is a StatementRef also matches agent / verb / activity / registration (and the
 * related_* variants) when the statement it targets matches them, recursively — whether or not
 * the target is voided — while since, until, the page position and `mine` apply to the
 * targeting statement itself. This is the second branch of a page: the store's StatementRef
 * statements in (stored, seq) order (a partial index holds only them; they are few beside the
 * rest), each kept when its chain of targets reaches a statement matching every filter.
 * Without any of those filters every statement matches already, so there is no branch.
 */
function statementRefBranch(q: StatementQuery, direction: string, limit: number, columns: string): { sql: string; bindings: unknown[] } | undefined {
  if (!q.statementRefs || (q.voided ?? 'exclude') !== 'exclude') return undefined;
  if (q.agentKey === undefined && q.verbId === undefined && q.activityId === undefined && q.registration === undefined) return undefined;
  const where: string[] = ["r.store_id = ?", "r.object_kind = 'StatementRef'", 'not r.voided'];
  const bindings: unknown[] = [q.storeId];
  pageWindow(q, 'r', 'r', where, bindings);
  // What the target must match: every filter of the first branch, on one statement of the chain.
  const target: string[] = [];
  const targetBindings: unknown[] = [];
  filterProbes(q, 't', { agent: true, activity: true }, target, targetBindings);
  where.push(`exists (
      with recursive chain(id, depth) as (
        select r.object_id::uuid, 1
        union all
        select n.object_id::uuid, c.depth + 1 from chain c join xapi_statements n on n.store_id = r.store_id and n.id = c.id
        where n.object_kind = 'StatementRef' and c.depth < ${maxStatementRefDepth}
      )
      select 1 from chain c join xapi_statements t on t.store_id = r.store_id and t.id = c.id
      where ${target.join(' and ')}
    )`);
  const sql = `select ${columns}
    from xapi_statements r
    where ${where.join(' and ')}
    order by r.stored ${direction}, r.seq ${direction}
    limit ${limit}`;
  return { sql, bindings: [...bindings, ...targetBindings] };
}

export async function queryStatements(db: Queryable, q: StatementQuery): Promise<QueriedRow[]> {
  const { sql, bindings } = buildStatementQuery(q);
  const result = await db.raw(sql, bindings as never[]);
  return (result as { rows: QueriedRow[] }).rows;
}

/** Stored attachment records of a store by hash. */
export async function findAttachments(db: Queryable, storeId: string, hashes: readonly string[]): Promise<Array<{ sha2: string; content_type: string; length: string }>> {
  if (hashes.length === 0) return [];
  const result = await db.raw('select sha2, content_type, length::text from xapi_attachments where store_id = ? and sha2 = any(?::text[])', [storeId, [...hashes]]);
  return (result as { rows: Array<{ sha2: string; content_type: string; length: string }> }).rows;
}

/** Canonical definitions of activities (format=canonical). */
export async function findActivityDefinitions(db: Queryable, storeId: string, ids: readonly string[]): Promise<Map<string, Record<string, unknown>>> {
  if (ids.length === 0) return new Map();
  const byKey = new Map(ids.map((id) => [indexKey(id), id]));
  const result = await db.raw('select activity_id, definition from xapi_activities where store_id = ? and activity_id = any(?::text[]) and definition is not null', [storeId, [...byKey.keys()]]);
  return new Map((result as { rows: Array<{ activity_id: string; definition: Record<string, unknown> }> }).rows.map((r) => [byKey.get(r.activity_id) ?? r.activity_id, r.definition]));
}
