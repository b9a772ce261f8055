import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import XAPIModule from '@xapi/xapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenForClients, statusOf } from './interop-support.js';
import { startTestApp, type TestApp } from '../support/app.js';

/**
 * Interoperability of the document resources with independent xAPI client libraries from npm,
 * against a Cairn listening on a real port: @xapi/xapi (axios; 1.0.3 and 2.0.0) and TinCanJS
 * (XMLHttpRequest via xhr2; it speaks 1.0.0–1.0.2, as the authoring tools that bundle it do).
 * xAPI 1.0.3 Part 3 §2.2–2.7 and §3.1; 2.0 §4.1.4 and §4.1.6.
 */
// The package is CommonJS with an ES default export; its class also carries itself as
// `default`, which is what both module systems agree on.
const XAPI = XAPIModule.default;
const key = 'interop-documents';
const secret = 'interop-documents-secret-0123456789';
let t: TestApp;
let endpoint: string;
let closeServer: (() => Promise<void>) | undefined;

beforeAll(async () => {
  t = await startTestApp({ env: { CAIRN_LRS_KEY: key, CAIRN_LRS_SECRET: secret } });
  const listening = await listenForClients(t.app);
  endpoint = listening.endpoint;
  closeServer = listening.close;
});
afterAll(async () => {
  await closeServer?.();
  await t?.close();
});


const agent = () => ({ objectType: 'Agent' as const, account: { homePage: 'https://lms.example.com', name: randomUUID() } });

