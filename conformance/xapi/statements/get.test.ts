import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../../../test/support/app.js';
import { client, createCredential, startLrs, statement, versions, type Version } from '../support.js';

/**
 * Statement Resource reads: xAPI 1.0.3 Part 3 §2.1.3 (GET, every query parameter), §2.1.3
 * StatementResult and `more`, X-Experience-API-Consistent-Through, Last-Modified, §1.1 HEAD,
 * §3.2 parameter errors, §4.2 scopes; 2.0 §4.1.6.1.
 */
let t: TestApp;
beforeAll(async () => { t = await startLrs({ CAIRN_XAPI_STATEMENT_PAGE_MAX: '50' }); });
afterAll(async () => { await t?.close(); });

const enc = (v: string | object) => encodeURIComponent(typeof v === 'string' ? v : JSON.stringify(v));

async function post(version: Version, body: unknown): Promise<string[]> {
  const res = await client(t, version).post('/xapi/statements').send(body as object);
  expect(res.status, res.text).toBe(200);
  return res.body as string[];
}

async function ids(version: Version, query: string): Promise<string[]> {
  const res = await client(t, version).get(`/xapi/statements?${query}`);
  expect(res.status, res.text).toBe(200);
  return (res.body.statements as Array<{ id: string }>).map((s) => s.id);
}

