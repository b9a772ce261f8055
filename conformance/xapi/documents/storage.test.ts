import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../../../test/support/app.js';
import { agentHash, identityHash, scopeHash } from '../../../src/xapi/documents/repository.js';
import { client, paths, startLrs, stateParams } from './support.js';

/**
 * The document table serves every request the resources allow through an index, with many
 * documents in many stores: single documents (xAPI 1.0.3 Part 3 §2.3.s3), id lists with `since`
 * (§2.3.s4, §2.6.s4, §2.7.s4), delete-all (§2.3.s5) and erasure by agent. The plans are read
 * from PostgreSQL after ANALYZE on 30,000 rows.
 */
let t: TestApp;
let storeId: string;
beforeAll(async () => {
  t = await startLrs();
  const params = stateParams();
  await client(t, '1.0.3').put(paths.state, params, { seed: true }).expect(204);
  storeId = (await t.deps.db('xapi_documents').where({ document_id: params['stateId'] }).first()).store_id as string;
  // 30,000 documents: 3,000 scopes (activity + agent) of 10 states each, spread over a year.
  await t.deps.db.raw(`
    insert into xapi_documents (store_id, kind, activity_id, agent_key, agent, registration, document_id,
      identity_hash, scope_hash, agent_hash, content_type, content, size, etag, created_at, updated_at)
    select ?::uuid, 'state', 'http://example.com/a/' || (g / 10), 'mbox:mailto:u' || (g / 10) || '@example.com', null, null, 's' || (g % 10),
      decode(md5('i' || g) || md5('j' || g), 'hex'), decode(md5('s' || (g / 10)) || md5('t' || (g / 10)), 'hex'),
      decode(md5('a' || (g / 10)) || md5('b' || (g / 10)), 'hex'),
      'application/json', convert_to('{}', 'UTF8'), 2, md5('e' || g), now(), now() - (g % 365) * interval '1 day'
    from generate_series(1, 30000) g`, [storeId]);
  await t.deps.db.raw('analyze xapi_documents');
});
afterAll(async () => { await t?.close(); });

async function plan(sql: string, bindings: unknown[]): Promise<string> {
  const result = await t.deps.db.raw(`explain ${sql}`, bindings as never[]);
  const text = (result.rows as Array<{ 'QUERY PLAN': string }>).map((r) => r['QUERY PLAN']).join('\n');
  if (process.env['PRINT_PLANS']) console.log(text);
  return text;
}

describe('Document storage plans', () => {
  it('a single document is found through the unique identity index (xAPI 1.0.3 Part 3 §2.3.s3)', async () => {
    const hash = identityHash({ kind: 'state', activityId: 'http://example.com/a/1', agentKey: 'mbox:mailto:u1@example.com', registration: null, documentId: 's1' });
    const p = await plan('select * from xapi_documents where store_id = ? and identity_hash = ?', [storeId, hash]);
    expect(p).toMatch(/Index Scan using xapi_documents_identity_unique/);
  });

  it('an id list with since uses the scope index, not a scan of the table (xAPI 1.0.3 Part 3 §2.3.s4; 2.0 §4.1.6.2)', async () => {
    const hash = scopeHash({ kind: 'state', activityId: 'http://example.com/a/1', agentKey: 'mbox:mailto:u1@example.com' });
    const p = await plan('select document_id, updated_at from xapi_documents where store_id = ? and scope_hash = ? and updated_at > ? order by document_id', [storeId, hash, new Date(Date.now() - 30 * 86_400_000)]);
    expect(p).toMatch(/Index (Only )?Scan using xapi_documents_scope_index/);
    expect(p).not.toMatch(/Seq Scan/);
  });

  it('erasing one agent\'s documents uses the agent index (GDPR erasure of State and Agent Profile documents, xAPI 1.0.3 Part 3 §2.3, §2.6)', async () => {
    const p = await plan('delete from xapi_documents where store_id = ? and agent_hash = ? and agent_key = ?', [storeId, agentHash('mbox:mailto:u1@example.com'), 'mbox:mailto:u1@example.com']);
    expect(p).toMatch(/Index Scan using xapi_documents_agent_index/);
  });

  it('the HTTP list answers the same ids the table holds for that scope among 30,000 rows (xAPI 1.0.3 Part 3 §2.3.s4)', async () => {
    const activityId = `http://example.com/a/${randomUUID()}`;
    const agent = JSON.stringify({ mbox: `mailto:${randomUUID()}@example.com` });
    for (const stateId of ['x', 'y']) await client(t, '2.0.0').put(paths.state, { activityId, agent, stateId }, { v: stateId }).expect(204);
    expect((await client(t, '2.0.0').get(paths.state, { activityId, agent })).body).toEqual(['x', 'y']);
  });
});
