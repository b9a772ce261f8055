import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/app.js';
import { auditRows, createUser, expectProblem } from '../support/api.js';
import { client, startLrs, statement, voiding } from '../../conformance/xapi/support.js';
import { purgeQueuedDocumentBlobs } from '../../src/xapi/documents/service.js';

/** The LRS admin API: statement browser, counts, NDJSON export, learner erasure. */
let t: TestApp;
let storeId: string;
beforeAll(async () => {
  t = await startLrs();
  const stores = await (await t.login()).get('/api/v1/lrs/stores');
  storeId = (stores.body.data as Array<{ id: string; is_default: boolean }>).find((s) => s.is_default)!.id;
});
afterAll(async () => { await t?.close(); });

const xapi = () => client(t, '2.0.0');
async function post(body: unknown): Promise<string[]> {
  const res = await xapi().post('/xapi/statements').send(body as object);
  expect(res.status, res.text).toBe(200);
  return res.body as string[];
}

const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');

/** Posts one statement with text attachments as multipart/mixed (xAPI Part 3 §1.5.2); returns its id. */
async function postWithAttachments(body: Record<string, unknown>, contents: string[]): Promise<string> {
  const boundary = `b-${randomUUID()}`;
  const withMeta = { ...body, attachments: contents.map((c) => ({ usageType: 'http://example.com/usage/essay', display: { 'en-US': 'essay' }, contentType: 'text/plain', length: Buffer.byteLength(c), sha2: sha256(c) })) };
  const parts = [`Content-Type: application/json\r\n\r\n${JSON.stringify(withMeta)}`, ...contents.map((c) => `Content-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\nX-Experience-API-Hash: ${sha256(c)}\r\n\r\n${c}`)];
  const payload = `${parts.map((p) => `--${boundary}\r\n${p}\r\n`).join('')}--${boundary}--\r\n`;
  const res = await xapi().post('/xapi/statements').set('Content-Type', `multipart/mixed; boundary=${boundary}`).send(Buffer.from(payload));
  expect(res.status, res.text).toBe(200);
  return (res.body as string[])[0]!;
}