describe.each(versions)('xAPI %s', (version) => {
  const c = () => client(t, version);

  it('Communication 2.1.3 — GET with statementId returns that single Statement', async () => {
    const [id] = await post(version, statement());
    const res = await c().get(`/xapi/statements?statementId=${id}`);
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(id);
    expect(res.body.statements).toBeUndefined();
  });

  it('Communication 2.1.3 — without attachments=true the answer\'s Content-Type is exactly application/json (ADL suite, Data 2.4.11)', async () => {
    const [id] = await post(version, statement());
    for (const query of [`statementId=${id}`, `statementId=${id}&attachments=false`, 'attachments=false&limit=1', 'limit=1']) {
      const res = await c().get(`/xapi/statements?${query}`);
      expect(res.status, query).toBe(200);
      expect(res.headers['content-type'], query).toBe('application/json');
      const head = await c().head(`/xapi/statements?${query}`);
      expect(head.headers['content-type'], query).toBe('application/json');
      expect(head.headers['content-length'], query).toBe(res.headers['content-length']);
    }
    for (const path of ['/xapi/about', '/xapi/activities?activityId=http%3A%2F%2Fexample.com%2Fa', `/xapi/agents?agent=${enc({ mbox: 'mailto:someone@example.com' })}`]) {
      expect((await c().get(path)).headers['content-type'], path).toBe('application/json');
    }
    expect((await c().post('/xapi/statements').send(statement())).headers['content-type']).toBe('application/json');
  });

  it('Communication 2.1.3 — an unknown statementId is 404; statementId and voidedStatementId together are 400', async () => {
    expect((await c().get(`/xapi/statements?statementId=${randomUUID()}`)).status).toBe(404);
    expect((await c().get(`/xapi/statements?statementId=${randomUUID()}&voidedStatementId=${randomUUID()}`)).status).toBe(400);
  });

  it('Communication 2.1.3 — with statementId only attachments and format may accompany it (others → 400)', async () => {
    const [id] = await post(version, statement());
    expect((await c().get(`/xapi/statements?statementId=${id}&format=ids&attachments=false`)).status).toBe(200);
    for (const extra of ['limit=1', 'ascending=true', `verb=${enc('http://example.com/v')}`, 'since=2020-01-01T00:00:00Z']) {
      expect((await c().get(`/xapi/statements?statementId=${id}&${extra}`)).status, extra).toBe(400);
    }
  });

  it('Communication 2.1.3 — GET without id parameters returns a StatementResult with statements and more', async () => {
    await post(version, statement());
    const res = await c().get('/xapi/statements');
    expect(res.status).toBe(200);
    expect(Array.isArray(res.body.statements)).toBe(true);
    expect(typeof res.body.more).toBe('string');
  });

  it('Communication 3.2 — unknown or differently-cased parameters and bad values are 400', async () => {
    for (const query of ['foo=bar', `StatementId=${randomUUID()}`, 'limit=-1', 'limit=abc', 'ascending=yes', 'format=full', 'since=yesterday',
      'registration=not-a-uuid', `verb=${enc('not an iri')}`, `agent=${enc('{"mbox":')}`, `agent=${enc({ name: 'no ifi' })}`,
      `agent=${enc({ objectType: 'Group', member: [{ mbox: 'mailto:a@example.com' }] })}`, 'related_agents=1',
      `verb=${enc('http://example.com/\u0000')}`, `agent=${enc({ account: { homePage: 'http://example.com', name: 'a\u0000' } })}`]) {
      const res = await c().get(`/xapi/statements?${query}`);
      expect(res.status, query).toBe(400);
    }
  });

  it('Communication 2.1.3 — agent matches the actor or the object (Agent or member of a Group), not context agents unless related_agents=true', async () => {
    const who = { objectType: 'Agent', mbox: `mailto:who-${randomUUID()}@example.com` };
    const [asActor] = await post(version, statement({ actor: who }));
    const [asObject] = await post(version, statement({ object: who }));
    const [asMember] = await post(version, statement({ actor: { objectType: 'Group', member: [who, { mbox: 'mailto:other@example.com' }] } }));
    const [asInstructor] = await post(version, statement({ context: { instructor: who } }));
    const [asTeamMember] = await post(version, statement({ context: { team: { objectType: 'Group', member: [who] } } }));
    const [inSub] = await post(version, statement({ object: { objectType: 'SubStatement', actor: who, verb: { id: 'http://example.com/v' }, object: { id: 'http://example.com/a' } } }));
    const direct = await ids(version, `agent=${enc(who)}`);
    expect(new Set(direct)).toEqual(new Set([asActor, asObject, asMember]));
    const related = await ids(version, `agent=${enc(who)}&related_agents=true`);
    expect(new Set(related)).toEqual(new Set([asActor, asObject, asMember, asInstructor, asTeamMember, inSub]));
    // The mbox domain is case-insensitive.
    const upper = { mbox: who.mbox.replace('example.com', 'EXAMPLE.COM') };
    expect(new Set(await ids(version, `agent=${enc(upper)}`))).toEqual(new Set(direct));
  });

  it('Communication 2.1.3 — related_agents also matches the authority', async () => {
    const cred = await createCredential(t, ['all']);
    const res = await client(t, version, cred).post('/xapi/statements').send(statement());
    const authority = { account: { homePage: 'http://localhost:3000', name: cred.key } };
    expect(await ids(version, `agent=${enc(authority)}`)).toEqual([]);
    expect(await ids(version, `agent=${enc(authority)}&related_agents=true`)).toEqual(res.body);
  });

  it('Communication 2.1.3 — verb filters by exact verb id', async () => {
    const verb = `http://example.com/verbs/${randomUUID()}`;
    const [a] = await post(version, statement({ verb: { id: verb } }));
    await post(version, statement());
    expect(await ids(version, `verb=${enc(verb)}`)).toEqual([a]);
  });

  it('Communication 2.1.3 — activity matches the object; related_activities adds context activities and SubStatement parts', async () => {
    const activity = `http://example.com/activities/${randomUUID()}`;
    const [asObject] = await post(version, statement({ object: { id: activity } }));
    const [asParent] = await post(version, statement({ context: { contextActivities: { parent: [{ id: activity }] } } }));
    const [asCategory] = await post(version, statement({ context: { contextActivities: { category: { id: activity } } } }));
    const [inSub] = await post(version, statement({ object: { objectType: 'SubStatement', actor: { mbox: 'mailto:s@example.com' }, verb: { id: 'http://example.com/v' }, object: { id: activity } } }));
    expect(await ids(version, `activity=${enc(activity)}`)).toEqual([asObject]);
    expect(new Set(await ids(version, `activity=${enc(activity)}&related_activities=true`))).toEqual(new Set([asObject, asParent, asCategory, inSub]));
  });

  it('Communication 2.1.3 — verb and activity combine (AND), as do agent, verb, activity and registration', async () => {
    const activity = `http://example.com/activities/${randomUUID()}`;
    const verb = `http://example.com/verbs/${randomUUID()}`;
    const registration = randomUUID();
    const who = { mbox: `mailto:combo-${randomUUID()}@example.com` };
    const [both] = await post(version, statement({ actor: who, verb: { id: verb }, object: { id: activity }, context: { registration } }));
    await post(version, statement({ verb: { id: verb } }));
    await post(version, statement({ object: { id: activity } }));
    await post(version, statement({ actor: who, verb: { id: verb }, object: { id: activity } }));
    expect(await ids(version, `verb=${enc(verb)}&activity=${enc(activity)}&registration=${registration}`)).toEqual([both]);
    expect(await ids(version, `agent=${enc(who)}&verb=${enc(verb)}&activity=${enc(activity)}&registration=${registration}`)).toEqual([both]);
    expect(await ids(version, `agent=${enc(who)}&activity=${enc(activity)}&related_activities=true&registration=${registration}`)).toEqual([both]);
  });

  it('Communication 2.1.3 — registration filters by context registration (case-insensitive UUID)', async () => {
    const registration = randomUUID();
    const [a] = await post(version, statement({ context: { registration } }));
    await post(version, statement({ context: { registration: randomUUID() } }));
    expect(await ids(version, `registration=${registration.toUpperCase()}`)).toEqual([a]);
  });

  it('Communication 2.1.3 — since is exclusive and until inclusive on stored; results are newest first unless ascending=true', async () => {
    const verb = `http://example.com/verbs/${randomUUID()}`;
    const posted: string[] = [];
    for (let i = 0; i < 3; i++) {
      posted.push(...await post(version, statement({ verb: { id: verb } })));
      await new Promise((r) => setTimeout(r, 5));
    }
    const all = await c().get(`/xapi/statements?verb=${enc(verb)}`);
    const stored = (all.body.statements as Array<{ id: string; stored: string }>);
    expect(stored.map((s) => s.id)).toEqual([...posted].reverse());
    const [newest, middle, oldest] = stored;
    expect(await ids(version, `verb=${enc(verb)}&since=${enc(oldest!.stored)}`)).toEqual([newest!.id, middle!.id]);
    expect(await ids(version, `verb=${enc(verb)}&until=${enc(middle!.stored)}`)).toEqual([middle!.id, oldest!.id]);
    expect(await ids(version, `verb=${enc(verb)}&since=${enc(oldest!.stored)}&until=${enc(middle!.stored)}`)).toEqual([middle!.id]);
    expect(await ids(version, `verb=${enc(verb)}&ascending=true`)).toEqual(posted);
  });

  it('Communication 2.1.3 — limit caps the page, limit=0 means the server maximum, and more pages through the rest', async () => {
    const verb = `http://example.com/verbs/${randomUUID()}`;
    const posted = await post(version, Array.from({ length: 7 }, () => statement({ verb: { id: verb } })));
    const seen: string[] = [];
    let res = await c().get(`/xapi/statements?verb=${enc(verb)}&limit=3`);
    for (;;) {
      expect(res.status, res.text).toBe(200);
      expect(res.body.statements.length).toBeLessThanOrEqual(3);
      seen.push(...(res.body.statements as Array<{ id: string }>).map((s) => s.id));
      if (res.body.more === '') break;
      expect(res.body.more).toMatch(/^\/xapi\/statements\?/);
      res = await c().get(res.body.more);
    }
    expect(seen).toEqual([...posted].reverse());
    expect((await ids(version, `verb=${enc(verb)}&limit=0`)).length).toBe(7);
    const big = await post(version, Array.from({ length: 55 }, () => statement({ verb: { id: verb } })));
    const capped = await c().get(`/xapi/statements?verb=${enc(verb)}&limit=1000`);
    expect(capped.body.statements).toHaveLength(50);
    expect(capped.body.more).not.toBe('');
    expect(big).toHaveLength(55);
  });

  it('Communication 2.1.3 — more links stay correct while statements are inserted (no duplicates, no gaps, no newcomers)', async () => {
    const verb = `http://example.com/verbs/${randomUUID()}`;
    const first = await post(version, Array.from({ length: 6 }, () => statement({ verb: { id: verb } })));
    const page1 = await c().get(`/xapi/statements?verb=${enc(verb)}&limit=2`);
    await post(version, Array.from({ length: 3 }, () => statement({ verb: { id: verb } })));
    const seen = (page1.body.statements as Array<{ id: string }>).map((s) => s.id);
    let more = page1.body.more as string;
    while (more) {
      const res = await c().get(more);
      seen.push(...(res.body.statements as Array<{ id: string }>).map((s) => s.id));
      more = res.body.more;
      await post(version, statement({ verb: { id: verb } }));
    }
    expect(seen).toEqual([...first].reverse());
    // Ascending paging is fixed at its first request's consistency bound as well.
    const asc = await c().get(`/xapi/statements?verb=${enc(verb)}&limit=4&ascending=true`);
    await post(version, statement({ verb: { id: verb } }));
    const ascIds = (asc.body.statements as Array<{ id: string }>).map((s) => s.id);
    let next = asc.body.more as string;
    while (next) {
      const res = await c().get(next);
      ascIds.push(...(res.body.statements as Array<{ id: string }>).map((s) => s.id));
      next = res.body.more;
    }
    expect(new Set(ascIds).size).toBe(ascIds.length);
    expect(ascIds.slice(0, 6)).toEqual(first);
  });

  it('Communication 2.1.3 — a tampered more link is 400; more carries its own parameters', async () => {
    expect((await c().get('/xapi/statements?more=garbage')).status).toBe(400);
    const verb = `http://example.com/verbs/${randomUUID()}`;
    await post(version, [statement({ verb: { id: verb } }), statement({ verb: { id: verb } })]);
    const res = await c().get(`/xapi/statements?verb=${enc(verb)}&limit=1`);
    expect((await c().get(`${res.body.more}&limit=5`)).status).toBe(400);
  });

  it('Communication 2.1.3 — X-Experience-API-Consistent-Through is on every statements GET and every statement stored before it is returned', async () => {
    const verb = `http://example.com/verbs/${randomUUID()}`;
    const [id] = await post(version, statement({ verb: { id: verb } }));
    await new Promise((r) => setTimeout(r, 2));
    const res = await c().get(`/xapi/statements?verb=${enc(verb)}`);
    const header = res.headers['x-experience-api-consistent-through'] as string;
    expect(header).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    const stored = (res.body.statements as Array<{ id: string; stored: string }>)[0]!;
    expect(stored.id).toBe(id);
    expect(Date.parse(stored.stored)).toBeLessThanOrEqual(Date.parse(header));
    const single = await c().get(`/xapi/statements?statementId=${id}`);
    expect(single.headers['x-experience-api-consistent-through']).toMatch(/Z$/);
  });

  it('Communication 2.1.3 — Consistent-Through never passes a statement write still in flight, and unrelated writes do not hold it back', async () => {
    const verb = `http://example.com/verbs/${randomUUID()}`;
    const unrelated = new pg.Client({ connectionString: t.databaseUrl });
    const writer = new pg.Client({ connectionString: t.databaseUrl });
    await unrelated.connect();
    await writer.connect();
    try {
      // An unrelated write transaction (rate limits, documents…) is open the whole time.
      await unrelated.query('begin');
      await unrelated.query('select pg_current_xact_id()');
      const [first] = await post(version, statement({ verb: { id: verb } }));
      expect(await ids(version, `verb=${enc(verb)}`)).toEqual([first]);
      // A statement writer starts (labelled, with an xid) and has not committed.
      await writer.query('begin');
      const { rows: [started] } = await writer.query<{ at: Date }>("select set_config('application_name', 'cairn xapi statement writer', true), pg_current_xact_id(), now() as at");
      const [second] = await post(version, statement({ verb: { id: verb } }));
      const held = await c().get(`/xapi/statements?verb=${enc(verb)}`);
      expect(Date.parse(held.headers['x-experience-api-consistent-through'] as string)).toBeLessThanOrEqual(started!.at.getTime());
      // The later statement waits behind the open writer: what is listed is complete up to the bound.
      expect((held.body.statements as Array<{ id: string }>).map((s) => s.id)).toEqual([first]);
      await writer.query('commit');
      expect(await ids(version, `verb=${enc(verb)}`)).toEqual([second, first]);
    } finally {
      await unrelated.query('rollback').catch(() => undefined);
      await writer.query('rollback').catch(() => undefined);
      await unrelated.end();
      await writer.end();
    }
  });

  it('Communication 2.1.3 — Last-Modified is the stored time of the statement (single) or of the newest one returned', async () => {
    const [id] = await post(version, statement());
    const single = await c().get(`/xapi/statements?statementId=${id}`);
    const storedSecond = Math.floor(Date.parse(single.body.stored) / 1000);
    expect(Date.parse(single.headers['last-modified'] as string) / 1000).toBe(storedSecond);
    const list = await c().get('/xapi/statements?limit=1');
    expect(Date.parse(list.headers['last-modified'] as string) / 1000).toBe(Math.floor(Date.parse(list.body.statements[0].stored) / 1000));
  });

  it('Communication 1.1 — HEAD answers like GET with no body', async () => {
    const [id] = await post(version, statement());
    const head = await c().head(`/xapi/statements?statementId=${id}`);
    expect(head.status).toBe(200);
    expect(head.text ?? '').toBe('');
    expect(head.headers['x-experience-api-consistent-through']).toBeDefined();
    expect(head.headers['content-type']).toMatch(/application\/json/);
    expect((await c().head(`/xapi/statements?statementId=${randomUUID()}`)).status).toBe(404);
    expect((await c().head('/xapi/statements?limit=1')).status).toBe(200);
  });

  it('Communication 2.1.3 — format=ids reduces Agents to IFIs, Activities to ids and Verbs to ids', async () => {
    const [id] = await post(version, statement({
      actor: { objectType: 'Agent', name: 'Named', mbox: 'mailto:ids@example.com' },
      context: { instructor: { name: 'Teacher', mbox: 'mailto:t@example.com' }, contextActivities: { parent: [{ id: 'http://example.com/p', definition: { name: { en: 'P' } } }] } },
    }));
    const res = await c().get(`/xapi/statements?statementId=${id}&format=ids`);
    expect(res.body.actor).toEqual({ objectType: 'Agent', mbox: 'mailto:ids@example.com' });
    expect(res.body.verb).toEqual({ id: 'http://adlnet.gov/expapi/verbs/experienced' });
    expect(res.body.object).toEqual({ id: res.body.object.id });
    expect(res.body.context.instructor).toEqual({ mbox: 'mailto:t@example.com' });
    expect(res.body.context.contextActivities.parent).toEqual([{ id: 'http://example.com/p' }]);
  });

  it('Communication 2.1.3 — format=ids gives only the minimum to identify: an Activity is its id alone, an identified Group its objectType and IFI (ADL XAPI-00171)', async () => {
    const activity = `http://example.com/ids/${randomUUID()}`;
    const [id] = await post(version, statement({
      object: { objectType: 'SubStatement', actor: { objectType: 'Group', name: 'G', mbox: 'mailto:g-ids@example.com', member: [{ mbox: 'mailto:m@example.com' }] }, verb: { id: 'http://example.com/v', display: { 'en-US': 'v' } }, object: { objectType: 'Activity', id: activity, definition: { name: { 'en-US': 'A' } } } },
    }));
    const res = await c().get(`/xapi/statements?statementId=${id}&format=ids`);
    expect(res.status).toBe(200);
    expect(res.body.object.object).toEqual({ id: activity });
    expect(res.body.object.actor).toEqual({ objectType: 'Group', mbox: 'mailto:g-ids@example.com' });
    expect(res.body.object.verb).toEqual({ id: 'http://example.com/v' });
  });

  it('Communication 2.1.3 Filter Conditions for StatementRefs — statements targeting a matching statement match too, even when the target is voided; since, until and limit apply to the targeting statement (ADL XAPI-00162)', async () => {
    const verb = `http://example.com/verbs/targeted/${randomUUID()}`;
    const voidedId = randomUUID();
    const since = new Date(Date.now() - 1000).toISOString();
    await post(version, statement({ id: voidedId, verb: { id: verb } }));
    const [voidingId] = await post(version, { actor: { mbox: 'mailto:admin@example.com' }, verb: { id: 'http://adlnet.gov/expapi/verbs/voided' }, object: { objectType: 'StatementRef', id: voidedId } });
    const [refId] = await post(version, statement({ verb: { id: verb }, object: { objectType: 'StatementRef', id: voidedId } }));
    const until = new Date(Date.now() + 1000).toISOString();
    expect(await ids(version, `verb=${enc(verb)}`)).toEqual([refId, voidingId]);
    expect(await ids(version, `verb=${enc(verb)}&since=${since}`)).toEqual([refId, voidingId]);
    expect(await ids(version, `verb=${enc(verb)}&until=${until}`)).toEqual([refId, voidingId]);
    expect(await ids(version, `verb=${enc(verb)}&limit=1`)).toEqual([refId]);
    expect(await ids(version, `verb=${enc(verb)}&ascending=true`)).toEqual([voidingId, refId]);
  });

  it('Communication 2.1.3 Filter Conditions for StatementRefs — the rule is recursive, every filter applies to one targeted statement, and paging stays exact', async () => {
    const learner = { mbox: `mailto:ref-${randomUUID()}@example.com` };
    const activity = `http://example.com/activities/ref/${randomUUID()}`;
    const registration = randomUUID();
    const verb = `http://example.com/verbs/ref/${randomUUID()}`;
    const other = `http://example.com/verbs/other/${randomUUID()}`;
    const [targetId] = await post(version, statement({ actor: learner, verb: { id: verb }, object: { id: activity }, context: { registration } }));
    await new Promise((r) => setTimeout(r, 5));
    const between = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    const [firstRef] = await post(version, statement({ verb: { id: other }, object: { objectType: 'StatementRef', id: targetId } }));
    const [secondRef] = await post(version, statement({ verb: { id: other }, object: { objectType: 'StatementRef', id: firstRef } }));
    const all = [secondRef, firstRef, targetId];
    expect(await ids(version, `agent=${enc(learner)}`)).toEqual(all);
    expect(await ids(version, `activity=${enc(activity)}`)).toEqual(all);
    expect(await ids(version, `registration=${registration}`)).toEqual(all);
    expect(await ids(version, `verb=${enc(verb)}`)).toEqual(all);
    expect(await ids(version, `agent=${enc(learner)}&verb=${enc(verb)}&activity=${enc(activity)}`)).toEqual(all);
    // The refs' own verb matches `other` but their actor is not the learner, and the target's verb is not `other`.
    expect(await ids(version, `agent=${enc(learner)}&verb=${enc(other)}`)).toEqual([]);
    // since applies to the returned statements, not to the target.
    expect(await ids(version, `agent=${enc(learner)}&since=${between}`)).toEqual([secondRef, firstRef]);
    // One statement per page, following `more`.
    const seen: string[] = [];
    let next: string | undefined = `/xapi/statements?agent=${enc(learner)}&limit=1`;
    while (next) {
      const res = await c().get(next);
      expect(res.status, res.text).toBe(200);
      seen.push(...(res.body.statements as Array<{ id: string }>).map((st) => st.id));
      next = res.body.more || undefined;
    }
    expect(seen).toEqual(all);
  });

  it('Communication 2.1.3 — X-Experience-API-Consistent-Through is on a statements GET rejected for a bad parameter too (ADL XAPI-00153)', async () => {
    const res = await c().get('/xapi/statements?LIMIT=1');
    expect(res.status).toBe(400);
    expect(Date.parse(res.headers['x-experience-api-consistent-through'] as string)).not.toBeNaN();
    const both = await c().get(`/xapi/statements?statementId=${randomUUID()}&verb=${enc('http://example.com/v')}`);
    expect(both.status).toBe(400);
    expect(both.headers['x-experience-api-consistent-through']).toBeDefined();
  });

  it('Communication 2.1.3 — format=canonical returns the canonical definition in the language Accept-Language asks for; exact returns as stored', async () => {
    const activity = `http://example.com/activities/${randomUUID()}`;
    await post(version, statement({ object: { id: activity, definition: { name: { 'en-US': 'Course', 'fr-FR': 'Cours' }, description: { 'en-US': 'A course' } } } }));
    const [id] = await post(version, statement({ verb: { id: 'http://example.com/v', display: { 'en-US': 'did', 'fr-FR': 'a fait' } }, object: { id: activity } }));
    const canonical = await c().get(`/xapi/statements?statementId=${id}&format=canonical`).set('Accept-Language', 'fr-FR, en;q=0.5');
    expect(canonical.body.object.definition).toEqual({ name: { 'fr-FR': 'Cours' }, description: { 'en-US': 'A course' } });
    expect(canonical.body.verb.display).toEqual({ 'fr-FR': 'a fait' });
    const exact = await c().get(`/xapi/statements?statementId=${id}&format=exact`);
    expect(exact.body.object.definition).toBeUndefined();
    expect(exact.body.verb.display).toEqual({ 'en-US': 'did', 'fr-FR': 'a fait' });
  });

  it('Communication 4.2 — statements/read/mine sees only the credential\'s own statements; no read scope is 403', async () => {
    const mine = await createCredential(t, ['statements/write', 'statements/read/mine']);
    const verb = `http://example.com/verbs/${randomUUID()}`;
    const own = await client(t, version, mine).post('/xapi/statements').send(statement({ verb: { id: verb } }));
    const [other] = await post(version, statement({ verb: { id: verb } }));
    const list = await client(t, version, mine).get(`/xapi/statements?verb=${enc(verb)}`);
    expect(list.status).toBe(200);
    expect((list.body.statements as Array<{ id: string }>).map((s) => s.id)).toEqual(own.body);
    expect((await client(t, version, mine).get(`/xapi/statements?statementId=${other}`)).status).toBe(404);
    const writer = await createCredential(t, ['statements/write']);
    expect((await client(t, version, writer).get('/xapi/statements')).status).toBe(403);
    const reader = await createCredential(t, ['all/read']);
    expect((await client(t, version, reader).get(`/xapi/statements?statementId=${other}`)).status).toBe(200);
  });

  it('Communication 2.1.3 — long account names and IRIs (over an index entry in UTF-8) are stored and queryable', async () => {
    // Random two-byte letters: PostgreSQL compresses repetitive index keys, random ones not.
    const cyrillic = (n: number) => Array.from({ length: n }, () => String.fromCharCode(0x410 + Math.floor(Math.random() * 64))).join('');
    const account = { homePage: 'http://lms.example.com', name: cyrillic(1500) };
    const activity = `http://example.com/${cyrillic(1450)}`;
    const verb = `http://example.com/verbs/${'ß'.repeat(300)}`;
    const [id] = await post(version, statement({ actor: { name: 'ñ'.repeat(2000), account }, verb: { id: verb }, object: { id: activity, definition: { name: { en: 'Long' } } }, context: { contextActivities: { parent: [{ id: activity }] } } }));
    expect(await ids(version, `agent=${enc({ account })}`)).toEqual([id]);
    expect(await ids(version, `activity=${enc(activity)}&verb=${enc(verb)}`)).toEqual([id]);
    expect(await ids(version, `activity=${enc(activity)}&related_activities=true`)).toEqual([id]);
    const canonical = await c().get(`/xapi/statements?statementId=${id}&format=canonical`);
    expect(canonical.body.object.definition).toEqual({ name: { en: 'Long' } });
    expect((await c().get(`/xapi/activities?activityId=${enc(activity)}`)).body.definition).toEqual({ name: { en: 'Long' } });
    expect((await c().get(`/xapi/agents?agent=${enc({ account })}`)).body.account).toEqual([account]);
  });

  it('Communication 2.1 — one store\'s statements are invisible from another store', async () => {
    const admin = await t.login();
    const store = await admin.post('/api/v1/lrs/stores').send({ name: `Other ${randomUUID()}` });
    const other = await createCredential(t, ['all'], store.body.id);
    const [id] = await post(version, statement());
    expect((await client(t, version, other).get(`/xapi/statements?statementId=${id}`)).status).toBe(404);
    const list = await client(t, version, other).get('/xapi/statements');
    expect(list.body.statements).toEqual([]);
  });
});
