import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../../../test/support/app.js';
import { client, startLrs, statement, versions, voidedVerbId, voiding } from '../support.js';

/** Voiding: xAPI 1.0.3 Part 2 §2.3.2, Part 3 §2.1.4; 2.0 §4.2.5 (IEEE 9274.1.1). */
let t: TestApp;
beforeAll(async () => { t = await startLrs(); });
afterAll(async () => { await t?.close(); });

const enc = (v: string | object) => encodeURIComponent(typeof v === 'string' ? v : JSON.stringify(v));

describe.each(versions)('xAPI %s', (version) => {
  const c = () => client(t, version);
  const post = async (body: unknown) => {
    const res = await c().post('/xapi/statements').send(body as object);
    expect(res.status, res.text).toBe(200);
    return res.body as string[];
  };

  it('Data 2.3.2 — a voided statement is gone from queries and statementId (404), and returned by voidedStatementId', async () => {
    const verb = `http://example.com/verbs/${randomUUID()}`;
    const [target] = await post(statement({ verb: { id: verb } }));
    const [voider] = await post(voiding(target!));
    expect((await c().get(`/xapi/statements?statementId=${target}`)).status).toBe(404);
    const voided = await c().get(`/xapi/statements?voidedStatementId=${target}`);
    expect(voided.status).toBe(200);
    expect(voided.body.id).toBe(target);
    // Only the voiding statement: it targets a statement with this verb (Filter Conditions for
    // StatementRefs, Communication 2.1.3), while the voided statement itself is never returned.
    const list = await c().get(`/xapi/statements?verb=${enc(verb)}`);
    expect((list.body.statements as Array<{ id: string }>).map((s) => s.id)).toEqual([voider]);
    // The voiding statement itself is an ordinary statement.
    const voidingStatement = await c().get(`/xapi/statements?statementId=${voider}`);
    expect(voidingStatement.status).toBe(200);
    const byVerb = await c().get(`/xapi/statements?verb=${enc(voidedVerbId)}`);
    expect((byVerb.body.statements as Array<{ id: string }>).map((s) => s.id)).toContain(voider);
  });

  it('Communication 2.1.3 — voidedStatementId of a statement that is not voided is 404', async () => {
    const [id] = await post(statement());
    expect((await c().get(`/xapi/statements?voidedStatementId=${id}`)).status).toBe(404);
  });

  it('Data 2.3.2 — statements that reference a voided statement are still returned', async () => {
    const [target] = await post(statement());
    const [referrer] = await post(statement({ object: { objectType: 'StatementRef', id: target } }));
    await post(voiding(target!));
    expect((await c().get(`/xapi/statements?statementId=${referrer}`)).status).toBe(200);
  });

  it('Data 2.3.2 — a voiding statement cannot target another voiding statement (400)', async () => {
    const [target] = await post(statement());
    const [voider] = await post(voiding(target!));
    const res = await c().post('/xapi/statements').send(voiding(voider!));
    expect(res.status).toBe(400);
    expect((await c().get(`/xapi/statements?statementId=${voider}`)).status).toBe(200);
  });

  it('Data 2.3.2 — voiding a voiding statement of the same batch is rejected with the whole batch', async () => {
    const [target] = await post(statement());
    const first = { ...voiding(target!), id: randomUUID() };
    const res = await c().post('/xapi/statements').send([first, voiding(first.id)]);
    expect(res.status).toBe(400);
    expect((await c().get(`/xapi/statements?statementId=${target}`)).status).toBe(200);
  });

  it('Data 2.3.2 — a voiding statement must have a StatementRef object', async () => {
    const res = await c().post('/xapi/statements').send(statement({ verb: { id: voidedVerbId } }));
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/StatementRef/);
  });

  it('Data 2.3.2 — a voiding statement whose target is unknown is accepted, and voids the target when it arrives later', async () => {
    const target = { ...statement(), id: randomUUID() };
    await post(voiding(target.id));
    await post(target);
    expect((await c().get(`/xapi/statements?statementId=${target.id}`)).status).toBe(404);
    expect((await c().get(`/xapi/statements?voidedStatementId=${target.id}`)).status).toBe(200);
  });

  it('Data 2.3.2 — a statement and its voiding statement in one batch: the target is voided', async () => {
    const target = { ...statement(), id: randomUUID() };
    await post([target, voiding(target.id)]);
    expect((await c().get(`/xapi/statements?statementId=${target.id}`)).status).toBe(404);
    expect((await c().get(`/xapi/statements?voidedStatementId=${target.id}`)).status).toBe(200);
  });

  it('Data 2.3.2 — voided statements are excluded from agent, activity and related queries', async () => {
    const who = { mbox: `mailto:void-${randomUUID()}@example.com` };
    const activity = `http://example.com/activities/${randomUUID()}`;
    const [target] = await post(statement({ actor: who, object: { id: activity }, context: { contextActivities: { parent: [{ id: activity }] } } }));
    await post(voiding(target!));
    for (const q of [`agent=${enc(who)}`, `agent=${enc(who)}&related_agents=true`, `activity=${enc(activity)}`, `activity=${enc(activity)}&related_activities=true`]) {
      const res = await c().get(`/xapi/statements?${q}`);
      expect((res.body.statements as Array<{ id: string }>).map((s) => s.id), q).not.toContain(target);
    }
  });
});
