import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../../../test/support/app.js';
import { client, createOnly, documentBody, documentResources, paths, startLrs, stateParams, versions, type Version } from './support.js';

/**
 * Concurrency: xAPI 1.0.3 Part 3 §3.1 and xAPI 2.0 §4.1.4 (ADL suite 4.1.4-Concurrency), for
 * all three document resources and both versions. The differences: 1.0.3 lets State PUT
 * replace without a precondition; 2.0 (as the ADL 2.0 suite tests it) applies the 409 rule to
 * State too.
 */
let t: TestApp;
beforeAll(async () => { t = await startLrs(); });
afterAll(async () => { await t?.close(); });

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');
const section = (v: Version, s103: string) => (v === '1.0.3' ? `xAPI 1.0.3 Part 3 §${s103}` : 'xAPI 2.0 §4.1.4');

describe.each(versions)('Concurrency, X-Experience-API-Version %s', (v) => {
  const lrs = () => client(t, v);

  for (const r of documentResources) {
    describe(r.name, () => {
      it(`GET returns a strong, quoted ETag: the lower-case hex SHA-1 of the stored bytes (${section(v, '3.1.s4.b1, b2, b4')})`, async () => {
        const params = r.params();
        const body = JSON.stringify(documentBody());
        await lrs().post(r.path, params, body, { 'Content-Type': 'application/json' }).expect(204);
        const get = await lrs().get(r.path, params);
        expect(get.headers['etag']).toBe(`"${sha1(body)}"`);
      });

      it(`PUT with a matching If-Match replaces the document; a stale one gets 412 and changes nothing (${section(v, '3.1.s4.b5, b9, b10')})`, async () => {
        const params = r.params();
        const original = documentBody();
        await lrs().post(r.path, params, original).expect(204);
        const etag = (await lrs().get(r.path, params)).headers['etag']!;
        const stale = await lrs().put(r.path, params, documentBody(), { 'If-Match': '"1111111111111111111111111111111111111111"' });
        expect(stale.status).toBe(412);
        expect(stale.body.detail).toMatch(/If-Match/);
        const unquoted = await lrs().put(r.path, params, documentBody(), { 'If-Match': '1234' });
        expect(unquoted.status).toBe(412);
        expect((await lrs().get(r.path, params)).body).toEqual(original);
        const updated = { ...original, name: 'Updated' };
        const ok = await lrs().put(r.path, params, updated, { 'If-Match': etag });
        expect(ok.status).toBe(204);
        expect(ok.headers['etag']).toBe(`"${sha1(JSON.stringify(updated))}"`);
        expect((await lrs().get(r.path, params)).body).toEqual(updated);
        // The ETag the client held is stale now.
        await lrs().put(r.path, params, original, { 'If-Match': etag }).expect(412);
      });

      it(`If-Match accepts a list of tags and *, never a weak tag, and fails when there is no document (${section(v, '3.1.s4.b5')})`, async () => {
        const params = r.params();
        await lrs().put(r.path, params, { v: 1 }, { 'If-Match': '*' }).expect(412);
        await lrs().post(r.path, params, { v: 1 }).expect(204);
        const etag = (await lrs().get(r.path, params)).headers['etag']!;
        await lrs().put(r.path, params, { v: 2 }, { 'If-Match': `W/${etag}` }).expect(412);
        await lrs().put(r.path, params, { v: 2 }, { 'If-Match': `"0000", ${etag}` }).expect(204);
        await lrs().put(r.path, params, { v: 3 }, { 'If-Match': '*' }).expect(204);
        expect((await lrs().get(r.path, params)).body).toEqual({ v: 3 });
      });

      it(`PUT with If-None-Match: * creates a document and gets 412 once one exists (${section(v, '3.1.s4.b6, b9, b10')})`, async () => {
        const params = r.params();
        const first = documentBody();
        await lrs().put(r.path, params, first, createOnly).expect(204);
        const again = await lrs().put(r.path, params, documentBody(), createOnly);
        expect(again.status).toBe(412);
        expect((await lrs().get(r.path, params)).body).toEqual(first);
      });

      it(`POST honours If-Match and If-None-Match: * (412 on mismatch, merge on match) (${section(v, '3.1.s4.b7, b8, b11, b12')})`, async () => {
        const params = r.params();
        const original = documentBody();
        await lrs().post(r.path, params, original).expect(204);
        const etag = (await lrs().get(r.path, params)).headers['etag']!;
        await lrs().post(r.path, params, { extra: 1 }, { 'If-Match': '"1234"' }).expect(412);
        await lrs().post(r.path, params, { extra: 1 }, createOnly).expect(412);
        expect((await lrs().get(r.path, params)).body).toEqual(original);
        const updated = { ...original, name: 'Updated name' };
        await lrs().post(r.path, params, updated, { 'If-Match': etag }).expect(204);
        expect((await lrs().get(r.path, params)).body).toEqual(updated);
      });

      it(`DELETE honours If-Match: a stale ETag gets 412 and keeps the document; the current one deletes it (${section(v, '3.1.s4.b7, b11, b12')})`, async () => {
        const params = r.params();
        const original = documentBody();
        await lrs().post(r.path, params, original).expect(204);
        const etag = (await lrs().get(r.path, params)).headers['etag']!;
        await lrs().delete(r.path, params, { 'If-Match': '"1234"' }).expect(412);
        expect((await lrs().get(r.path, params)).body).toEqual(original);
        await lrs().delete(r.path, params, { 'If-Match': etag }).expect(204);
        await lrs().get(r.path, params).expect(404);
        // Without a document, If-Match cannot hold; without a header, DELETE is idempotent.
        await lrs().delete(r.path, params, { 'If-Match': etag }).expect(412);
        await lrs().delete(r.path, params).expect(204);
      });

      const strict = r.name !== 'State' || v === '2.0.0';
      it(`PUT without If-Match or If-None-Match over an existing document ${strict ? 'is 409 with an explanation and changes nothing' : 'replaces it: State is exempt in 1.0.3'} (${section(v, r.name === 'State' ? '3.1.s3' : '3.1.s4.b13-b15')})`, async () => {
        const params = r.params();
        const original = documentBody();
        await lrs().put(r.path, params, original, createOnly).expect(204);
        const replacement = documentBody();
        const res = await lrs().put(r.path, params, replacement);
        if (!strict) {
          expect(res.status).toBe(204);
          expect((await lrs().get(r.path, params)).body).toEqual(replacement);
          return;
        }
        expect(res.status).toBe(409);
        expect(res.body.detail).toMatch(/If-Match/);
        expect(res.body.detail).toMatch(/current state|GET/);
        expect((await lrs().get(r.path, params)).body).toEqual(original);
        // POST (a merge) still needs no header.
        await lrs().post(r.path, params, { merged: true }).expect(204);
      });

      const mustCarryHeader = v === '1.0.3' && r.name !== 'State';
      it(`PUT without If-Match or If-None-Match that would create a document ${mustCarryHeader ? 'is 400: a client MUST send one for profiles' : 'creates it'} (${section(v, mustCarryHeader ? '3.1.s3.b1' : '3.1.s3')})`, async () => {
        const params = r.params();
        const doc = documentBody();
        const res = await lrs().put(r.path, params, doc);
        if (mustCarryHeader) {
          expect(res.status).toBe(400);
          expect(res.body.detail).toMatch(/If-None-Match/);
          await lrs().get(r.path, params).expect(404);
          return;
        }
        expect(res.status).toBe(204);
        expect((await lrs().get(r.path, params)).body).toEqual(doc);
      });
    });
  }

  it(`a conditional GET with the current ETag gets 304 without the body; a stale one gets the document (${section(v, '3.1')})`, async () => {
    const params = stateParams();
    await lrs().put(paths.state, params, { cached: true }).expect(204);
    const etag = (await lrs().get(paths.state, params)).headers['etag']!;
    const cached = await lrs().get(paths.state, params, { 'If-None-Match': etag });
    expect(cached.status).toBe(304);
    expect(cached.text ?? '').toBe('');
    const fresh = await lrs().get(paths.state, params, { 'If-None-Match': '"0000"' });
    expect(fresh.status).toBe(200);
    expect(fresh.body).toEqual({ cached: true });
  });

  it(`concurrent writers holding the same ETag: exactly one succeeds, the others get 412, no update is lost (${section(v, '3.1.s1')})`, async () => {
    const params = stateParams();
    await lrs().put(paths.state, params, { counter: 0 }).expect(204);
    const etag = (await lrs().get(paths.state, params)).headers['etag']!;
    const attempts = await Promise.all(Array.from({ length: 8 }, (_, i) => lrs().put(paths.state, params, { counter: 1, writer: i }, { 'If-Match': etag })));
    const statuses = attempts.map((a) => a.status).sort();
    expect(statuses).toEqual([204, 412, 412, 412, 412, 412, 412, 412]);
    const winner = attempts.findIndex((a) => a.status === 204);
    expect((await lrs().get(paths.state, params)).body).toEqual({ counter: 1, writer: winner });
  });

  it(`concurrent If-None-Match: * creators: exactly one document is created (${section(v, '3.1.s4.b6')})`, async () => {
    const params = stateParams();
    const attempts = await Promise.all(Array.from({ length: 6 }, (_, i) => lrs().put(paths.state, params, { creator: i }, createOnly)));
    expect(attempts.filter((a) => a.status === 204)).toHaveLength(1);
    expect(attempts.filter((a) => a.status === 412)).toHaveLength(5);
    expect(await t.deps.db('xapi_documents').where({ document_id: params['stateId'] }).count({ n: '*' }).first()).toEqual({ n: '1' });
  });

  it(`concurrent POST merges of different keys all land (no lost update between read and write) (${section(v, '2.2.s7')})`, async () => {
    const params = stateParams();
    await lrs().post(paths.state, params, { start: true }).expect(204);
    await Promise.all(Array.from({ length: 10 }, (_, i) => lrs().post(paths.state, params, { [`k${i}`]: i }).expect(204)));
    const merged = (await lrs().get(paths.state, params)).body as Record<string, unknown>;
    expect(Object.keys(merged).sort()).toEqual(['start', ...Array.from({ length: 10 }, (_, i) => `k${i}`)].sort());
  });
});
