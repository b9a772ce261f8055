import { createHash, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import XAPIModule from '@xapi/xapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenForClients, statusOf } from './interop-support.js';
import { startTestApp, type TestApp } from '../support/app.js';

/**
 * Interoperability of the statement, agents and activities resources with independent xAPI
 * client libraries from npm, against a Cairn listening on a real port: @xapi/xapi (axios;
 * 1.0.3, and 2.0.0 through its version header) and TinCanJS (xhr2; it speaks 1.0.0–1.0.2 as the
 * authoring tools that bundle it do). xAPI 1.0.3 Part 3 §2.1, §2.4, §2.5; 2.0 §4.1.6.1.
 */
// CommonJS with an ES default export; the class also carries itself as `default`.
const XAPI = XAPIModule.default;
const key = 'interop-statements';
const secret = 'interop-statements-secret-0123456789';
let t: TestApp;
let endpoint: string;
let closeServer: (() => Promise<void>) | undefined;

beforeAll(async () => {
  t = await startTestApp({ env: { CAIRN_LRS_KEY: key, CAIRN_LRS_SECRET: secret, CAIRN_XAPI_STATEMENT_PAGE_MAX: '5' } });
  const listening = await listenForClients(t.app);
  endpoint = listening.endpoint;
  closeServer = listening.close;
});
afterAll(async () => {
  await closeServer?.();
  await t?.close();
});


const attempted = { id: 'http://adlnet.gov/expapi/verbs/attempted', display: { 'en-US': 'attempted' } };
const experienced = { id: 'http://adlnet.gov/expapi/verbs/experienced', display: { 'en-US': 'experienced' } };
const learner = () => ({ objectType: 'Agent' as const, name: 'Interop Learner', mbox: `mailto:${randomUUID()}@example.com` as `mailto:${string}` });

describe.each(['1.0.3', '2.0.0'] as const)('@xapi/xapi with X-Experience-API-Version %s', (version) => {
  const xapi = () => new XAPI({ endpoint, auth: XAPI.toBasicAuth(key, secret), version: version as '1.0.3' });

  it('sends one statement, fetches it by id, and reads About (Communication 2.1.2, 2.1.3, 2.8)', async () => {
    const lrs = xapi();
    const actor = learner();
    const sent = await lrs.sendStatement({ statement: { actor, verb: XAPI.Verbs.COMPLETED, object: { objectType: 'Activity', id: `https://content.example.com/${randomUUID()}` } } });
    expect(sent.data).toHaveLength(1);
    const got = await lrs.getStatement({ statementId: sent.data[0]! });
    expect(got.data.id).toBe(sent.data[0]);
    expect(got.data.actor).toMatchObject({ mbox: actor.mbox });
    expect(got.headers['x-experience-api-version']).toBe(version);
    const about = await lrs.getAbout();
    expect(about.data.version).toContain(version);
  });

  it('sends a batch, queries with agent/verb/activity filters and follows more links (Communication 2.1.3)', async () => {
    const lrs = xapi();
    const actor = learner();
    const activity = `https://content.example.com/${randomUUID()}`;
    const statements = Array.from({ length: 8 }, (_, i) => ({ actor, verb: i % 2 === 0 ? attempted : experienced, object: { objectType: 'Activity' as const, id: activity } }));
    const ids = (await lrs.sendStatements({ statements })).data;
    expect(ids).toHaveLength(8);
    const seen: string[] = [];
    let page: { statements: Array<{ id?: string }>; more?: string } = (await lrs.getStatements({ agent: actor, activity })).data;
    seen.push(...page.statements.map((s) => s.id!));
    while (page.more) {
      page = (await lrs.getMoreStatements({ more: page.more })).data as typeof page;
      seen.push(...page.statements.map((s) => s.id!));
    }
    expect(seen).toEqual([...ids].reverse());
    const onlyAttempted = await lrs.getStatements({ agent: actor, verb: attempted.id, ascending: true });
    expect(onlyAttempted.data.statements.map((s) => s.id)).toEqual(ids.filter((_, i) => i % 2 === 0));
    expect(onlyAttempted.headers['x-experience-api-consistent-through']).toMatch(/Z$/);
  });

  it('voids a statement: gone from statementId, returned by voidedStatementId (Data 2.3.2)', async () => {
    const lrs = xapi();
    const actor = learner();
    const [id] = (await lrs.sendStatement({ statement: { actor, verb: XAPI.Verbs.PASSED, object: { objectType: 'Activity', id: `https://content.example.com/${randomUUID()}` } } })).data;
    await lrs.voidStatement({ actor, statementId: id! });
    expect(await statusOf(lrs.getStatement({ statementId: id! }))).toBe(404);
    const voided = await lrs.getVoidedStatement({ voidedStatementId: id! });
    expect(voided.data.id).toBe(id);
  });

  it('sends a statement with an attachment as multipart/mixed and gets it back with attachments=true (Communication 1.5.2)', async () => {
    // The library's default axios adapter replaces the multipart Content-Type of its Blob body
    // with application/octet-stream under Node (its browser XHR keeps it); its fetch adapter
    // sends the header it built, as a browser does.
    const lrs = new XAPI({ endpoint, auth: XAPI.toBasicAuth(key, secret), version: version as '1.0.3', adapter: 'fetch' });
    const text = `certificate ${randomUUID()}`;
    const content = new TextEncoder().encode(text);
    const statement = {
      actor: learner(), verb: XAPI.Verbs.COMPLETED, object: { objectType: 'Activity' as const, id: `https://content.example.com/${randomUUID()}` },
      attachments: [{ usageType: XAPI.AttachmentUsages.SUPPORTING_MEDIA, display: { 'en-US': 'Certificate' }, contentType: 'text/plain', length: content.byteLength, sha2: createHash('sha256').update(content).digest('hex') }],
    };
    const [id] = (await lrs.sendStatement({ statement, attachments: [content.buffer as ArrayBuffer] })).data;
    const plain = await lrs.getStatement({ statementId: id! });
    expect(plain.data.attachments?.[0]?.sha2).toBe(statement.attachments[0]!.sha2);
    const withParts = await lrs.getStatement({ statementId: id!, attachments: true });
    const raw = JSON.stringify(withParts.data);
    expect(raw).toContain(id);
    expect(raw).toContain(text);
  });

  it('reads the Person and the canonical Activity (Communication 2.4, 2.5)', async () => {
    const lrs = xapi();
    const actor = learner();
    const id = `https://content.example.com/${randomUUID()}`;
    await lrs.sendStatement({ statement: { actor, verb: experienced, object: { objectType: 'Activity', id, definition: { name: { 'en-US': 'Interop course' } } } } });
    const person = await lrs.getAgent({ agent: actor });
    expect(person.data).toMatchObject({ objectType: 'Person', mbox: [actor.mbox], name: ['Interop Learner'] });
    const activity = await lrs.getActivity({ activityId: id });
    expect(activity.data).toMatchObject({ id, definition: { name: { 'en-US': 'Interop course' } } });
  });

  it('gets 400 for an invalid statement and 409 for a conflicting id (Communication 3.2)', async () => {
    const lrs = xapi();
    expect(await statusOf(lrs.sendStatement({ statement: { actor: { objectType: 'Agent', name: 'no ifi' } as never, verb: XAPI.Verbs.COMPLETED, object: { objectType: 'Activity', id: 'https://content.example.com/x' } } }))).toBe(400);
    const id = randomUUID();
    const base = { id, actor: learner(), verb: XAPI.Verbs.COMPLETED, object: { objectType: 'Activity' as const, id: 'https://content.example.com/x' } };
    await lrs.sendStatement({ statement: base });
    expect(await statusOf(lrs.sendStatement({ statement: { ...base, verb: XAPI.Verbs.FAILED } }))).toBe(409);
  });
});

/** The parts of TinCanJS the test uses (the package ships no types). */
type Callback<T> = (err: unknown, result: T) => void;
interface TinCanStatement { id: string; actor: { mbox?: string }; verb: { id: string } }
interface TinCanStatementsResult { statements: TinCanStatement[]; more: string | null }
interface TinCanLrs {
  saveStatement(statement: unknown, cfg: { callback: Callback<unknown> }): void;
  saveStatements(statements: unknown[], cfg: { callback: Callback<unknown> }): void;
  retrieveStatement(id: string, cfg: { callback: Callback<TinCanStatement | null> }): void;
  retrieveVoidedStatement(id: string, cfg: { callback: Callback<TinCanStatement | null> }): void;
  queryStatements(cfg: { params: Record<string, unknown>; callback: Callback<TinCanStatementsResult> }): void;
  moreStatements(cfg: { url: string; callback: Callback<TinCanStatementsResult> }): void;
}
interface TinCanModule {
  LRS: new (cfg: Record<string, unknown>) => TinCanLrs;
  Statement: new (cfg: Record<string, unknown>) => TinCanStatement;
  Agent: new (cfg: Record<string, unknown>) => unknown;
  Verb: new (cfg: Record<string, unknown>) => unknown;
  Activity: new (cfg: Record<string, unknown>) => unknown;
}
const TinCan = createRequire(import.meta.url)('tincanjs') as TinCanModule;

function call<T>(run: (callback: Callback<T>) => void): Promise<[unknown, T]> {
  return new Promise((resolve) => run((err, result) => resolve([err, result])));
}

describe.each(['1.0.2', '1.0.0'] as const)('TinCanJS with X-Experience-API-Version %s', (version) => {
  const lrs = () => new TinCan.LRS({ endpoint, username: key, password: secret, version, allowFail: false });
  const tcStatement = (mbox: string, verb: string, activity: string, extra: Record<string, unknown> = {}) => new TinCan.Statement({
    actor: new TinCan.Agent({ mbox, name: 'TinCan Learner' }),
    verb: new TinCan.Verb({ id: verb, display: { 'en-US': 'did' } }),
    target: new TinCan.Activity({ id: activity }),
    ...extra,
  });

  it('saves statements one by one and as a batch, queries by agent and follows more (Communication 2.1)', async () => {
    const client = lrs();
    const mbox = `mailto:${randomUUID()}@example.com`;
    const activity = `https://content.example.com/${randomUUID()}`;
    const first = tcStatement(mbox, 'http://adlnet.gov/expapi/verbs/attempted', activity);
    const [err] = await call((callback) => client.saveStatement(first, { callback }));
    expect(err).toBeNull();
    const batch = Array.from({ length: 6 }, () => tcStatement(mbox, 'http://adlnet.gov/expapi/verbs/experienced', activity));
    const [batchErr] = await call((callback) => client.saveStatements(batch, { callback }));
    expect(batchErr).toBeNull();

    const [, fetched] = await call<TinCanStatement | null>((callback) => client.retrieveStatement(first.id, { callback }));
    expect(fetched?.id).toBe(first.id);

    const ids: string[] = [];
    let [qErr, page] = await call<TinCanStatementsResult>((callback) => client.queryStatements({ params: { agent: new TinCan.Agent({ mbox }) }, callback }));
    expect(qErr).toBeNull();
    ids.push(...page.statements.map((s) => s.id));
    while (page.more) {
      const more = page.more;
      [qErr, page] = await call<TinCanStatementsResult>((callback) => client.moreStatements({ url: more, callback }));
      expect(qErr).toBeNull();
      ids.push(...page.statements.map((s) => s.id));
    }
    expect(new Set(ids)).toEqual(new Set([first.id, ...batch.map((s) => s.id)]));
    expect(ids).toHaveLength(7);
  });

  it('voids a statement with a TinCanJS voiding statement (Data 2.3.2)', async () => {
    const client = lrs();
    const mbox = `mailto:${randomUUID()}@example.com`;
    const target = tcStatement(mbox, 'http://adlnet.gov/expapi/verbs/passed', `https://content.example.com/${randomUUID()}`);
    await call((callback) => client.saveStatement(target, { callback }));
    const voiding = new TinCan.Statement({
      actor: new TinCan.Agent({ mbox }),
      verb: new TinCan.Verb({ id: 'http://adlnet.gov/expapi/verbs/voided' }),
      target: { objectType: 'StatementRef', id: target.id },
    });
    const [err] = await call((callback) => client.saveStatement(voiding, { callback }));
    expect(err).toBeNull();
    const [, voided] = await call<TinCanStatement | null>((callback) => client.retrieveVoidedStatement(target.id, { callback }));
    expect(voided?.id).toBe(target.id);
    const [missingErr] = await call<TinCanStatement | null>((callback) => client.retrieveStatement(target.id, { callback }));
    expect(missingErr).not.toBeNull();
  });
});
