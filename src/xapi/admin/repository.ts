import type { Queryable } from '../../db/index.js';
import { indexKey, statementRelations } from '../statements/relations.js';
import type { Statement } from '../validation/statement.js';
import { queueBlobDeletions } from '../documents/repository.js';
import { attachmentKey } from '../statements/attachment-keys.js';

/** Statement counts of a store, overall and per verb (admin dashboard). */
export async function statementCounts(db: Queryable, storeId: string): Promise<{ total: number; voided: number; byVerb: Array<{ verb: string; count: number }> }> {
  const totals = await db.raw('select count(*)::int as total, count(*) filter (where voided)::int as voided from xapi_statements where store_id = ?', [storeId]);
  const verbs = await db.raw('select verb_id as verb, count(*)::int as count from xapi_statements where store_id = ? and not voided group by verb_id order by count desc, verb_id limit 1000', [storeId]);
  const row = (totals as { rows: Array<{ total: number; voided: number }> }).rows[0]!;
  return { total: row.total, voided: row.voided, byVerb: (verbs as { rows: Array<{ verb: string; count: number }> }).rows };
}

/** One chunk of a store's statements in storage order, after a seq (export). */
export async function statementChunk(db: Queryable, storeId: string, afterSeq: string, size: number): Promise<Array<{ seq: string; statement: string }>> {
  const result = await db.raw(
    'select s.seq::text as seq, s.statement::text as statement from xapi_statements s where s.store_id = ? and s.seq > ?::bigint order by s.seq limit ?',
    [storeId, afterSeq, size],
  );
  return (result as { rows: Array<{ seq: string; statement: string }> }).rows;
}

/**
 * Erases the statements in which an agent is the actor or the object (directly, or as a
 * member of the Group there), with their relation rows, and the identity records of the
 * agent. Returns how many statements were deleted and how many others still mention the
 * agent in another role (instructor, team, context agents, authority, SubStatement).
 */
export async function eraseAgentStatements(db: Queryable, storeId: string, agentKey: string): Promise<{ deleted: number; stillMentioned: number; attachmentBlobKeys: string[] }> {
  const deleted = await db.raw(
    `delete from xapi_statements s using (
       select distinct seq from xapi_statement_agents where store_id = ? and agent_key = ? and direct
     ) d
     where s.store_id = ? and s.seq = d.seq
     returning s.seq::text, s.stored, s.statement`,
    [storeId, indexKey(agentKey), storeId],
  );
  const rows = (deleted as { rows: Array<{ seq: string; stored: Date; statement: Statement }> }).rows;
  // Relation rows are found through the (store, key, stored, seq) indexes, never by a scan.
  const agentRows: Array<{ k: string; s: string }> = [];
  const activityRows: Array<{ k: string; s: string }> = [];
  for (const row of rows) {
    const relations = statementRelations(row.statement);
    for (const key of relations.agents.keys()) agentRows.push({ k: indexKey(key), s: row.seq });
    for (const id of relations.activities.keys()) activityRows.push({ k: indexKey(id), s: row.seq });
  }
  if (agentRows.length > 0) {
    await db.raw(
      `delete from xapi_statement_agents a using json_to_recordset(?::json) as r(k text, s bigint)
       where a.store_id = ? and a.agent_key = r.k and a.seq = r.s`,
      [JSON.stringify(agentRows), storeId],
    );
  }
  if (activityRows.length > 0) {
    await db.raw(
      `delete from xapi_statement_activities a using json_to_recordset(?::json) as r(k text, s bigint)
       where a.store_id = ? and a.activity_id = r.k and a.seq = r.s`,
      [JSON.stringify(activityRows), storeId],
    );
  }
  await db.raw('delete from xapi_agents where store_id = ? and agent_key = ?', [storeId, agentKey]);
  const attachmentKeys = await forgetUnreferencedAttachments(db, storeId, rows.flatMap((row) => attachmentHashes(row.statement)));
  const remaining = await db.raw('select count(distinct seq)::int as n from xapi_statement_agents where store_id = ? and agent_key = ?', [storeId, indexKey(agentKey)]);
  return { deleted: rows.length, stillMentioned: (remaining as { rows: Array<{ n: number }> }).rows[0]!.n, attachmentBlobKeys: attachmentKeys };
}

/** The sha2 of every attachment a statement (or its SubStatement) declares, lower case. */
function attachmentHashes(statement: Statement): string[] {
  const lists = [statement['attachments'], (statement['object'] as Record<string, unknown> | undefined)?.['attachments']];
  return lists.flatMap((list) => (Array.isArray(list) ? list : []))
    .map((a) => (a as { sha2?: unknown }).sha2)
    .filter((sha2): sha2 is string => typeof sha2 === 'string')
    .map((sha2) => sha2.toLowerCase());
}

/**
 * Attachments are stored once per store by content hash and shared by every statement that
 * declares them; after an erasure, the ones no remaining statement declares are personal data
 * with no owner. Their rows go in this transaction and their blobs are queued for deletion
 * (`xapi_document_blob_deletions`; purged after the commit, which keeps a blob a client has
 * declared again meanwhile: reserveAttachmentForDeletion in documents/repository.ts). Finding
 * the remaining references scans the store's statements that carry attachments — an erasure
 * is rare, and no index is kept for it.
 */
async function forgetUnreferencedAttachments(db: Queryable, storeId: string, hashes: readonly string[]): Promise<string[]> {
  const candidates = [...new Set(hashes)];
  if (candidates.length === 0) return [];
  const result = await db.raw(
    `delete from xapi_attachments a
     where a.store_id = ? and a.sha2 = any(?::text[])
       and not exists (
         select 1 from xapi_statements s
         cross join lateral (
           select e from json_array_elements(case when json_typeof(s.statement->'attachments') = 'array' then s.statement->'attachments' else '[]'::json end) e
           union all
           select e from json_array_elements(case when json_typeof(s.statement->'object'->'attachments') = 'array' then s.statement->'object'->'attachments' else '[]'::json end) e
         ) x
         -- The text test skips parsing statements that cannot mention the hash.
         where s.store_id = a.store_id and strpos(lower(s.statement::text), a.sha2) > 0 and lower(x.e->>'sha2') = a.sha2
       )
     returning a.sha2`,
    [storeId, candidates],
  );
  const keys = (result as { rows: Array<{ sha2: string }> }).rows.map((r) => attachmentKey(storeId, r.sha2));
  await queueBlobDeletions(db, keys);
  return keys;
}
