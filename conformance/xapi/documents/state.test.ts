import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../../../test/support/app.js';
import { agentOf, client, createOnly, documentBody, paths, startLrs, stateParams, versions, type Version } from './support.js';

/**
 * State Resource: xAPI 1.0.3 Part 3 §2.3 (with §2.2) and xAPI 2.0 §4.1.6.2, both versions
 * against one running Cairn.
 */
let t: TestApp;
beforeAll(async () => { t = await startLrs(); });
afterAll(async () => { await t?.close(); });

const section = (v: Version, s103: string, s20: string) => (v === '1.0.3' ? `xAPI 1.0.3 Part 3 §${s103}` : `xAPI 2.0 §${s20}`);
const sha1 = (bytes: Buffer | string) => createHash('sha1').update(bytes).digest('hex');

describe.each(versions)('State Resource, X-Experience-API-Version %s', (v) => {
  const lrs = () => client(t, v);

  it(`PUT stores a document (204) and GET returns its exact bytes, Content-Type, quoted SHA-1 ETag and Last-Modified (${section(v, '2.3.s3, §3.1.s4.b1-b4, §2.2.s6', '4.1.6.2')})`, async () => {
    const params = stateParams();
    const body = '{"b": 2,   "a": [1, 2]}';
    const put = await lrs().put(paths.state, params, body, { 'Content-Type': 'application/json; charset=utf-8' });
    expect(put.status).toBe(204);
    const get = await lrs().get(paths.state, params).buffer(true).parse((res, cb) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => cb(null, Buffer.concat(chunks)));
    });
    expect(get.status).toBe(200);
    expect((get.body as Buffer).toString('utf8')).toBe(body);
    expect(get.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(get.headers['etag']).toBe(`"${sha1(body)}"`);
    expect(Date.parse(get.headers['last-modified'] ?? '')).not.toBeNaN();
    expect(get.headers['x-experience-api-version']).toBe(v);
  });

  it(`POST to a document that does not exist stores it as PUT would (${section(v, '2.2.s7', '4.1.6.2')})`, async () => {
    const params = stateParams();
    const doc = documentBody();
    expect((await lrs().post(paths.state, params, doc)).status).toBe(204);
    const get = await lrs().get(paths.state, params);
    expect(get.status).toBe(200);
    expect(get.body).toEqual(doc);
  });

  it(`PUT replaces an existing document (${section(v, '2.3.s3', '4.1.6.2')})`, async () => {
    const params = stateParams();
    await lrs().put(paths.state, params, { first: true }, createOnly).expect(204);
    const etag = (await lrs().get(paths.state, params)).headers['etag']!;
    await lrs().put(paths.state, params, { second: true }, { 'If-Match': etag }).expect(204);
    expect((await lrs().get(paths.state, params)).body).toEqual({ second: true });
  });

  it(`GET of a document that does not exist is 404 (${section(v, '3.2.s2.b4', '4.1.6.2')})`, async () => {
    const res = await lrs().get(paths.state, stateParams());
    expect(res.status).toBe(404);
  });

  it(`DELETE with stateId removes one document (204) and DELETE of a missing one is also 204 (${section(v, '2.3.s3', '4.1.6.2')})`, async () => {
    const params = stateParams();
    await lrs().put(paths.state, params, documentBody()).expect(204);
    await lrs().delete(paths.state, params).expect(204);
    await lrs().get(paths.state, params).expect(404);
    await lrs().delete(paths.state, params).expect(204);
  });

  it(`a registration makes a separate document, matched case-insensitively (${section(v, '2.3.s3.table1.row3', '4.1.6.2')})`, async () => {
    const registration = randomUUID();
    const params = stateParams({ registration });
    await lrs().put(paths.state, params, { with: registration }).expect(204);
    expect((await lrs().get(paths.state, params)).body).toEqual({ with: registration });
    expect((await lrs().get(paths.state, { ...params, registration: registration.toUpperCase() })).body).toEqual({ with: registration });
    await lrs().get(paths.state, { ...params, registration: undefined }).expect(404);
    await lrs().get(paths.state, { ...params, registration: randomUUID() }).expect(404);
  });

  it(`the same agent written with a differently-cased mbox domain addresses the same document (${section(v, '2.3.s3.table1.row2', '4.1.6.2')})`, async () => {
    const user = randomUUID();
    const params = stateParams({ agent: JSON.stringify({ mbox: `mailto:${user}@Example.COM` }) });
    await lrs().put(paths.state, params, { hello: 1 }).expect(204);
    const res = await lrs().get(paths.state, { ...params, agent: JSON.stringify({ objectType: 'Agent', mbox: `mailto:${user}@example.com` }) });
    expect(res.body).toEqual({ hello: 1 });
  });

  describe(`missing required parameters are rejected with 400 (${section(v, '2.3.s3.table1', '4.1.6.2')})`, () => {
    for (const method of ['get', 'put', 'post', 'delete'] as const) {
      for (const missing of ['activityId', 'agent'] as const) {
        it(`${method.toUpperCase()} without ${missing}`, async () => {
          const params = stateParams({ [missing]: undefined });
          const res = method === 'put' || method === 'post' ? await lrs()[method](paths.state, params, documentBody()) : await lrs()[method](paths.state, params);
          expect(res.status).toBe(400);
          expect(res.body.detail).toContain(missing);
        });
      }
    }
    for (const method of ['put', 'post'] as const) {
      it(`${method.toUpperCase()} without stateId`, async () => {
        const res = await lrs()[method](paths.state, stateParams({ stateId: undefined }), documentBody());
        expect(res.status).toBe(400);
        expect(res.body.detail).toContain('stateId');
      });
    }
  });

  describe(`malformed parameters are rejected with 400 and nothing is stored (${section(v, '2.3.s3.table1, §3.2.s2.b1', '4.1.6.2')})`, () => {
    const cases: Array<[string, Record<string, string>]> = [
      ['activityId that is not an IRI', { activityId: 'not an iri' }],
      ['activityId that is a number', { activityId: '1' }],
      ['activityId that is a JSON object', { activityId: '{"key":"value"}' }],
      ['agent that is not JSON', { agent: 'not JSON' }],
      ['agent that is a JSON number', { agent: '1' }],
      ['agent that is JSON true', { agent: 'true' }],
      ['agent with a broken JSON encoding', { agent: '{"objectType""Agent","account":{"homePage":"http://www.example.com/agentId/1","name":"Rick James"}}' }],
      ['agent with two identifiers', { agent: JSON.stringify({ mbox: 'mailto:a@example.com', openid: 'http://example.com/a' }) }],
      ['agent with no identifier', { agent: JSON.stringify({ objectType: 'Agent', name: 'Nobody' }) }],
      ['registration that is not a UUID', { registration: 'not UUID' }],
      ['registration that is JSON true', { registration: 'true' }],
    ];
    for (const [label, override] of cases) {
      it(`PUT/POST/GET/DELETE with ${label}`, async () => {
        const params = stateParams(override);
        expect((await lrs().put(paths.state, params, documentBody())).status).toBe(400);
        expect((await lrs().post(paths.state, params, documentBody())).status).toBe(400);
        expect((await lrs().get(paths.state, params)).status).toBe(400);
        expect((await lrs().delete(paths.state, params)).status).toBe(400);
        expect(await t.deps.db('xapi_documents').where({ document_id: params['stateId'] }).count({ n: '*' }).first()).toEqual({ n: '0' });
      });
    }
  });

  it(`an agent parameter that is a Group is ${v === '1.0.3' ? 'rejected: 1.0.3 wants an Agent' : 'accepted when identified, addressing the same documents as an Agent with that IFI'} (${section(v, '2.3.s3.table1.row2, §2.6 note', '4.1.6.2')})`, async () => {
    const mbox = `mailto:${randomUUID()}@groups.example.com`;
    const params = stateParams({ agent: JSON.stringify({ objectType: 'Group', name: 'Team', mbox }) });
    const put = await lrs().put(paths.state, params, { team: true });
    if (v === '1.0.3') {
      expect(put.status).toBe(400);
      return;
    }
    expect(put.status).toBe(204);
    const asAgent = await lrs().get(paths.state, { ...params, agent: JSON.stringify({ mbox }) });
    expect(asAgent.body).toEqual({ team: true });
    const anonymous = await lrs().get(paths.state, { ...params, agent: JSON.stringify({ objectType: 'Group', member: [{ mbox }] }) });
    expect(anonymous.status).toBe(400);
  });

  it(`GET without stateId returns the array of ids for the activity and agent (${section(v, '2.3.s4', '4.1.6.2')})`, async () => {
    const base = stateParams();
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    for (const stateId of ids) await lrs().put(paths.state, { ...base, stateId }, documentBody()).expect(204);
    // Another agent's and another activity's states stay out of the list.
    await lrs().put(paths.state, { ...base, agent: JSON.stringify(agentOf()) }, documentBody()).expect(204);
    await lrs().put(paths.state, { ...base, activityId: `${base['activityId']}/other` }, documentBody()).expect(204);
    const list = await lrs().get(paths.state, { ...base, stateId: undefined });
    expect(list.status).toBe(200);
    expect(list.headers['content-type']).toMatch(/^application\/json/);
    expect([...(list.body as string[])].sort()).toEqual([...ids].sort());
    expect(Date.parse(list.headers['last-modified'] ?? '')).not.toBeNaN();
    const empty = await lrs().get(paths.state, { ...stateParams(), stateId: undefined });
    expect(empty.body).toEqual([]);
  });

  it(`since limits the ids to documents stored or updated after it, exclusive (${section(v, '2.3.s4.table1.row4', '4.1.6.2')})`, async () => {
    const base = stateParams();
    const early = randomUUID();
    const late = randomUUID();
    await lrs().put(paths.state, { ...base, stateId: early }, documentBody()).expect(204);
    t.clock.advance(2000);
    const between = t.clock.now();
    t.clock.advance(2000);
    await lrs().put(paths.state, { ...base, stateId: late }, documentBody()).expect(204);
    const list = await lrs().get(paths.state, { ...base, stateId: undefined, since: between.toISOString() });
    expect(list.body).toEqual([late]);
    const row = await t.deps.db('xapi_documents').where({ document_id: late }).first();
    const exact = await lrs().get(paths.state, { ...base, stateId: undefined, since: (row.updated_at as Date).toISOString() });
    expect(exact.body).toEqual([]);
    // Updating the early document brings it back into the window.
    t.clock.advance(2000);
    await lrs().post(paths.state, { ...base, stateId: early }, { more: 1 }).expect(204);
    const after = await lrs().get(paths.state, { ...base, stateId: undefined, since: between.toISOString() });
    expect([...(after.body as string[])].sort()).toEqual([early, late].sort());
  });

  it(`since must be a timestamp and only applies to the id list (${section(v, '2.3.s4.table1.row4, §3.2.s3.b7', '4.1.6.2')})`, async () => {
    const base = stateParams();
    expect((await lrs().get(paths.state, { ...base, stateId: undefined, since: 'not a timestamp' })).status).toBe(400);
    expect((await lrs().get(paths.state, { ...base, stateId: undefined, since: '2024-01-01T00:00:00' })).status).toBe(400);
    expect((await lrs().get(paths.state, { ...base, since: new Date().toISOString() })).status).toBe(400);
    expect((await lrs().put(paths.state, { ...base, since: new Date().toISOString() }, documentBody())).status).toBe(400);
  });

  it(`the id list with a registration holds that registration's states; without one, every registration's (${section(v, '2.3.s4.table1.row3', '4.1.6.2')})`, async () => {
    const base = stateParams();
    const r1 = randomUUID();
    const r2 = randomUUID();
    await lrs().put(paths.state, { ...base, stateId: 'a', registration: r1 }, documentBody()).expect(204);
    await lrs().put(paths.state, { ...base, stateId: 'b', registration: r2 }, documentBody()).expect(204);
    await lrs().put(paths.state, { ...base, stateId: 'c' }, documentBody()).expect(204);
    expect((await lrs().get(paths.state, { ...base, stateId: undefined, registration: r1 })).body).toEqual(['a']);
    expect((await lrs().get(paths.state, { ...base, stateId: undefined, registration: r2 })).body).toEqual(['b']);
    expect((await lrs().get(paths.state, { ...base, stateId: undefined })).body).toEqual(['a', 'b', 'c']);
  });

  it(`DELETE without stateId deletes the states of the activity and agent (and registration, when given) and nothing else (${section(v, '2.3.s5', '4.1.6.2')})`, async () => {
    const base = stateParams();
    const r1 = randomUUID();
    const other = { ...base, agent: JSON.stringify(agentOf()) };
    await lrs().put(paths.state, { ...base, stateId: 'a', registration: r1 }, documentBody()).expect(204);
    await lrs().put(paths.state, { ...base, stateId: 'b' }, documentBody()).expect(204);
    await lrs().put(paths.state, { ...base, stateId: 'c' }, documentBody()).expect(204);
    await lrs().put(paths.state, other, documentBody()).expect(204);

    await lrs().delete(paths.state, { ...base, stateId: undefined, registration: r1 }).expect(204);
    expect((await lrs().get(paths.state, { ...base, stateId: undefined })).body).toEqual(['b', 'c']);
    await lrs().delete(paths.state, { ...base, stateId: undefined }).expect(204);
    expect((await lrs().get(paths.state, { ...base, stateId: undefined })).body).toEqual([]);
    await lrs().get(paths.state, other).expect(200);
  });
});
