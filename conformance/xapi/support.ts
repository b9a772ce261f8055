import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { startTestApp, type TestApp } from '../../test/support/app.js';

/**
 * Shared by the xAPI conformance tests: a Cairn on a fresh database with a seeded `all`
 * credential, and request builders that send what an xAPI client sends.
 */
export const seededKey = 'conformance-key';
export const seededSecret = 'conformance-secret-0123456789';

export type Version = '1.0.3' | '2.0.0';
export const versions: readonly Version[] = ['1.0.3', '2.0.0'];

export function basic(key: string, secret: string): string {
  return `Basic ${Buffer.from(`${key}:${secret}`).toString('base64')}`;
}

export async function startLrs(env: Record<string, string> = {}): Promise<TestApp> {
  return startTestApp({ env: { CAIRN_LRS_KEY: seededKey, CAIRN_LRS_SECRET: seededSecret, ...env } });
}

export interface Client {
  get(path: string): request.Test;
  head(path: string): request.Test;
  put(path: string): request.Test;
  post(path: string): request.Test;
  delete(path: string): request.Test;
}

/** Requests with the version header and Basic credentials (the seeded ones by default). */
export function client(t: TestApp, version: Version, credentials: { key: string; secret: string } = { key: seededKey, secret: seededSecret }): Client {
  const auth = basic(credentials.key, credentials.secret);
  const wrap = (r: request.Test) => r.set('X-Experience-API-Version', version).set('Authorization', auth);
  const agent = request(t.app);
  return {
    get: (path) => wrap(agent.get(path)),
    head: (path) => wrap(agent.head(path)),
    put: (path) => wrap(agent.put(path)),
    post: (path) => wrap(agent.post(path)),
    delete: (path) => wrap(agent.delete(path)),
  };
}

/** Creates a store credential with the given scopes through the admin API. */
export async function createCredential(t: TestApp, scopes: string[], storeId?: string): Promise<{ key: string; secret: string; id: string; storeId: string }> {
  const admin = await t.login();
  let store = storeId;
  if (!store) {
    const stores = await admin.get('/api/v1/lrs/stores');
    store = (stores.body.data as Array<{ id: string; is_default: boolean }>).find((s) => s.is_default)!.id;
  }
  const res = await admin.post(`/api/v1/lrs/stores/${store}/credentials`).send({ name: `cred ${randomUUID().slice(0, 8)}`, scopes });
  if (res.status !== 201) throw new Error(`credential: ${res.status} ${JSON.stringify(res.body)}`);
  return { key: res.body.key, secret: res.body.secret, id: res.body.id, storeId: store };
}

let counter = 0;
/** A valid statement with unique actor and activity unless overridden. */
export function statement(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  return {
    actor: { objectType: 'Agent', name: `Learner ${counter}`, mbox: `mailto:learner-${counter}-${randomUUID().slice(0, 8)}@example.com` },
    verb: { id: 'http://adlnet.gov/expapi/verbs/experienced', display: { 'en-US': 'experienced' } },
    object: { objectType: 'Activity', id: `http://example.com/activities/${randomUUID()}`, definition: { name: { 'en-US': 'An activity' } } },
    ...overrides,
  };
}

export const voidedVerbId = 'http://adlnet.gov/expapi/verbs/voided';

export function voiding(targetId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return statement({ verb: { id: voidedVerbId, display: { 'en-US': 'voided' } }, object: { objectType: 'StatementRef', id: targetId }, ...overrides });
}
