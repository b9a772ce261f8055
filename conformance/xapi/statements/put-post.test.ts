import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../../../test/support/app.js';
import { client, createCredential, startLrs, statement, versions } from '../support.js';

/**
 * Statement Resource writes: xAPI 1.0.3 Part 3 §2.1.1 (PUT), §2.1.2 (POST), Part 2 §2.3.1
 * (statement comparison / immutability) and §2.4.x (LRS-assigned properties); for 2.0 the
 * same rules under IEEE 9274.1.1 §4.1.6.1 and §4.2.4.
 */
let t: TestApp;
beforeAll(async () => { t = await startLrs(); });
afterAll(async () => { await t?.close(); });

async function fetchStatement(version: '1.0.3' | '2.0.0', id: string) {
  const res = await client(t, version).get(`/xapi/statements?statementId=${id}`);
  expect(res.status, res.text).toBe(200);
  return res.body as Record<string, unknown>;
}

describe('Alternate request syntax (Communication 1.3)', () => {
  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
  const auth = () => `Basic ${Buffer.from('conformance-key:conformance-secret-0123456789').toString('base64')}`;

  it('Communication 1.3 — POST ?method=PUT with the statement in the form stores it; ?method=GET reads it (1.0.x)', async () => {
    const id = randomUUID();
    const put = await request(t.app).post('/xapi/statements?method=PUT').type('form').send(form({
      statementId: id, content: JSON.stringify(statement()), Authorization: auth(), 'X-Experience-API-Version': '1.0.3', 'Content-Type': 'application/json',
    }));
    expect(put.status, put.text).toBe(204);
    const get = await request(t.app).post('/xapi/statements?method=GET').type('form').send(form({ statementId: id, Authorization: auth(), 'X-Experience-API-Version': '1.0.3' }));
    expect(get.status, get.text).toBe(200);
    expect(get.body.id).toBe(id);
    // A form without its own Content-Type field still carries JSON.
    const bare = await request(t.app).post('/xapi/statements?method=POST').type('form').send(form({ content: JSON.stringify(statement()), Authorization: auth(), 'X-Experience-API-Version': '1.0.2' }));
    expect(bare.status, bare.text).toBe(200);
  });

  it('Communication 1.3 — parameters outside the form are rejected (400); 2.0 removed the syntax (400)', async () => {
    const extra = await request(t.app).post(`/xapi/statements?method=PUT&statementId=${randomUUID()}`).type('form').send(form({ content: JSON.stringify(statement()), Authorization: auth(), 'X-Experience-API-Version': '1.0.3' }));
    expect(extra.status).toBe(400);
    const v2 = await request(t.app).post('/xapi/statements?method=PUT').type('form').send(form({ statementId: randomUUID(), content: JSON.stringify(statement()), Authorization: auth(), 'X-Experience-API-Version': '2.0.0' }));
    expect(v2.status).toBe(400);
  });
});

