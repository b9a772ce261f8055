import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { createCourse, createUser, expectProblem, type Agent } from '../support/api.js';

let t: TestApp;
let admin: Agent;
beforeAll(async () => {
  t = await startTestApp();
  admin = await t.login();
});
afterAll(async () => { await t?.close(); });

/** Follows next_cursor to the end and returns every page. */
async function allPages<T>(agent: Agent, path: string): Promise<T[][]> {
  const pages: T[][] = [];
  let cursor: string | null = null;
  do {
    const url: string = `${path}${path.includes('?') ? '&' : '?'}${cursor ? `cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await agent.get(url);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    pages.push(res.body.data);
    cursor = res.body.next_cursor;
    expect(pages.length).toBeLessThan(100);
  } while (cursor);
  return pages;
}

const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('keyset pagination', () => {
  it('walks 7 courses 3 at a time: every course exactly once, in creation order', async () => {
    const created: string[] = [];
    for (let i = 0; i < 7; i++) {
      created.push((await createCourse(admin, { title: `Paged ${i}` })).id);
      t.clock.advance(1000);
    }
    const pages = await allPages<{ id: string }>(admin, '/api/v1/courses?limit=3');
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    expect(pages.flat().map((c) => c.id)).toEqual(created);
  });

  it('is exact when many rows share the sort timestamp (ties broken by id)', async () => {
    const tenant = (await admin.get('/api/v1/tenant')).body.id as string;
    const at = new Date('2020-01-01T00:00:00.123Z');
    const rows = await t.deps.db('courses').insert(Array.from({ length: 11 }, (_, i) => ({ tenant_id: tenant, title: `Tie ${i}`, created_at: at, updated_at: at }))).returning('id');
    const ids = rows.map((r: { id: string }) => r.id).sort();
    const pages = await allPages<{ id: string; title: string }>(admin, '/api/v1/courses?limit=4');
    const tied = pages.flat().filter((c) => c.title.startsWith('Tie ')).map((c) => c.id);
    expect(tied).toEqual(ids);
    const all = pages.flat().map((c) => c.id);
    expect(new Set(all).size).toBe(all.length);
  });

  it('keeps filters across pages', async () => {
    for (let i = 0; i < 5; i++) await createCourse(admin, { title: `Archived ${i}`, status: 'archived' });
    const pages = await allPages<{ status: string }>(admin, '/api/v1/courses?status=archived&limit=2');
    expect(pages.flat()).toHaveLength(5);
    expect(pages.flat().every((c) => c.status === 'archived')).toBe(true);
  });

  it('pages users and the audit log (newest first) the same way', async () => {
    for (let i = 0; i < 5; i++) await createUser(admin, 'learner');
    const users = (await allPages<{ id: string }>(admin, '/api/v1/users?limit=2')).flat();
    const direct = await admin.get('/api/v1/users?limit=200');
    expect(users.map((u) => u.id)).toEqual(direct.body.data.map((u: { id: string }) => u.id));

    const audit = (await allPages<{ id: string }>(admin, '/api/v1/audit-log?limit=7')).flat();
    const ids = audit.map((e) => BigInt(e.id));
    const sorted = [...ids].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
    expect(ids).toEqual(sorted);
    expect(new Set(ids).size).toBe(ids.length);
  });

  // Cursors are opaque but not signed: one that decodes to values of the right types is only a
  // starting point, like a filter. Anything else must be a 400 naming the cursor, never a 500
  // or a generic storage error.
  it('answers a tampered or foreign cursor with 400 invalid_cursor', async () => {
    const first = await admin.get('/api/v1/courses?limit=1');
    const good = first.body.next_cursor as string;
    expect(good).toBeTruthy();
    const decoded = JSON.parse(Buffer.from(good, 'base64url').toString());
    const tampered = [
      'not-a-cursor',
      good.slice(0, -3),
      cursorOf({ k: 12345, id: decoded.id }),
      cursorOf({ k: decoded.k, id: 'not-a-uuid' }),
      cursorOf({ k: decoded.k, id: 7 }),
      cursorOf({ k: '2027-13-45T99:00:00Z', id: decoded.id }),
      cursorOf({ k: decoded.k }),
      cursorOf([decoded.k, decoded.id]),
    ];
    for (const cursor of tampered) {
      const res = await admin.get(`/api/v1/courses?limit=1&cursor=${encodeURIComponent(cursor)}`);
      expectProblem(res, 400, 'invalid_cursor');
    }
    // A cursor from the audit log (numeric keys) does not fit the courses list.
    const auditPage = await admin.get('/api/v1/audit-log?limit=1');
    expectProblem(await admin.get(`/api/v1/courses?cursor=${encodeURIComponent(auditPage.body.next_cursor)}`), 400, 'invalid_cursor');
    // The genuine one still works.
    expect((await admin.get(`/api/v1/courses?limit=1&cursor=${encodeURIComponent(good)}`)).status).toBe(200);
  });

  it('bounds the page size', async () => {
    expectProblem(await admin.get('/api/v1/courses?limit=0'), 400, 'validation_failed');
    expectProblem(await admin.get('/api/v1/courses?limit=201'), 400, 'validation_failed');
    expectProblem(await admin.get('/api/v1/courses?limit=ten'), 400, 'validation_failed');
    const res = await admin.get('/api/v1/courses');
    expect(res.body.data.length).toBeLessThanOrEqual(50);
  });
});
