import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../../../test/support/app.js';
import { client, createOnly, documentBody, documentResources, startLrs, versions, type Version } from './support.js';

/**
 * JSON Procedure with Requirements: xAPI 1.0.3 Part 3 §2.2.s7–s8; 2.0 §4.1.6.2/.5/.6
 * (XAPI-00229, -00232, -00234, -00278, -00279, -00281), all three resources, both versions.
 */
let t: TestApp;
beforeAll(async () => { t = await startLrs(); });
afterAll(async () => { await t?.close(); });

const section = (v: Version, s: string) => (v === '1.0.3' ? `xAPI 1.0.3 Part 3 §${s}` : 'xAPI 2.0 §4.1.6.2/.5/.6');

describe.each(versions)('Document merge, X-Experience-API-Version %s', (v) => {
  const lrs = () => client(t, v);

  for (const r of documentResources) {
    describe(r.name, () => {
      it(`POST of a JSON object onto a JSON document adds new top-level keys and keeps the others (${section(v, '2.2.s7.b1-b3, s8.b2')})`, async () => {
        const params = r.params();
        await lrs().post(r.path, params, { car: 'Honda' }).expect(204);
        await lrs().post(r.path, params, { type: 'Civic' }).expect(204);
        expect((await lrs().get(r.path, params)).body).toEqual({ car: 'Honda', type: 'Civic' });
      });

      it(`a merge overwrites duplicate keys one level deep: nested objects are replaced whole (${section(v, '2.2.s7')})`, async () => {
        const params = r.params();
        await lrs().post(r.path, params, { car: { make: 'Ford', model: 'Escape', year: 2001 }, driver: 'Dale', keep: [1, 2] }).expect(204);
        await lrs().post(r.path, params, { car: { make: 'Dodge', model: 'Ram' }, driver: 'Jeff' }).expect(204);
        const get = await lrs().get(r.path, params);
        expect(get.body).toEqual({ car: { make: 'Dodge', model: 'Ram' }, driver: 'Jeff', keep: [1, 2] });
        expect(get.headers['content-type']).toMatch(/^application\/json/);
      });

      it(`POST of a non-JSON body onto a JSON document is 400 and leaves it unchanged (${section(v, '2.2.s8.b1')})`, async () => {
        const params = r.params();
        const original = documentBody();
        await lrs().post(r.path, params, original).expect(204);
        for (const [body, type] of [['abcdefg', 'application/octet-stream'], ['abcdefg', 'not/json'], ['abc', 'application/x-www-form-urlencoded'], ['{"a":1}', 'text/plain']] as const) {
          const res = await lrs().post(r.path, params, body, { 'Content-Type': type });
          expect(res.status, type).toBe(400);
        }
        expect((await lrs().get(r.path, params)).body).toEqual(original);
      });

      it(`POST of a JSON body onto a non-JSON document is 400 and leaves it unchanged (${section(v, '2.2.s8.b1')})`, async () => {
        const params = r.params();
        const bytes = '/ asdf / undefined';
        await lrs().put(r.path, params, bytes, { 'Content-Type': 'application/octet-stream', ...createOnly }).expect(204);
        const res = await lrs().post(r.path, params, documentBody());
        expect(res.status).toBe(400);
        expect(res.body.detail).toMatch(/application\/json/);
        const get = await lrs().get(r.path, params).buffer(true);
        expect(get.headers['content-type']).toBe('application/octet-stream');
        expect(Buffer.from(get.body as Buffer).toString('utf8')).toBe(bytes);
      });

      it(`POST with Content-Type application/json that is not a JSON object (malformed, an array, a number) is 400 and changes nothing (${section(v, '2.2.s8.b1')})`, async () => {
        const params = r.params();
        const original = documentBody();
        await lrs().post(r.path, params, original).expect(204);
        for (const body of [`${JSON.stringify(documentBody())}{`, '[1,2]', '42', '"text"', 'null']) {
          const res = await lrs().post(r.path, params, body, { 'Content-Type': 'application/json' });
          expect(res.status, body).toBe(400);
        }
        expect((await lrs().get(r.path, params)).body).toEqual(original);
      });

      it(`POST with Content-Type application/json that is not a JSON object is 400 even when no document exists yet, and stores nothing (${section(v, '2.2.s8.b1')}, ADL XAPI-00314)`, async () => {
        for (const body of [`${JSON.stringify(documentBody())}[`, '[1,2]', '7']) {
          const params = r.params();
          const res = await lrs().post(r.path, params, body, { 'Content-Type': 'application/json' });
          expect(res.status, body).toBe(400);
          await lrs().get(r.path, params).expect(404);
        }
      });

      it(`POST onto a stored application/json document that is not a JSON object is 400 (${section(v, '2.2.s8.b1')})`, async () => {
        const params = r.params();
        await lrs().put(r.path, params, '[1,2,3]', { 'Content-Type': 'application/json', ...createOnly }).expect(204);
        const res = await lrs().post(r.path, params, { a: 1 });
        expect(res.status).toBe(400);
        expect((await lrs().get(r.path, params)).body).toEqual([1, 2, 3]);
      });
    });
  }

  it(`Content-Type parameters and case do not stop a merge (application/json; charset=utf-8, Application/JSON) (${section(v, '2.2.s7')})`, async () => {
    const r = documentResources[0];
    const params = r.params();
    await lrs().post(r.path, params, JSON.stringify({ a: 1 }), { 'Content-Type': 'application/json; charset=utf-8' }).expect(204);
    await lrs().post(r.path, params, JSON.stringify({ b: 2 }), { 'Content-Type': 'Application/JSON' }).expect(204);
    expect((await lrs().get(r.path, params)).body).toEqual({ a: 1, b: 2 });
  });

  it(`merging reads and writes UTF-8: non-ASCII text survives, a body that is not UTF-8 is 400 (${v === '1.0.3' ? 'xAPI 1.0.3 Part 3 §1.4, §2.2.s8.b1' : 'xAPI 2.0 §4.1.6.2'})`, async () => {
    const r = documentResources[0];
    const params = r.params();
    await lrs().post(r.path, params, { name: 'Zoë' }).expect(204);
    await lrs().post(r.path, params, Buffer.from('{"city":"Zürich ✓ 東京"}', 'utf8'), { 'Content-Type': 'application/json' }).expect(204);
    expect((await lrs().get(r.path, params)).body).toEqual({ name: 'Zoë', city: 'Zürich ✓ 東京' });
    const latin1 = await lrs().post(r.path, params, Buffer.from('{"city":"Zürich"}', 'latin1'), { 'Content-Type': 'application/json' });
    expect(latin1.status).toBe(400);
    expect((await lrs().get(r.path, params)).body).toEqual({ name: 'Zoë', city: 'Zürich ✓ 東京' });
  });

  it(`a posted "__proto__" key is merged as data and cannot change the merged object's prototype (${section(v, '2.2.s7.b2')})`, async () => {
    const r = documentResources[0];
    const params = r.params();
    await lrs().post(r.path, params, { a: 1 }).expect(204);
    await lrs().post(r.path, params, '{"__proto__": {"polluted": true}, "b": 2}', { 'Content-Type': 'application/json' }).expect(204);
    const get = await lrs().get(r.path, params);
    expect(JSON.parse(get.text)).toEqual(JSON.parse('{"a": 1, "__proto__": {"polluted": true}, "b": 2}'));
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it(`the merged document's ETag is the SHA-1 of the merged bytes the LRS serves (${section(v, '2.2.s7.b3, §3.1.s4.b2')})`, async () => {
    const { createHash } = await import('node:crypto');
    const r = documentResources[2];
    const params = r.params();
    await lrs().post(r.path, params, { x: 'foo', y: 'bar' }).expect(204);
    const post = await lrs().post(r.path, params, { x: 'bash', z: 'faz' });
    const get = await lrs().get(r.path, params);
    expect(get.body).toEqual({ x: 'bash', y: 'bar', z: 'faz' });
    const served = `"${createHash('sha1').update(get.text).digest('hex')}"`;
    expect(get.headers['etag']).toBe(served);
    expect(post.headers['etag']).toBe(served);
  });
});