describe.each(versions)('xAPI %s', (version) => {
  const c = () => client(t, version);

  it('Communication 2.1.1 — PUT with statementId stores the statement and answers 204 No Content', async () => {
    const id = randomUUID();
    const res = await c().put(`/xapi/statements?statementId=${id}`).send(statement());
    expect(res.status, res.text).toBe(204);
    expect(res.text).toBe('');
    expect((await fetchStatement(version, id))['id']).toBe(id);
  });

  it('Communication 2.1.1 — PUT without statementId is rejected with 400', async () => {
    const res = await c().put('/xapi/statements').send({ ...statement(), id: randomUUID() });
    expect(res.status).toBe(400);
  });

  it('Communication 2.1.1 — PUT whose body id differs from statementId is rejected with 400 and stores nothing', async () => {
    const id = randomUUID();
    const res = await c().put(`/xapi/statements?statementId=${id}`).send({ ...statement(), id: randomUUID() });
    expect(res.status).toBe(400);
    expect((await c().get(`/xapi/statements?statementId=${id}`)).status).toBe(404);
  });

  it('Communication 2.1.1 — PUT with an invalid statementId or extra parameters is rejected with 400', async () => {
    expect((await c().put('/xapi/statements?statementId=not-a-uuid').send(statement())).status).toBe(400);
    expect((await c().put(`/xapi/statements?statementId=${randomUUID()}&verb=x`).send(statement())).status).toBe(400);
  });

  it('Communication 2.1.2 — POST of one statement answers 200 with an array holding its id', async () => {
    const res = await c().post('/xapi/statements').send(statement());
    expect(res.status, res.text).toBe(200);
    expect(res.body).toHaveLength(1);
    expect(res.body[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('Communication 2.1.2 — POST of an array answers with the ids in request order, keeping client ids', async () => {
    const given = randomUUID();
    const res = await c().post('/xapi/statements').send([statement(), { ...statement(), id: given }, statement()]);
    expect(res.status, res.text).toBe(200);
    expect(res.body).toHaveLength(3);
    expect(res.body[1]).toBe(given);
    for (const id of res.body as string[]) expect((await fetchStatement(version, id))['id']).toBe(id);
  });

  it('Communication 2.1.2 — a batch is atomic: one invalid statement rejects the whole batch and stores nothing', async () => {
    const good = { ...statement(), id: randomUUID() };
    const res = await c().post('/xapi/statements').send([good, { ...statement(), verb: { id: 'not an iri' } }]);
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/\[1\]\.verb\.id/);
    expect((await c().get(`/xapi/statements?statementId=${good.id}`)).status).toBe(404);
  });

  it('Communication 2.1.2 — a batch using the same id twice is rejected with 400', async () => {
    const id = randomUUID();
    const res = await c().post('/xapi/statements').send([{ ...statement(), id }, { ...statement(), id }]);
    expect(res.status).toBe(400);
    expect((await c().get(`/xapi/statements?statementId=${id}`)).status).toBe(404);
  });

  it('Communication 2.1.2 — a batch with a conflicting id stores none of its statements', async () => {
    const existing = { ...statement(), id: randomUUID() };
    expect((await c().post('/xapi/statements').send(existing)).status).toBe(200);
    const fresh = { ...statement(), id: randomUUID() };
    const res = await c().post('/xapi/statements').send([fresh, { ...existing, verb: { id: 'http://example.com/other-verb' } }]);
    expect(res.status).toBe(409);
    expect((await c().get(`/xapi/statements?statementId=${fresh.id}`)).status).toBe(404);
  });

  it('Communication 2.1.1 / Data 2.3.1 — re-sending an equivalent statement with the same id is a no-op (204 on PUT, the id on POST)', async () => {
    const s = { ...statement(), id: randomUUID(), timestamp: '2024-01-02T03:04:05.678Z' };
    expect((await c().put(`/xapi/statements?statementId=${s.id}`).send(s)).status).toBe(204);
    const before = await fetchStatement(version, s.id);
    expect((await c().put(`/xapi/statements?statementId=${s.id}`).send(s)).status).toBe(204);
    const post = await c().post('/xapi/statements').send(s);
    expect(post.status).toBe(200);
    expect(post.body).toEqual([s.id]);
    expect(await fetchStatement(version, s.id)).toEqual(before);
  });

  it('Communication 2.1.1 (XAPI-00142) — a different statement with an existing id is refused with 409 and the stored one is unchanged', async () => {
    const s: Record<string, unknown> = { ...statement(), id: randomUUID() };
    expect((await c().post('/xapi/statements').send(s)).status).toBe(200);
    const put = await c().put(`/xapi/statements?statementId=${s.id}`).send({ ...s, verb: { id: 'http://example.com/different/verb' } });
    expect(put.status).toBe(409);
    const post = await c().post('/xapi/statements').send({ ...s, result: { success: true } });
    expect(post.status).toBe(409);
    const stored = await fetchStatement(version, s["id"] as string);
    expect(stored['verb']).toEqual(s['verb']);
    expect(stored['result']).toBeUndefined();
  });

  it('Data 2.3.1 — comparison ignores Activity definitions, Verb display, timestamp serialization, Group member order and case-insensitive parts', async () => {
    const registration = randomUUID();
    const members = [{ mbox: 'mailto:a@example.com' }, { mbox: 'mailto:b@example.com' }];
    const s: Record<string, unknown> = {
      ...statement(),
      id: randomUUID(),
      actor: { objectType: 'Group', name: 'Pair', member: members },
      timestamp: '2024-05-06T07:08:09.100Z',
      context: { registration, language: 'en-US', contextActivities: { parent: { id: 'http://example.com/parent' } } },
    };
    expect((await c().post('/xapi/statements').send(s)).status).toBe(200);
    const variant = {
      ...s,
      actor: { objectType: 'Group', name: 'Pair', member: [members[1], { mbox: 'mailto:a@EXAMPLE.COM' }] },
      verb: { id: (s['verb'] as { id: string }).id, display: { 'fr-FR': 'vécu' } },
      object: { ...(s['object'] as object), definition: { name: { 'de-DE': 'Etwas anderes' } } },
      timestamp: '2024-05-06T09:08:09.100+02:00',
      context: { registration: registration.toUpperCase(), language: 'EN-us', contextActivities: { parent: [{ id: 'http://example.com/parent' }] } },
    };
    const res = await c().post('/xapi/statements').send(variant);
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual([s.id]);
  });

  it('Data 2.3.1 — a different instant in timestamp or a different result duration is a conflict', async () => {
    const s = { ...statement(), id: randomUUID(), timestamp: '2024-05-06T07:08:09.100Z', result: { duration: 'PT1M' } };
    expect((await c().post('/xapi/statements').send(s)).status).toBe(200);
    expect((await c().post('/xapi/statements').send({ ...s, timestamp: '2024-05-06T07:08:10.100Z' })).status).toBe(409);
    expect((await c().post('/xapi/statements').send({ ...s, result: { duration: 'PT2M' } })).status).toBe(409);
  });

  it('Data 2.4.1 — the LRS assigns a UUID id when the statement has none', async () => {
    const res = await c().post('/xapi/statements').send(statement());
    const stored = await fetchStatement(version, res.body[0]);
    expect(stored['id']).toBe(res.body[0]);
  });

  it('Data 2.4.7 / 2.4.8 — the LRS sets stored (always its own) and timestamp = stored when absent, keeping a given timestamp', async () => {
    const withoutTs = await c().post('/xapi/statements').send({ ...statement(), stored: '2001-01-01T00:00:00Z' });
    expect(withoutTs.status, withoutTs.text).toBe(200);
    const a = await fetchStatement(version, withoutTs.body[0]);
    expect(a['stored']).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(a['stored']).not.toBe('2001-01-01T00:00:00Z');
    expect(Math.abs(Date.parse(a['stored'] as string) - Date.now())).toBeLessThan(60_000);
    expect(a['timestamp']).toBe(a['stored']);
    const withTs = await c().post('/xapi/statements').send({ ...statement(), timestamp: '2020-02-03T04:05:06.789Z' });
    expect((await fetchStatement(version, withTs.body[0]))['timestamp']).toBe('2020-02-03T04:05:06.789Z');
  });

  it('Data 2.4.9 — the LRS overwrites authority with the credential\'s Agent', async () => {
    const forged = { objectType: 'Agent', mbox: 'mailto:forger@example.com' };
    const res = await c().post('/xapi/statements').send({ ...statement(), authority: forged });
    expect(res.status, res.text).toBe(200);
    const stored = await fetchStatement(version, res.body[0]);
    expect(stored['authority']).toMatchObject({ objectType: 'Agent', account: { name: 'conformance-key' } });
  });

  it('Data 2.4.9 — an authority Group must have exactly two Agents', async () => {
    const group = { objectType: 'Group', member: [{ mbox: 'mailto:a@example.com' }, { mbox: 'mailto:b@example.com' }, { mbox: 'mailto:c@example.com' }] };
    expect((await c().post('/xapi/statements').send({ ...statement(), authority: group })).status).toBe(400);
  });

  it.each([
    ['mbox', 'mailto:bob@example.com'],
    ['mbox_sha1sum', 'cd9b00a5611f94eaa7b1661edab976068e364975'],
    ['openid', 'http://openid.example.org/12345'],
    ['account', { homePage: 'http://www.example.com', name: 'xAPI account name' }],
  ])('Data 2.4.9 — an authority Group must be anonymous: one with %s is refused (ADL XAPI-00098)', async (ifi, value) => {
    const oauth = [{ account: { homePage: 'http://example.com/xAPI/OAuth/Token', name: 'oauth_consumer_x75db' } }, { mbox: 'mailto:bob@example.com' }];
    const res = await c().post('/xapi/statements').send({ ...statement(), authority: { objectType: 'Group', member: oauth, [ifi]: value } });
    expect(res.status, res.text).toBe(400);
    expect(res.text).toContain(`authority.${ifi}`);
    // The anonymous OAuth pair itself is a valid authority (then replaced by the credential's).
    expect((await c().post('/xapi/statements').send({ ...statement(), authority: { objectType: 'Group', member: oauth } })).status).toBe(200);
  });

  it('Data 2.4.10 — the version property is kept as sent and defaulted per version when absent', async () => {
    const plain = await c().post('/xapi/statements').send(statement());
    expect((await fetchStatement(version, plain.body[0]))['version']).toBe(version === '2.0.0' ? '2.0.0' : '1.0.0');
    const sent = await c().post('/xapi/statements').send({ ...statement(), version: '1.0.3' });
    expect(sent.status).toBe(200);
    expect((await fetchStatement(version, sent.body[0]))['version']).toBe('1.0.3');
  });

  it('Data 2.4.6 — single context activities are returned as arrays', async () => {
    const res = await c().post('/xapi/statements').send({ ...statement(), context: { contextActivities: { grouping: { id: 'http://example.com/course' } } } });
    const stored = await fetchStatement(version, res.body[0]);
    expect((stored['context'] as { contextActivities: unknown }).contextActivities).toEqual({ grouping: [{ id: 'http://example.com/course' }] });
  });

  it('Communication 2.1.2 — concurrent batches about the same new learners and activities all succeed', async () => {
    const tag = randomUUID().slice(0, 8);
    const people = Array.from({ length: 30 }, (_, i) => ({ name: `P${i}`, mbox: `mailto:p${i}-${tag}@example.com` }));
    const activities = Array.from({ length: 10 }, (_, i) => ({ id: `http://example.com/${tag}/a${i}`, definition: { name: { en: `A${i}` } } }));
    const batch = (k: number) => people.map((actor, i) => statement({ actor, object: activities[(i * (k + 1)) % activities.length] }))
      .sort(() => (k % 2 === 0 ? 1 : -1));
    const results = await Promise.all(Array.from({ length: 8 }, (_, k) => c().post('/xapi/statements').send(k % 2 === 0 ? batch(k) : batch(k).reverse())));
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    const person = await c().get(`/xapi/agents?agent=${encodeURIComponent(JSON.stringify({ mbox: people[3]!.mbox }))}`);
    expect(person.body.name).toEqual(['P3']);
  });

  it('Communication 3.2 — malformed JSON, a non-JSON content type and an empty body are 400', async () => {
    expect((await c().post('/xapi/statements').set('Content-Type', 'application/json').send('{"actor":')).status).toBe(400);
    expect((await c().post('/xapi/statements').set('Content-Type', 'text/plain').send(JSON.stringify(statement()))).status).toBe(400);
    expect((await c().post('/xapi/statements').set('Content-Type', 'application/json').send('')).status).toBe(400);
    expect((await c().post('/xapi/statements?verb=x').send(statement())).status).toBe(400);
    // A NUL character cannot be stored; it is a client error, never a 500.
    expect((await c().post('/xapi/statements').send(statement({ actor: { name: 'a\u0000b', mbox: 'mailto:nul@example.com' } }))).status).toBe(400);
    expect((await c().post('/xapi/statements').send(statement({ verb: { id: 'http://example.com/v\u0000' } }))).status).toBe(400);
  });

  it('Communication 3.2 — a body over the advertised size limit is 413', async () => {
    const about = await client(t, version).get('/xapi/about');
    const limit = about.body.extensions['https://cairn.dev/xapi/extensions/lrs'].max_request_bytes as number;
    const big = { ...statement(), result: { response: 'x'.repeat(limit + 1) } };
    const res = await c().post('/xapi/statements').send(big);
    expect(res.status).toBe(413);
  });

  it('Communication 4.0 — writes need statements/write (403 otherwise) and valid credentials (401)', async () => {
    const reader = await createCredential(t, ['statements/read']);
    const res = await client(t, version, reader).post('/xapi/statements').send(statement());
    expect(res.status).toBe(403);
    const wrong = await client(t, version, { key: reader.key, secret: 'wrong' }).post('/xapi/statements').send(statement());
    expect(wrong.status).toBe(401);
  });

  it('Communication 2.1 — other methods on /statements are 405 with Allow', async () => {
    const res = await c().delete('/xapi/statements');
    expect(res.status).toBe(405);
    expect(res.headers['allow']).toContain('POST');
  });
});
