import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../../../test/support/app.js';
import { activityProfileParams, agentOf, agentProfileParams, client, createOnly, documentBody, paths, startLrs, versions, type Query, type Version } from './support.js';

/**
 * Agent Profile Resource (xAPI 1.0.3 Part 3 §2.6; 2.0 §4.1.6.5) and Activity Profile Resource
 * (1.0.3 Part 3 §2.7; 2.0 §4.1.6.6), both versions.
 */
let t: TestApp;
beforeAll(async () => { t = await startLrs(); });
afterAll(async () => { await t?.close(); });

const profileResources = [
  { name: 'Activity Profile', path: paths.activityProfile, s103: '2.7', s20: '4.1.6.6', params: activityProfileParams, key: 'activityId' as const },
  { name: 'Agent Profile', path: paths.agentProfile, s103: '2.6', s20: '4.1.6.5', params: agentProfileParams, key: 'agent' as const },
];

describe.each(versions)('Profile resources, X-Experience-API-Version %s', (v: Version) => {
  const lrs = () => client(t, v);
  for (const r of profileResources) {
    const section = (sub: string) => (v === '1.0.3' ? `xAPI 1.0.3 Part 3 §${r.s103}${sub}` : `xAPI 2.0 §${r.s20}`);

    describe(r.name, () => {
      it(`PUT with If-None-Match: * stores (204) and GET returns it with ETag and Last-Modified (${section('.s3')})`, async () => {
        const params = r.params();
        const doc = documentBody();
        await lrs().put(r.path, params, doc, createOnly).expect(204);
        const get = await lrs().get(r.path, params);
        expect(get.status).toBe(200);
        expect(get.body).toEqual(doc);
        expect(get.headers['etag']).toMatch(/^"[0-9a-f]{40}"$/);
        expect(Date.parse(get.headers['last-modified'] ?? '')).not.toBeNaN();
      });

      it(`POST to a profile that does not exist stores it (${section('.s3, §2.2.s7')})`, async () => {
        const params = r.params();
        const doc = documentBody();
        await lrs().post(r.path, params, doc).expect(204);
        expect((await lrs().get(r.path, params)).body).toEqual(doc);
      });

      it(`POST cannot be refused for the document's contents: a JSON object, a number or a word all store (${section('.s3, §2.2.s4.b2')})`, async () => {
        for (const body of [{}, '1', 'true']) {
          const params = r.params();
          await lrs().post(r.path, params, body, typeof body === 'string' ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}).expect(204);
          const get = await lrs().get(r.path, params).buffer(true);
          expect(get.status).toBe(200);
          expect(typeof body === 'string' ? get.text : get.body).toEqual(body);
        }
      });

      it(`GET of a missing profile is 404; DELETE removes one (204) and DELETE of a missing one is 204 (${section('.s3, §3.2.s2.b4')})`, async () => {
        const params = r.params();
        await lrs().get(r.path, params).expect(404);
        await lrs().post(r.path, params, documentBody()).expect(204);
        await lrs().delete(r.path, params).expect(204);
        await lrs().get(r.path, params).expect(404);
        await lrs().delete(r.path, params).expect(204);
      });

      it(`requests without ${r.key} are rejected with 400 for every method (${section('.s3.table1.row1')})`, async () => {
        const params = r.params({ [r.key]: undefined });
        expect((await lrs().get(r.path, params)).status).toBe(400);
        expect((await lrs().put(r.path, params, documentBody(), createOnly)).status).toBe(400);
        expect((await lrs().post(r.path, params, documentBody())).status).toBe(400);
        expect((await lrs().delete(r.path, params)).status).toBe(400);
      });

      it(`an invalid ${r.key} is rejected with 400 (${section('.s3.table1.row1')})`, async () => {
        const bad: Query = r.key === 'agent' ? { agent: 'true' } : { activityId: 'no scheme here' };
        const params = r.params(bad);
        expect((await lrs().get(r.path, params)).status).toBe(400);
        expect((await lrs().put(r.path, params, documentBody(), createOnly)).status).toBe(400);
        expect((await lrs().post(r.path, params, documentBody())).status).toBe(400);
        expect((await lrs().delete(r.path, params)).status).toBe(400);
      });

      it(`PUT, POST and DELETE without profileId are rejected with 400 (${section('.s3.table1.row2')})`, async () => {
        const params = r.params({ profileId: undefined });
        expect((await lrs().put(r.path, params, documentBody(), createOnly)).status).toBe(400);
        expect((await lrs().post(r.path, params, documentBody())).status).toBe(400);
        const del = await lrs().delete(r.path, params);
        expect(del.status).toBe(400);
        expect(del.body.detail).toContain('profileId');
      });

      it(`GET without profileId lists the profile ids (${section('.s4')})`, async () => {
        const base = r.params();
        const ids = [randomUUID(), randomUUID()];
        for (const profileId of ids) await lrs().post(r.path, { ...base, profileId }, documentBody()).expect(204);
        // A profile of another activity/agent stays out.
        await lrs().post(r.path, r.params(), documentBody()).expect(204);
        const list = await lrs().get(r.path, { ...base, profileId: undefined });
        expect(list.status).toBe(200);
        expect([...(list.body as string[])].sort()).toEqual([...ids].sort());
        expect(Date.parse(list.headers['last-modified'] ?? '')).not.toBeNaN();
      });

      it(`since limits the list to profiles updated after it and must be a timestamp (${section('.s4.table1.row2')})`, async () => {
        const base = r.params();
        await lrs().post(r.path, { ...base, profileId: 'old' }, documentBody()).expect(204);
        t.clock.advance(1500);
        const between = t.clock.now().toISOString();
        t.clock.advance(1500);
        await lrs().post(r.path, { ...base, profileId: 'new' }, documentBody()).expect(204);
        expect((await lrs().get(r.path, { ...base, profileId: undefined, since: between })).body).toEqual(['new']);
        expect((await lrs().get(r.path, { ...base, profileId: undefined, since: 'true' })).status).toBe(400);
      });

      it(`profiles are scoped to their ${r.key === 'agent' ? 'agent' : 'activity'}: the same profileId elsewhere is another document (${section('.s3')})`, async () => {
        const a = r.params();
        const b = r.key === 'agent' ? { ...a, agent: JSON.stringify(agentOf()) } : { ...a, activityId: `${a['activityId']}/b` };
        await lrs().put(r.path, a, { which: 'a' }, createOnly).expect(204);
        await lrs().put(r.path, b, { which: 'b' }, createOnly).expect(204);
        expect((await lrs().get(r.path, a)).body).toEqual({ which: 'a' });
        expect((await lrs().get(r.path, b)).body).toEqual({ which: 'b' });
      });
    });
  }

  it(`the Agent Profile agent must be an Agent in 1.0.3, and may be an Identified Group in 2.0 (${v === '1.0.3' ? 'xAPI 1.0.3 Part 3 §2.6 note' : 'xAPI 2.0 §4.1.6.5'})`, async () => {
    const params = agentProfileParams({ agent: JSON.stringify({ objectType: 'Group', openid: `http://example.com/groups/${randomUUID()}` }) });
    const res = await lrs().put(paths.agentProfile, params, { g: 1 }, createOnly);
    expect(res.status).toBe(v === '1.0.3' ? 400 : 204);
  });
});