describe('LRS admin API', () => {
  it('browses statements newest first with filters and a cursor that survives new statements', async () => {
    const verb = `http://example.com/verbs/${randomUUID()}`;
    const ids = await post(Array.from({ length: 5 }, () => statement({ verb: { id: verb } })));
    const admin = await t.login();
    const first = await admin.get(`/api/v1/lrs/stores/${storeId}/statements`).query({ verb, limit: 2 });
    expect(first.status, first.text).toBe(200);
    expect(first.body.data.map((s: { id: string }) => s.id)).toEqual([ids[4], ids[3]]);
    await post(statement({ verb: { id: verb } }));
    const seen = first.body.data.map((s: { id: string }) => s.id);
    let cursor = first.body.next_cursor as string | null;
    while (cursor) {
      const page = await admin.get(`/api/v1/lrs/stores/${storeId}/statements`).query({ verb, limit: 2, cursor });
      seen.push(...page.body.data.map((s: { id: string }) => s.id));
      cursor = page.body.next_cursor;
    }
    expect(seen).toEqual([...ids].reverse());
    const bad = await admin.get(`/api/v1/lrs/stores/${storeId}/statements`).query({ cursor: 'nonsense' });
    expectProblem(bad, 400, 'invalid_cursor');
  });

  it('filters by agent and shows voided statements only when asked', async () => {
    const who = { mbox: `mailto:browse-${randomUUID()}@example.com` };
    const [kept, gone] = await post([statement({ actor: who }), statement({ actor: who })]);
    await post(voiding(gone!));
    const admin = await t.login();
    const agent = JSON.stringify(who);
    const active = await admin.get(`/api/v1/lrs/stores/${storeId}/statements`).query({ agent });
    expect(active.body.data.map((s: { id: string }) => s.id)).toEqual([kept]);
    const voided = await admin.get(`/api/v1/lrs/stores/${storeId}/statements`).query({ agent, voided: 'only' });
    expect(voided.body.data.map((s: { id: string; voided: boolean }) => [s.id, s.voided])).toEqual([[gone, true]]);
    const all = await admin.get(`/api/v1/lrs/stores/${storeId}/statements`).query({ agent, voided: 'include' });
    expect(all.body.data).toHaveLength(2);
    expectProblem(await admin.get(`/api/v1/lrs/stores/${storeId}/statements`).query({ agent: '{"name":"x"}' }), 400, 'bad_request');
  });

  it('counts statements per store and per verb', async () => {
    const admin = await t.login();
    const before = await admin.get(`/api/v1/lrs/stores/${storeId}/statements/counts`);
    const verb = `http://example.com/verbs/${randomUUID()}`;
    await post([statement({ verb: { id: verb } }), statement({ verb: { id: verb } })]);
    const after = await admin.get(`/api/v1/lrs/stores/${storeId}/statements/counts`);
    expect(after.status).toBe(200);
    expect(after.body.total).toBe(before.body.total + 2);
    expect(after.body.by_verb).toContainEqual({ verb, count: 2 });
  });

  it('exports every statement of the store as NDJSON, and audits the export', async () => {
    await post(statement());
    const admin = await t.login();
    const res = await admin.get(`/api/v1/lrs/stores/${storeId}/statements/export`).buffer(true);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/x-ndjson/);
    const lines = res.text.trim().split('\n').map((l) => JSON.parse(l) as { id: string });
    const count = await t.deps.db('xapi_statements').where({ store_id: storeId }).count<{ count: string }[]>('* as count');
    expect(lines).toHaveLength(Number(count[0]!.count));
    expect(new Set(lines.map((l) => l.id)).size).toBe(lines.length);
    expect((await auditRows(t, { action: 'lrs_store.export' })).length).toBeGreaterThan(0);
  });

  it('erases one learner\'s statements (as actor, object or group member), keeps others, and audits it without the identifier', async () => {
    const who = { objectType: 'Agent', name: 'Erase Me', mbox: `mailto:erase-${randomUUID()}@example.com` };
    const other = { mbox: `mailto:keep-${randomUUID()}@example.com` };
    const mine = await post([statement({ actor: who }), statement({ object: who }), statement({ actor: { objectType: 'Group', member: [who, other] } })]);
    const [mention] = await post(statement({ actor: other, context: { instructor: who } }));
    const [kept] = await post(statement({ actor: other }));
    const agentParam = encodeURIComponent(JSON.stringify({ mbox: who.mbox }));
    const statePath = `/xapi/activities/state?activityId=${encodeURIComponent('http://example.com/course')}&agent=${agentParam}&stateId=bookmark`;
    const profilePath = `/xapi/agents/profile?agent=${agentParam}&profileId=preferences`;
    expect((await xapi().put(statePath).set('Content-Type', 'application/json').send({ page: 3 })).status).toBe(204);
    expect((await xapi().put(profilePath).set('Content-Type', 'application/json').send({ theme: 'dark' })).status).toBe(204);
    const admin = await t.login();
    const res = await admin.post(`/api/v1/lrs/stores/${storeId}/erasures`).send({ agent: { mbox: who.mbox } });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ statements_deleted: 3, statements_still_mentioning: 1, documents_deleted: 2 });
    expect((await xapi().get(statePath)).status).toBe(404);
    expect((await xapi().get(profilePath)).status).toBe(404);
    for (const id of mine) {
      expect((await xapi().get(`/xapi/statements?statementId=${id}`)).status).toBe(404);
    }
    expect((await xapi().get(`/xapi/statements?statementId=${kept}`)).status).toBe(200);
    expect((await xapi().get(`/xapi/statements?statementId=${mention}`)).status).toBe(200);
    const direct = await xapi().get(`/xapi/statements?agent=${encodeURIComponent(JSON.stringify({ mbox: who.mbox }))}`);
    expect(direct.body.statements).toEqual([]);
    const person = await xapi().get(`/xapi/agents?agent=${encodeURIComponent(JSON.stringify({ mbox: who.mbox }))}`);
    expect(person.body.name).toBeUndefined();
    expect(await t.deps.db('xapi_statement_agents').where({ store_id: storeId, agent_key: `mbox:${who.mbox}` }).andWhere('direct', true)).toEqual([]);
    const [entry] = await auditRows(t, { action: 'lrs_agent.erase' });
    expect(entry).toBeDefined();
    expect(JSON.stringify(entry)).not.toContain(who.mbox);
  });

  it('erasure removes the attachments only erased statements declared, content included, and keeps shared ones', async () => {
    const who = { mbox: `mailto:erase-att-${randomUUID()}@example.com` };
    const other = { mbox: `mailto:keep-att-${randomUUID()}@example.com` };
    const privateEssay = `my essay ${randomUUID()}`;
    const shared = `course handout ${randomUUID()}`;
    const [, sharedByOther] = [await postWithAttachments(statement({ actor: who }), [privateEssay, shared]), await postWithAttachments(statement({ actor: other }), [shared])];
    const key = (content: string) => `xapi/${storeId}/attachments/${sha256(content)}`;
    expect(await t.deps.blobs.head(key(privateEssay))).toBeDefined();

    const admin = await t.login();
    const res = await admin.post(`/api/v1/lrs/stores/${storeId}/erasures`).send({ agent: who });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ statements_deleted: 1, attachments_deleted: 1 });
    await expect.poll(async () => t.deps.blobs.head(key(privateEssay))).toBeUndefined();
    expect(await t.deps.db('xapi_attachments').where({ store_id: storeId, sha2: sha256(privateEssay) })).toEqual([]);
    expect(await t.deps.db('xapi_document_blob_deletions').where({ blob_key: key(privateEssay) })).toEqual([]);
    // The other learner's statement still has the shared attachment, bytes and all.
    expect(await t.deps.blobs.head(key(shared))).toBeDefined();
    const back = await xapi().get(`/xapi/statements?statementId=${sharedByOther}&attachments=true`).buffer(true).parse((r, cb) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => cb(null, Buffer.concat(chunks)));
    });
    expect(back.status).toBe(200);
    expect((back.body as Buffer).toString()).toContain(shared);
    const [entry] = await auditRows(t, { action: 'lrs_agent.erase' });
    expect(entry).toMatchObject({ details: expect.objectContaining({ attachments_deleted: 1 }) });
  });

  it('a queued attachment blob that a statement declares again (posted during an erasure) is not deleted', async () => {
    const content = `posted again ${randomUUID()}`;
    await postWithAttachments(statement({ actor: { mbox: `mailto:again-${randomUUID()}@example.com` } }), [content]);
    const blobKey = `xapi/${storeId}/attachments/${sha256(content)}`;
    await t.deps.db('xapi_document_blob_deletions').insert({ blob_key: blobKey });
    await purgeQueuedDocumentBlobs(t.deps, { only: [blobKey] });
    expect(await t.deps.blobs.head(blobKey)).toBeDefined();
    expect(await t.deps.db('xapi_document_blob_deletions').where({ blob_key: blobKey })).toEqual([]);
  });

  it('a purge waits for a batch that is recording the same attachment, then keeps the blob', async () => {
    const content = `recorded meanwhile ${randomUUID()}`;
    await postWithAttachments(statement({ actor: { mbox: `mailto:race-${randomUUID()}@example.com` } }), [content]);
    const blobKey = `xapi/${storeId}/attachments/${sha256(content)}`;
    // As after an erasure: the row gone, the key queued; then a batch declaring the same content
    // has put the blob and is inserting the row when the purge runs.
    await t.deps.db('xapi_attachments').where({ store_id: storeId, sha2: sha256(content) }).del();
    await t.deps.db('xapi_document_blob_deletions').insert({ blob_key: blobKey });
    const batch = await t.deps.db.transaction();
    try {
      await batch('xapi_attachments').insert({ store_id: storeId, sha2: sha256(content), content_type: 'text/plain', length: Buffer.byteLength(content) });
      let purged = false;
      const purge = purgeQueuedDocumentBlobs(t.deps, { only: [blobKey] }).then((n) => { purged = true; return n; });
      await new Promise((r) => setTimeout(r, 300));
      expect(purged).toBe(false);
      expect(await t.deps.blobs.head(blobKey)).toBeDefined();
      await batch.commit();
      expect(await purge).toBe(1);
    } finally {
      if (!batch.isCompleted()) await batch.rollback();
    }
    expect(await t.deps.blobs.head(blobKey)).toBeDefined();
    expect(await t.deps.db('xapi_document_blob_deletions').where({ blob_key: blobKey })).toEqual([]);
    expect(await t.deps.db('xapi_attachments').where({ store_id: storeId, sha2: sha256(content) }).first('length')).toEqual({ length: String(Buffer.byteLength(content)) });
  });

  it('a batch whose attachment content a purge deleted before the batch recorded it writes the content again', async () => {
    const content = `purged in between ${randomUUID()}`;
    const blobKey = `xapi/${storeId}/attachments/${sha256(content)}`;
    // Queued by an earlier erasure of a statement with the same content; the purge runs between
    // the batch's blob put and its insert (where a concurrent purge can strike).
    await t.deps.db('xapi_document_blob_deletions').insert({ blob_key: blobKey });
    const blobs = t.deps.blobs;
    const put = blobs.put.bind(blobs);
    let purgedInBetween = 0;
    blobs.put = async (key, body, options) => {
      const written = await put(key, body, options);
      if (key === blobKey && purgedInBetween === 0) purgedInBetween = await purgeQueuedDocumentBlobs(t.deps, { only: [blobKey] });
      return written;
    };
    try {
      const id = await postWithAttachments(statement({ actor: { mbox: `mailto:race-${randomUUID()}@example.com` } }), [content]);
      expect(purgedInBetween).toBe(1);
      expect(await blobs.head(blobKey)).toBeDefined();
      const back = await xapi().get(`/xapi/statements?statementId=${id}&attachments=true`).buffer(true).parse((r, cb) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => cb(null, Buffer.concat(chunks)));
      });
      expect((back.body as Buffer).toString()).toContain(content);
    } finally {
      blobs.put = put;
    }
  });

  it('deleting a store removes its statements, relation rows, activities and identities (and only its own)', async () => {
    const admin = await t.login();
    const store = await admin.post('/api/v1/lrs/stores').send({ name: `Doomed ${randomUUID()}` });
    const cred = await admin.post(`/api/v1/lrs/stores/${store.body.id}/credentials`).send({ name: 'w', scopes: ['all'] });
    const doomed = client(t, '2.0.0', { key: cred.body.key, secret: cred.body.secret });
    expect((await doomed.post('/xapi/statements').send([statement(), statement()])).status).toBe(200);
    const [survivor] = await post(statement());
    const tables = ['xapi_statements', 'xapi_statement_agents', 'xapi_statement_activities', 'xapi_activities', 'xapi_agents'];
    for (const table of tables) expect((await t.deps.db(table).where({ store_id: store.body.id })).length, table).toBeGreaterThan(0);
    expect((await admin.delete(`/api/v1/lrs/stores/${store.body.id}`)).status).toBe(204);
    for (const table of tables) expect(await t.deps.db(table).where({ store_id: store.body.id }), table).toEqual([]);
    expect((await xapi().get(`/xapi/statements?statementId=${survivor}`)).status).toBe(200);
  });

  it('is for admins only and 404s another tenant\'s or an unknown store', async () => {
    const admin = await t.login();
    const learner = await createUser(admin, 'learner');
    const agent = await t.login(learner.email, learner.password);
    expectProblem(await agent.get(`/api/v1/lrs/stores/${storeId}/statements`), 403, 'forbidden');
    expectProblem(await agent.post(`/api/v1/lrs/stores/${storeId}/erasures`).send({ agent: { mbox: 'mailto:a@example.com' } }), 403, 'forbidden');
    expectProblem(await admin.get(`/api/v1/lrs/stores/${randomUUID()}/statements/counts`), 404, 'not_found');
    expectProblem(await admin.post(`/api/v1/lrs/stores/${storeId}/erasures`).send({ agent: { name: 'no ifi' } }), 400, 'validation_failed');
  });
});