describe.each(['1.0.3', '2.0.0'] as const)('@xapi/xapi with X-Experience-API-Version %s', (version) => {
  // Its types list only 1.0.x, but the library sends whatever version it is given as the header.
  const xapi = () => new XAPI({ endpoint, auth: XAPI.toBasicAuth(key, secret), version: version as '1.0.3' });

  it(`sets, reads, updates with If-Match, merges, lists and deletes State documents (xAPI 1.0.3 Part 3 §2.3, §3.1; 2.0 §4.1.6.2)`, async () => {
    const lrs = xapi();
    const params = { agent: agent(), activityId: `https://content.example.com/${randomUUID()}`, registration: randomUUID() };
    await lrs.setState({ ...params, stateId: 'bookmark', state: { page: 1 } });
    const first = await lrs.getState({ ...params, stateId: 'bookmark' });
    expect(first.data).toEqual({ page: 1 });
    const etag = first.headers['etag'] as string;
    expect(etag).toMatch(/^"[0-9a-f]{40}"$/);

    await lrs.setState({ ...params, stateId: 'bookmark', state: { page: 2 }, etag, matchHeader: 'If-Match' });
    expect((await lrs.getState({ ...params, stateId: 'bookmark', useCacheBuster: true })).data).toEqual({ page: 2 });
    // The ETag read before the update is stale now.
    expect(await statusOf(lrs.setState({ ...params, stateId: 'bookmark', state: { page: 9 }, etag, matchHeader: 'If-Match' }))).toBe(412);
    // Without a precondition, 1.0.3 lets State be replaced; 2.0 (as the ADL 2.0 suite reads it) does not.
    const unconditional = await statusOf(lrs.setState({ ...params, stateId: 'bookmark', state: { page: 3 } }));
    expect(unconditional).toBe(version === '1.0.3' ? 200 : 409);

    await lrs.createState({ ...params, stateId: 'bookmark', state: { visited: [1, 2] } });
    const merged = await lrs.getState({ ...params, stateId: 'bookmark' });
    expect(merged.data).toEqual({ page: version === '1.0.3' ? 3 : 2, visited: [1, 2] });

    await lrs.setState({ ...params, stateId: 'suspend_data', state: { s: 'x' } });
    expect([...(await lrs.getStates(params)).data].sort()).toEqual(['bookmark', 'suspend_data']);
    await lrs.deleteState({ ...params, stateId: 'bookmark', etag: merged.headers['etag'] as string });
    expect(await statusOf(lrs.getState({ ...params, stateId: 'bookmark' }))).toBe(404);
    await lrs.deleteStates(params);
    expect((await lrs.getStates(params)).data).toEqual([]);
  });

  it(`creates, updates with If-Match, lists and deletes Activity Profile documents (xAPI 1.0.3 Part 3 §2.7, §3.1; 2.0 §4.1.6.6)`, async () => {
    const lrs = xapi();
    const activityId = `https://content.example.com/${randomUUID()}`;
    await lrs.setActivityProfile({ activityId, profileId: 'settings', profile: { theme: 'dark' }, etag: '*', matchHeader: 'If-None-Match' });
    expect(await statusOf(lrs.setActivityProfile({ activityId, profileId: 'settings', profile: { theme: 'light' }, etag: '*', matchHeader: 'If-None-Match' }))).toBe(412);
    const got = await lrs.getActivityProfile({ activityId, profileId: 'settings' });
    expect(got.data).toEqual({ theme: 'dark' });
    await lrs.setActivityProfile({ activityId, profileId: 'settings', profile: { theme: 'light' }, etag: got.headers['etag'] as string, matchHeader: 'If-Match' });
    await lrs.createActivityProfile({ activityId, profileId: 'settings', profile: { font: 'serif' } });
    const updated = await lrs.getActivityProfile({ activityId, profileId: 'settings' });
    expect(updated.data).toEqual({ theme: 'light', font: 'serif' });
    expect((await lrs.getActivityProfiles({ activityId })).data).toEqual(['settings']);
    expect(await statusOf(lrs.deleteActivityProfile({ activityId, profileId: 'settings', etag: got.headers['etag'] as string }))).toBe(412);
    await lrs.deleteActivityProfile({ activityId, profileId: 'settings', etag: updated.headers['etag'] as string });
    expect(await statusOf(lrs.getActivityProfile({ activityId, profileId: 'settings' }))).toBe(404);
  });

  it(`creates, updates with If-Match, lists and deletes Agent Profile documents, and a PUT without preconditions over one is 409 (xAPI 1.0.3 Part 3 §2.6, §3.1; 2.0 §4.1.6.5)`, async () => {
    const lrs = xapi();
    const learner = agent();
    await lrs.createAgentProfile({ agent: learner, profileId: 'preferences', profile: { language: 'fr' } });
    const got = await lrs.getAgentProfile({ agent: learner, profileId: 'preferences' });
    expect(got.data).toEqual({ language: 'fr' });
    expect(await statusOf(lrs.setAgentProfile({ agent: learner, profileId: 'preferences', profile: { language: 'de' }, etag: '', matchHeader: 'If-Match' }))).toBe(409);
    await lrs.setAgentProfile({ agent: learner, profileId: 'preferences', profile: { language: 'de' }, etag: got.headers['etag'] as string, matchHeader: 'If-Match' });
    expect((await lrs.getAgentProfile({ agent: learner, profileId: 'preferences' })).data).toEqual({ language: 'de' });
    expect((await lrs.getAgentProfiles({ agent: learner })).data).toEqual(['preferences']);
    await lrs.deleteAgentProfile({ agent: learner, profileId: 'preferences' });
    expect((await lrs.getAgentProfiles({ agent: learner })).data).toEqual([]);
  });
});

