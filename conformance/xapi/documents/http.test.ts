import { createHash, randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../../../test/support/app.js';
import { ifiKey, validateAgent } from '../../../src/xapi/validation/agent.js';
import { deleteAgentDocuments } from '../../../src/xapi/documents/repository.js';
import { inlineContentLimitBytes, purgeQueuedDocumentBlobs } from '../../../src/xapi/documents/service.js';
import { activityProfileParams, agentOf, agentProfileParams, client, createCredential, createOnly, documentBody, documentResources, paths, seededKey, seededSecret, startLrs, stateParams, versions } from './support.js';

/**
 * Cross-cutting HTTP rules as they apply to the document resources: HEAD (xAPI 1.0.3 Part 3
 * §1.1), parameters (§3.2.s3.b7/b8), scopes (§4.2), store isolation, content types and binary
 * bodies (§1.5, §2.2.s2), size limits (§3.2.s3.b11), the alternate request syntax (§1.3),
 * CORS, and GDPR erasure of an agent's documents.
 */
let t: TestApp;
beforeAll(async () => { t = await startLrs(); });
afterAll(async () => { await t?.close(); });

const sha1 = (b: Buffer | string) => createHash('sha1').update(b).digest('hex');
/** Collects a response body as raw bytes, whatever its Content-Type. */
function binaryParser(res: request.Response, cb: (err: Error | null, body: Buffer) => void): void {
  const stream = res as unknown as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => cb(null, Buffer.concat(chunks)));
}

