import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';

/**
 * Shared setup for the document-resource conformance tests: a real Cairn on a fresh database
 * with a seeded `all`-scope credential, and a small client that sends xAPI requests with the
 * version header and Basic auth of one credential.
 */
export const seededKey = 'documents-conformance';
export const seededSecret = 'documents-conformance-secret-0123456789';

export const versions = ['1.0.3', '2.0.0'] as const;
export type Version = (typeof versions)[number];

export type Query = Record<string, string | undefined>;

export interface XapiClient {
  get(path: string, query: Query, headers?: Record<string, string>): request.Test;
  head(path: string, query: Query, headers?: Record<string, string>): request.Test;
  put(path: string, query: Query, body: unknown, headers?: Record<string, string>): request.Test;
  post(path: string, query: Query, body: unknown, headers?: Record<string, string>): request.Test;
  delete(path: string, query: Query, headers?: Record<string, string>): request.Test;
}

const basic = (key: string, secret: string) => `Basic ${Buffer.from(`${key}:${secret}`).toString('base64')}`;

function search(query: Query): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.append(k, v);
  const s = params.toString();
  return s ? `?${s}` : '';
}

/**
 * Bodies: a Buffer is sent as bytes, a string as text, anything else as JSON. Unless a
 * Content-Type header is given, JSON bodies are `application/json` and others
 * `application/octet-stream`.
 */
function withBody(test: request.Test, body: unknown, headers: Record<string, string>): request.Test {
  const hasType = Object.keys(headers).some((h) => h.toLowerCase() === 'content-type');
  if (Buffer.isBuffer(body) || typeof body === 'string') {
    if (!hasType) void test.set('Content-Type', 'application/octet-stream');
    // superagent would JSON-serialize a Buffer sent as application/json; send the bytes.
    return test.serialize((b: unknown) => b as string).send(body);
  }
  if (!hasType) void test.set('Content-Type', 'application/json');
  return test.send(JSON.stringify(body));
}

export function client(t: TestApp, version: string, key = seededKey, secret = seededSecret): XapiClient {
  const base = (test: request.Test, headers: Record<string, string> = {}) => {
    void test.set('X-Experience-API-Version', version).set('Authorization', basic(key, secret));
    for (const [k, v] of Object.entries(headers)) void test.set(k, v);
    return test;
  };
  return {
    get: (path, query, headers) => base(request(t.app).get(`/xapi${path}${search(query)}`), headers),
    head: (path, query, headers) => base(request(t.app).head(`/xapi${path}${search(query)}`), headers),
    put: (path, query, body, headers = {}) => withBody(base(request(t.app).put(`/xapi${path}${search(query)}`), headers), body, headers),
    post: (path, query, body, headers = {}) => withBody(base(request(t.app).post(`/xapi${path}${search(query)}`), headers), body, headers),
    delete: (path, query, headers) => base(request(t.app).delete(`/xapi${path}${search(query)}`), headers),
  };
}

export async function startLrs(env: Record<string, string> = {}): Promise<TestApp> {
  return startTestApp({ env: { CAIRN_LRS_KEY: seededKey, CAIRN_LRS_SECRET: seededSecret, ...env } });
}

/** Creates a store (or uses `storeId`) and a credential with the given scopes through the admin API. */
export async function createCredential(t: TestApp, scopes: string[], storeId?: string): Promise<{ key: string; secret: string; storeId: string }> {
  const admin = await t.login();
  let store = storeId;
  if (!store) {
    const res = await admin.post('/api/v1/lrs/stores').send({ name: `Store ${randomUUID()}` });
    if (res.status !== 201) throw new Error(`creating a store failed: ${res.status} ${JSON.stringify(res.body)}`);
    store = res.body.id as string;
  }
  const cred = await admin.post(`/api/v1/lrs/stores/${store}/credentials`).send({ name: `Credential ${randomUUID()}`, scopes });
  if (cred.status !== 201) throw new Error(`creating a credential failed: ${cred.status} ${JSON.stringify(cred.body)}`);
  return { key: cred.body.key, secret: cred.body.secret, storeId: store };
}

export function agentOf(name = randomUUID()): Record<string, unknown> {
  return { objectType: 'Agent', account: { homePage: 'http://www.example.com/agentId', name } };
}

/** Fresh parameters for one State document (a new activity, agent and stateId each call). */
export function stateParams(extra: Query = {}): Query {
  return { activityId: `http://www.example.com/activities/${randomUUID()}`, agent: JSON.stringify(agentOf()), stateId: randomUUID(), ...extra };
}

export function activityProfileParams(extra: Query = {}): Query {
  return { activityId: `http://www.example.com/activities/${randomUUID()}`, profileId: randomUUID(), ...extra };
}

export function agentProfileParams(extra: Query = {}): Query {
  return { agent: JSON.stringify(agentOf()), profileId: randomUUID(), ...extra };
}

export function documentBody(): Record<string, unknown> {
  return { name: randomUUID(), location: { name: randomUUID() }, [randomUUID()]: randomUUID() };
}

export const paths = { state: '/activities/state', activityProfile: '/activities/profile', agentProfile: '/agents/profile' } as const;

/** The three resources with fresh parameters and the name of their id parameter. */
export const documentResources = [
  { name: 'State', path: paths.state, idParameter: 'stateId', params: stateParams },
  { name: 'Activity Profile', path: paths.activityProfile, idParameter: 'profileId', params: activityProfileParams },
  { name: 'Agent Profile', path: paths.agentProfile, idParameter: 'profileId', params: agentProfileParams },
] as const;

/** Headers a first write needs so it is accepted whatever the resource's concurrency rule. */
export const createOnly = { 'If-None-Match': '*' };