/** The parts of TinCanJS the test uses (the package ships no types). */
interface TinCanResult { etag: string; contents: unknown; contentType: string }
type Callback<T> = (err: unknown, result: T) => void;
interface TinCanLrs {
  saveState(key: string, value: unknown, cfg: Record<string, unknown> & { callback: Callback<unknown> }): void;
  retrieveState(key: string, cfg: Record<string, unknown> & { callback: Callback<TinCanResult | null> }): void;
  retrieveStateIds(cfg: Record<string, unknown> & { callback: Callback<string[]> }): void;
  dropState(key: string | null, cfg: Record<string, unknown> & { callback: Callback<unknown> }): void;
  saveActivityProfile(key: string, value: unknown, cfg: Record<string, unknown> & { callback: Callback<unknown> }): void;
  retrieveActivityProfile(key: string, cfg: Record<string, unknown> & { callback: Callback<TinCanResult | null> }): void;
  retrieveActivityProfileIds(cfg: Record<string, unknown> & { callback: Callback<string[]> }): void;
  dropActivityProfile(key: string, cfg: Record<string, unknown> & { callback: Callback<unknown> }): void;
  saveAgentProfile(key: string, value: unknown, cfg: Record<string, unknown> & { callback: Callback<unknown> }): void;
  retrieveAgentProfile(key: string, cfg: Record<string, unknown> & { callback: Callback<TinCanResult | null> }): void;
  dropAgentProfile(key: string, cfg: Record<string, unknown> & { callback: Callback<unknown> }): void;
}
interface TinCanModule {
  LRS: new (cfg: Record<string, unknown>) => TinCanLrs;
  Agent: new (cfg: Record<string, unknown>) => unknown;
  Activity: new (cfg: Record<string, unknown>) => { id: string };
}
const TinCan = createRequire(import.meta.url)('tincanjs') as TinCanModule;

/** Calls a TinCanJS method with a node-style callback; resolves with `[err, result]`. */
function call<T>(invoke: (callback: Callback<T>) => void): Promise<[unknown, T]> {
  return new Promise((resolve) => invoke((err, result) => resolve([err, result])));
}

/** TinCanJS reports HTTP failures as `err` = the status code (allowFail) or the xhr. */
function failed(err: unknown): boolean {
  return err !== null && err !== undefined;
}