describe.each(versions)('Document resources over HTTP, X-Experience-API-Version %s', (v) => {
  const lrs = () => client(t, v);
  const section = (s: string, s20 = '4.1.6') => (v === '1.0.3' ? `xAPI 1.0.3 Part 3 §${s}` : `xAPI 2.0 §${s20}`);

  for (const r of documentResources) {
    it(`${r.name}: HEAD answers like GET with the same headers and no body, for a document and for the id list (${section('1.1', '4.1.2')})`, async () => {
      const params = r.params();
      const doc = documentBody();
      await lrs().put(r.path, params, doc, createOnly).expect(204);
      const get = await lrs().get(r.path, params);
      const head = await lrs().head(r.path, params);
      expect(head.status).toBe(200);
      expect(head.text ?? '').toBe('');
      for (const h of ['etag', 'last-modified', 'content-type', 'content-length', 'x-experience-api-version']) expect(head.headers[h], h).toBe(get.headers[h]);
      const list = await lrs().head(r.path, { ...params, [r.idParameter]: undefined });
      expect(list.status).toBe(200);
      expect(list.headers['content-type']).toMatch(/^application\/json/);
      expect((await lrs().head(r.path, r.params())).status).toBe(404);
    });

    it(`${r.name}: unknown parameters, parameters differing only in case and repeated parameters are rejected with 400; cachebuster is accepted on GET (${section('3.2.s3.b7, b8', '4.1.6')})`, async () => {
      const params = r.params();
      const unknown = await lrs().get(r.path, { ...params, foo: 'bar' });
      expect(unknown.status).toBe(400);
      expect(unknown.body.detail).toContain('foo');
      const caseOnly = { ...params, [r.idParameter]: undefined, [r.idParameter.toUpperCase()]: params[r.idParameter] };
      const res = await lrs().put(r.path, caseOnly, documentBody(), createOnly);
      expect(res.status).toBe(400);
      expect(res.body.detail).toMatch(/case-sensitive/);
      const twice = await request(t.app).get(`/xapi${r.path}?${new URLSearchParams({ ...(params as Record<string, string>) }).toString()}&${r.idParameter}=again`)
        .set('X-Experience-API-Version', v).set('Authorization', `Basic ${Buffer.from(`${seededKey}:${seededSecret}`).toString('base64')}`);
      expect(twice.status).toBe(400);
      // Cairn's own recognized parameter: @xapi/xapi's cache buster, on reads only.
      await lrs().put(r.path, params, documentBody(), createOnly).expect(204);
      expect((await lrs().get(r.path, { ...params, cachebuster: String(Date.now()) })).status).toBe(200);
      expect((await lrs().put(r.path, { ...params, cachebuster: '1' }, documentBody(), { 'If-Match': '*' })).status).toBe(400);
    });
  }

  it(`requests without valid credentials get 401 and no document is touched (${section('4.0', '4.1.5')})`, async () => {
    const params = stateParams();
    const none = await request(t.app).put(`/xapi${paths.state}?${new URLSearchParams(params as Record<string, string>).toString()}`)
      .set('X-Experience-API-Version', v).set('Content-Type', 'application/json').send('{"a":1}');
    expect(none.status).toBe(401);
    const wrong = await client(t, v, seededKey, 'not-the-secret').put(paths.state, params, { a: 1 });
    expect(wrong.status).toBe(401);
    await lrs().get(paths.state, params).expect(404);
  });

  it(`binary documents of any content type round-trip byte for byte with their Content-Type (${section('1.5, §2.2.s2')})`, async () => {
    const bytes = randomBytes(4096);
    bytes[0] = 0xff; // never valid UTF-8, so any text decoding on the way would show
    const params = stateParams();
    await lrs().put(paths.state, params, bytes, { 'Content-Type': 'image/png' }).expect(204);
    const get = await lrs().get(paths.state, params).buffer(true).parse(binaryParser);
    expect(get.headers['content-type']).toBe('image/png');
    expect(Buffer.compare(get.body as Buffer, bytes)).toBe(0);
    expect(get.headers['etag']).toBe(`"${sha1(bytes)}"`);
  });

  it(`a document sent without Content-Type is stored as application/octet-stream, and an empty body is a valid document (${section('2.2.s2')})`, async () => {
    const params = activityProfileParams();
    const res = await request(t.app).put(`/xapi${paths.activityProfile}?${new URLSearchParams(params as Record<string, string>).toString()}`)
      .set('X-Experience-API-Version', v).set('Authorization', `Basic ${Buffer.from(`${seededKey}:${seededSecret}`).toString('base64')}`).set('If-None-Match', '*');
    expect(res.status).toBe(204);
    const get = await lrs().get(paths.activityProfile, params).buffer(true).parse(binaryParser);
    expect(get.headers['content-type']).toBe('application/octet-stream');
    expect(get.headers['content-length']).toBe('0');
    expect(get.headers['etag']).toBe(`"${sha1('')}"`);
  });

  it(`documents larger than ${inlineContentLimitBytes} bytes live in the blob store, round-trip exactly, merge, and leave no blob behind when replaced or deleted (${section('2.2.s2')})`, async () => {
    const big = randomBytes(inlineContentLimitBytes + 1000);
    const params = agentProfileParams();
    await lrs().put(paths.agentProfile, params, big, { 'Content-Type': 'application/x-big', ...createOnly }).expect(204);
    const row = await t.deps.db('xapi_documents').where({ document_id: params['profileId'] }).first();
    expect(row.content).toBeNull();
    expect(row.blob_key).toMatch(/^xapi-documents\//);
    expect(await t.deps.blobs.head(row.blob_key)).toBeDefined();
    const get = await lrs().get(paths.agentProfile, params).buffer(true).parse(binaryParser);
    expect(get.headers['content-length']).toBe(String(big.length));
    expect(Buffer.compare(get.body as Buffer, big)).toBe(0);

    // Replace with a large JSON object, then merge into it: the stored bytes come from the blob.
    const bigJson = { filler: 'x'.repeat(inlineContentLimitBytes), keep: true };
    await lrs().put(paths.agentProfile, params, bigJson, { 'If-Match': get.headers['etag']! }).expect(204);
    expect(await t.deps.blobs.head(row.blob_key)).toBeUndefined();
    await lrs().post(paths.agentProfile, params, { added: 1 }).expect(204);
    expect((await lrs().get(paths.agentProfile, params)).body).toEqual({ ...bigJson, added: 1 });

    // Shrinking below the limit moves the content back into the row.
    await lrs().put(paths.agentProfile, params, { small: true }, { 'If-Match': '*' }).expect(204);
    const small = await t.deps.db('xapi_documents').where({ document_id: params['profileId'] }).first();
    expect(small.blob_key).toBeNull();
    const blobs: string[] = [];
    for await (const entry of t.deps.blobs.list(`xapi-documents/${small.store_id}/`)) blobs.push(entry.key);
    expect(blobs).toEqual([]);
    expect(await t.deps.db('xapi_document_blob_deletions').count({ n: '*' }).first()).toEqual({ n: '0' });
  });

  it(`a failed precondition on a large document uploads nothing (${section('3.1.s4.b10')})`, async () => {
    const params = stateParams();
    await lrs().put(paths.state, params, { small: 1 }).expect(204);
    const storeId = (await t.deps.db('xapi_documents').where({ document_id: params['stateId'] }).first()).store_id as string;
    const before: string[] = [];
    for await (const e of t.deps.blobs.list(`xapi-documents/${storeId}/`)) before.push(e.key);
    await lrs().put(paths.state, params, randomBytes(inlineContentLimitBytes * 2), { 'If-Match': '"stale"' }).expect(412);
    const after: string[] = [];
    for await (const e of t.deps.blobs.list(`xapi-documents/${storeId}/`)) after.push(e.key);
    expect(after).toEqual(before);
  });

  it(`scopes: state needs "state", profiles need "profile"; "all/read" reads but cannot write; "all" does everything (${section('4.2', '4.1.5')})`, async () => {
    const state = await createCredential(t, ['state']);
    const profile = await createCredential(t, ['profile'], state.storeId);
    const reader = await createCredential(t, ['all/read'], state.storeId);
    const statements = await createCredential(t, ['statements/write', 'statements/read'], state.storeId);
    const as = (c: { key: string; secret: string }) => client(t, v, c.key, c.secret);

    const sParams = stateParams();
    const pParams = activityProfileParams();
    await as(state).put(paths.state, sParams, { s: 1 }).expect(204);
    expect((await as(state).put(paths.activityProfile, pParams, { p: 1 }, createOnly)).status).toBe(403);
    await as(profile).put(paths.activityProfile, pParams, { p: 1 }, createOnly).expect(204);
    expect((await as(profile).get(paths.state, sParams)).status).toBe(403);
    expect((await as(reader).get(paths.state, sParams)).body).toEqual({ s: 1 });
    expect((await as(reader).get(paths.activityProfile, pParams)).body).toEqual({ p: 1 });
    expect((await as(reader).post(paths.state, sParams, { s: 2 })).status).toBe(403);
    expect((await as(reader).delete(paths.activityProfile, pParams)).status).toBe(403);
    for (const r of documentResources) expect((await as(statements).get(r.path, r.params())).status).toBe(403);
  });

  it(`documents of one store are invisible to another store's credentials (${section('2.2')})`, async () => {
    const other = await createCredential(t, ['all']);
    const params = stateParams();
    await lrs().put(paths.state, params, { mine: true }).expect(204);
    const foreign = client(t, v, other.key, other.secret);
    expect((await foreign.get(paths.state, params)).status).toBe(404);
    expect((await foreign.get(paths.state, { ...params, stateId: undefined })).body).toEqual([]);
    await foreign.put(paths.state, params, { theirs: true }).expect(204);
    await foreign.delete(paths.state, { ...params, stateId: undefined }).expect(204);
    expect((await lrs().get(paths.state, params)).body).toEqual({ mine: true });
  });

  it(`unsupported methods answer 405 with Allow, and CORS exposes ETag and Last-Modified to browser clients (${section('1.1')})`, async () => {
    const res = await request(t.app).patch(`/xapi${paths.state}`).set('X-Experience-API-Version', v)
      .set('Authorization', `Basic ${Buffer.from(`${seededKey}:${seededSecret}`).toString('base64')}`);
    expect(res.status).toBe(405);
    expect(res.headers['allow']).toContain('PUT');
    const preflight = await request(t.app).options(`/xapi${paths.state}`).set('Origin', 'https://content.example').set('Access-Control-Request-Method', 'PUT');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-headers']).toMatch(/If-Match/);
    const get = await lrs().get(paths.state, stateParams()).set('Origin', 'https://content.example');
    expect(get.headers['access-control-expose-headers']).toMatch(/ETag/);
    expect(get.headers['access-control-expose-headers']).toMatch(/Last-Modified/);
  });
});

describe('Alternate request syntax for documents (xAPI 1.0.3 Part 3 §1.3)', () => {
  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
  const auth = `Basic ${Buffer.from(`${seededKey}:${seededSecret}`).toString('base64')}`;

  it('PUT, GET and DELETE a State document through POST ?method= with the headers and content in the form (xAPI 1.0.3 Part 3 §1.3)', async () => {
    const params = stateParams() as Record<string, string>;
    const put = await request(t.app).post(`/xapi${paths.state}?method=PUT`).type('form')
      .send(form({ ...params, Authorization: auth, 'X-Experience-API-Version': '1.0.3', 'Content-Type': 'application/json', content: '{"via":"form"}' }));
    expect(put.status).toBe(204);
    const get = await request(t.app).post(`/xapi${paths.state}?method=GET`).type('form')
      .send(form({ ...params, Authorization: auth, 'X-Experience-API-Version': '1.0.3' }));
    expect(get.status).toBe(200);
    expect(get.body).toEqual({ via: 'form' });
    const etag = get.headers['etag']!;
    const stale = await request(t.app).post(`/xapi${paths.state}?method=DELETE`).type('form')
      .send(form({ ...params, Authorization: auth, 'X-Experience-API-Version': '1.0.3', 'If-Match': '"0000"' }));
    expect(stale.status).toBe(412);
    const del = await request(t.app).post(`/xapi${paths.state}?method=DELETE`).type('form')
      .send(form({ ...params, Authorization: auth, 'X-Experience-API-Version': '1.0.3', 'If-Match': etag }));
    expect(del.status).toBe(204);
    await client(t, '1.0.3').get(paths.state, params).expect(404);
  });

  it('xAPI 2.0 removed the alternate syntax: a 2.0 document request through ?method= is rejected with 400 and stores nothing (xAPI 2.0 §4.1.3)', async () => {
    const params = stateParams() as Record<string, string>;
    const res = await request(t.app).post(`/xapi${paths.state}?method=PUT`).type('form')
      .send(form({ ...params, Authorization: auth, 'X-Experience-API-Version': '2.0.0', 'Content-Type': 'application/json', content: '{}' }));
    expect(res.status).toBe(400);
    await client(t, '2.0.0').get(paths.state, params).expect(404);
  });

  it('a document request with ?method= and its parameters in the query string is rejected with 400 (xAPI 1.0.3 Part 3 §1.3)', async () => {
    const params = stateParams() as Record<string, string>;
    const res = await request(t.app).post(`/xapi${paths.state}?method=PUT&stateId=${params['stateId']}`).type('form')
      .send(form({ activityId: params['activityId']!, agent: params['agent']!, Authorization: auth, 'X-Experience-API-Version': '1.0.3', content: '{}' }));
    expect(res.status).toBe(400);
  });
});

describe('Request size limit (xAPI 1.0.3 Part 3 §3.2.s3.b11)', () => {
  let small: TestApp;
  beforeAll(async () => { small = await startLrs({ CAIRN_XAPI_BODY_LIMIT: '64kb' }); });
  afterAll(async () => { await small?.close(); });

  it('a document body over CAIRN_XAPI_BODY_LIMIT is rejected with 413 and nothing is stored, for both versions (xAPI 1.0.3 Part 3 §3.2.s3.b11; 2.0 §4.1.5)', async () => {
    for (const v of versions) {
      for (const r of documentResources) {
        const params = r.params();
        const res = await client(small, v).put(r.path, params, randomBytes(64 * 1024 + 1), createOnly);
        expect(res.status, `${v} ${r.name}`).toBe(413);
        expect(res.body.detail).toMatch(/limit/);
        await client(small, v).get(r.path, params).expect(404);
        await client(small, v).put(r.path, params, randomBytes(64 * 1024), createOnly).expect(204);
      }
    }
  });
});

describe('GDPR erasure of one agent\'s documents (deleteAgentDocuments)', () => {
  it('deletes the agent\'s State and Agent Profile documents in one store only, including blob-held content, and leaves others (xAPI 1.0.3 Part 3 §2.3, §2.6)', async () => {
    const lrs = client(t, '2.0.0');
    const agent = agentOf();
    const other = agentOf();
    const agentJson = JSON.stringify(agent);
    const elsewhere = await createCredential(t, ['all']);
    const foreign = client(t, '2.0.0', elsewhere.key, elsewhere.secret);

    const s1 = stateParams({ agent: agentJson });
    const s2 = stateParams({ agent: agentJson, registration: randomUUID() });
    const p1 = agentProfileParams({ agent: agentJson });
    await lrs.put(paths.state, s1, { a: 1 }).expect(204);
    await lrs.put(paths.state, s2, randomBytes(inlineContentLimitBytes + 10), { 'Content-Type': 'application/octet-stream' }).expect(204);
    await lrs.put(paths.agentProfile, p1, { p: 1 }, createOnly).expect(204);
    const keep = stateParams({ agent: JSON.stringify(other) });
    await lrs.put(paths.state, keep, { other: true }).expect(204);
    await foreign.put(paths.state, s1, { foreign: true }).expect(204);
    const blobKey = (await t.deps.db('xapi_documents').where({ document_id: s2['stateId'] }).first()).blob_key as string;
    const storeId = (await t.deps.db('xapi_documents').where({ document_id: s1['stateId'] }).first()).store_id as string;

    const deleted = await t.deps.db.transaction((tx) => deleteAgentDocuments(tx, storeId, ifiKey(validateAgent(agent))!));
    expect(deleted).toBe(3);
    expect(await purgeQueuedDocumentBlobs(t.deps)).toBe(1);
    expect(await t.deps.blobs.head(blobKey)).toBeUndefined();
    await lrs.get(paths.state, s1).expect(404);
    await lrs.get(paths.state, s2).expect(404);
    await lrs.get(paths.agentProfile, p1).expect(404);
    await lrs.get(paths.state, keep).expect(200);
    expect((await foreign.get(paths.state, s1)).body).toEqual({ foreign: true });
  });

  it('blob bytes an erasure left queued are removed by the next document change that frees a blob (xAPI 1.0.3 Part 3 §2.3)', async () => {
    const lrs = client(t, '2.0.0');
    const agent = agentOf();
    const erased = stateParams({ agent: JSON.stringify(agent) });
    await lrs.put(paths.state, erased, randomBytes(inlineContentLimitBytes + 10), { 'Content-Type': 'application/octet-stream' }).expect(204);
    const row = await t.deps.db('xapi_documents').where({ document_id: erased['stateId'] }).first();
    await t.deps.db.transaction((tx) => deleteAgentDocuments(tx, row.store_id, ifiKey(validateAgent(agent))!));
    expect(await t.deps.blobs.head(row.blob_key)).toBeDefined();

    const other = stateParams();
    await lrs.put(paths.state, other, randomBytes(inlineContentLimitBytes + 10), { 'Content-Type': 'application/octet-stream' }).expect(204);
    await lrs.delete(paths.state, other).expect(204);
    expect(await t.deps.blobs.head(row.blob_key)).toBeUndefined();
    expect(await t.deps.db('xapi_document_blob_deletions').count({ n: '*' }).first()).toEqual({ n: '0' });
  });

  it('a rolled-back erasure keeps the documents and their blobs (xAPI 1.0.3 Part 3 §2.3)', async () => {
    const lrs = client(t, '1.0.3');
    const agent = agentOf();
    const params = stateParams({ agent: JSON.stringify(agent) });
    await lrs.put(paths.state, params, randomBytes(inlineContentLimitBytes + 10), { 'Content-Type': 'application/octet-stream' }).expect(204);
    const row = await t.deps.db('xapi_documents').where({ document_id: params['stateId'] }).first();
    await expect(t.deps.db.transaction(async (tx) => {
      await deleteAgentDocuments(tx, row.store_id, ifiKey(validateAgent(agent))!);
      throw new Error('erasure aborted');
    })).rejects.toThrow('erasure aborted');
    await purgeQueuedDocumentBlobs(t.deps);
    expect(await t.deps.blobs.head(row.blob_key)).toBeDefined();
    await lrs.get(paths.state, params).expect(200);
  });
});