describe.each(['1.0.2', '1.0.0'] as const)('TinCanJS with X-Experience-API-Version %s', (version) => {
  const lrs = () => new TinCan.LRS({ endpoint, username: key, password: secret, version, allowFail: false });

  it(`saves, retrieves, updates with its lastSHA1, merges with POST, lists and drops State (xAPI 1.0.3 Part 3 §2.3, §3.1)`, async () => {
    const client = lrs();
    const cfg = { activity: new TinCan.Activity({ id: `https://content.example.com/${randomUUID()}` }), agent: new TinCan.Agent({ mbox: `mailto:${randomUUID()}@example.com` }), registration: randomUUID() };
    const [saveErr] = await call((callback) => client.saveState('cmi.suspend_data', { progress: 10 }, { ...cfg, contentType: 'application/json', callback }));
    expect(failed(saveErr)).toBe(false);
    const [, state] = await call<TinCanResult | null>((callback) => client.retrieveState('cmi.suspend_data', { ...cfg, callback }));
    expect(state?.contents).toEqual({ progress: 10 });
    expect(state?.etag).toMatch(/^"[0-9a-f]{40}"$/);

    const [updateErr] = await call((callback) => client.saveState('cmi.suspend_data', { progress: 20 }, { ...cfg, contentType: 'application/json', lastSHA1: state!.etag, callback }));
    expect(failed(updateErr)).toBe(false);
    const [staleErr] = await call((callback) => client.saveState('cmi.suspend_data', { progress: 99 }, { ...cfg, contentType: 'application/json', lastSHA1: state!.etag, callback }));
    expect(failed(staleErr)).toBe(true);
    const [mergeErr] = await call((callback) => client.saveState('cmi.suspend_data', { location: 'p3' }, { ...cfg, contentType: 'application/json', method: 'POST', callback }));
    expect(failed(mergeErr)).toBe(false);
    const [, merged] = await call<TinCanResult | null>((callback) => client.retrieveState('cmi.suspend_data', { ...cfg, callback }));
    expect(merged?.contents).toEqual({ progress: 20, location: 'p3' });

    // TinCanJS's default content type is application/octet-stream: text round-trips untouched.
    const text = 'a=1&b=ünïcödé\u0000end';
    await call((callback) => client.saveState('raw', text, { ...cfg, callback }));
    const [, raw] = await call<TinCanResult | null>((callback) => client.retrieveState('raw', { ...cfg, callback }));
    expect(raw?.contents).toBe(text);
    expect(raw?.contentType).toBe('application/octet-stream');

    const [, ids] = await call<string[]>((callback) => client.retrieveStateIds({ ...cfg, callback }));
    expect([...ids].sort()).toEqual(['cmi.suspend_data', 'raw']);
    await call((callback) => client.dropState('raw', { ...cfg, callback }));
    const [, gone] = await call<TinCanResult | null>((callback) => client.retrieveState('raw', { ...cfg, callback }));
    expect(gone).toBeNull();
    await call((callback) => client.dropState(null, { ...cfg, callback }));
    const [, none] = await call<string[]>((callback) => client.retrieveStateIds({ ...cfg, callback }));
    expect(none).toEqual([]);
  });

  it(`saves Activity and Agent Profiles with If-None-Match: * then If-Match, retrieves and drops them (xAPI 1.0.3 Part 3 §2.6, §2.7, §3.1)`, async () => {
    const client = lrs();
    const activity = new TinCan.Activity({ id: `https://content.example.com/${randomUUID()}` });
    const [createErr] = await call((callback) => client.saveActivityProfile('config', { v: 1 }, { activity, contentType: 'application/json', callback }));
    expect(failed(createErr)).toBe(false);
    // A second create (If-None-Match: *) must not overwrite.
    const [dupErr] = await call((callback) => client.saveActivityProfile('config', { v: 'lost' }, { activity, contentType: 'application/json', callback }));
    expect(failed(dupErr)).toBe(true);
    const [, profile] = await call<TinCanResult | null>((callback) => client.retrieveActivityProfile('config', { activity, callback }));
    expect(profile?.contents).toEqual({ v: 1 });
    const [updErr] = await call((callback) => client.saveActivityProfile('config', { v: 2 }, { activity, contentType: 'application/json', lastSHA1: profile!.etag, callback }));
    expect(failed(updErr)).toBe(false);
    const [, ids] = await call<string[]>((callback) => client.retrieveActivityProfileIds({ activity, callback }));
    expect(ids).toEqual(['config']);
    await call((callback) => client.dropActivityProfile('config', { activity, callback }));
    const [, dropped] = await call<TinCanResult | null>((callback) => client.retrieveActivityProfile('config', { activity, callback }));
    expect(dropped).toBeNull();

    const agentObj = new TinCan.Agent({ account: { homePage: 'https://lms.example.com', name: randomUUID() } });
    await call((callback) => client.saveAgentProfile('prefs', { sound: false }, { agent: agentObj, contentType: 'application/json', callback }));
    const [, prefs] = await call<TinCanResult | null>((callback) => client.retrieveAgentProfile('prefs', { agent: agentObj, callback }));
    expect(prefs?.contents).toEqual({ sound: false });
    const [updAgentErr] = await call((callback) => client.saveAgentProfile('prefs', { sound: true }, { agent: agentObj, contentType: 'application/json', lastSHA1: prefs!.etag, callback }));
    expect(failed(updAgentErr)).toBe(false);
    const [, after] = await call<TinCanResult | null>((callback) => client.retrieveAgentProfile('prefs', { agent: agentObj, callback }));
    expect(after?.contents).toEqual({ sound: true });
    await call((callback) => client.dropAgentProfile('prefs', { agent: agentObj, callback }));
    const [, droppedAgent] = await call<TinCanResult | null>((callback) => client.retrieveAgentProfile('prefs', { agent: agentObj, callback }));
    expect(droppedAgent).toBeNull();
  });
});
