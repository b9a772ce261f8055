import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';

/**
 * "Never a 500 for a client mistake", checked across the whole admin API rather than endpoint
 * by endpoint: every operation the OpenAPI document lists is called by a logged-in system
 * administrator (who passes every role check, so the input is what gets judged) with hostile
 * path parameters, query parameters and bodies. Each answer must be a 4xx problem+json — or a
 * success, where the input happens to be acceptable — never a 5xx.
 */
const lrsKey = 'sweep-key';
const lrsSecret = 'sweep-secret-0123456789';
let t: TestApp;
let admin: Awaited<ReturnType<TestApp['login']>>;

interface Operation {
  readonly path: string;
  readonly method: string;
  readonly query: string[];
  readonly hasBody: boolean;
}

let operations: Operation[] = [];

beforeAll(async () => {
  // With the job queue, as `npm start` runs: package uploads are accepted only then.
  t = await startTestApp({ jobs: true, env: { CAIRN_LRS_KEY: lrsKey, CAIRN_LRS_SECRET: lrsSecret } });
  admin = await t.login();
  const doc = t.openApi as { paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string }>; requestBody?: unknown }>> };
  operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods)
    // Logging out would end the session the sweep runs in; its input is an empty body anyway.
    .filter(([method]) => method !== 'parameters' && !path.endsWith('/auth/logout'))
    .map(([method, op]) => ({
      path, method,
      query: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
      hasBody: op.requestBody !== undefined,
    })));
}, 120_000);
afterAll(async () => { await t?.close(); });

const hostileSegments = [
  'not-a-uuid',
  "1' or '1'='1",
  'x'.repeat(3000),
  '%00',
  '..%2F..%2Fetc%2Fpasswd',
  '%E0%A4%A', // broken percent-encoding
  '-1',
  '99999999999999999999999',
];

const hostileQueryValues = ['zzz', '-1', '0', '99999999999999999999', '', '%E0%A4%A', '{"a":', '2026-13-45T99:99:99Z'];

const hostileBodies: Array<{ name: string; type: string; body: string }> = [
  { name: 'malformed JSON', type: 'application/json', body: '{"title": "x",' },
  { name: 'a JSON array', type: 'application/json', body: '[1,2,3]' },
  { name: 'a JSON string', type: 'application/json', body: '"hello"' },
  { name: 'JSON null', type: 'application/json', body: 'null' },
  { name: 'an unknown field', type: 'application/json', body: '{"zzz_unknown": 1}' },
  { name: 'wrong types everywhere', type: 'application/json', body: JSON.stringify({ name: 42, title: [], email: {}, role: 7, scopes: 'all', limit: 'x', score_given: 'ten', starts_at: 'yesterday', password: 5 }) },
  { name: 'form encoding', type: 'application/x-www-form-urlencoded', body: 'a=1&b=2' },
  { name: 'deep nesting', type: 'application/json', body: `${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}` },
];

function fill(path: string, value: string): string {
  return path.replace(/\{[^}]+\}/g, value);
}

async function call(method: string, url: string, body?: { type: string; body: string }) {
  let req = admin[method as 'get'](url);
  if (body) req = req.set('Content-Type', body.type).send(body.body);
  return req;
}

function expectNo5xx(res: { status: number; headers: Record<string, string>; text: string }, what: string): void {
  expect(res.status, `${what} → ${res.status} ${res.text.slice(0, 300)}`).toBeLessThan(500);
  if (res.status >= 400) expect(res.headers['content-type'], `${what} answered ${res.status} without problem+json`).toMatch(/^application\/problem\+json/);
}

describe('hostile input across the admin API (OpenAPI sweep)', () => {
  it('finds the operations to sweep', () => {
    expect(operations.length).toBeGreaterThan(50);
  });

  it('path parameters: malformed ids, injection, overlong, encoded traversal, broken encoding', async () => {
    for (const op of operations.filter((o) => o.path.includes('{'))) {
      for (const segment of hostileSegments) {
        const url = fill(op.path, segment);
        const res = await call(op.method, url, op.hasBody ? { type: 'application/json', body: '{}' } : undefined);
        expectNo5xx(res, `${op.method.toUpperCase()} ${url.slice(0, 120)}`);
      }
    }
  }, 300_000);

  it('query parameters: wrong types, out of range, empty, broken encoding, repeated', async () => {
    for (const op of operations.filter((o) => o.query.length > 0)) {
      const path = fill(op.path, randomUUID());
      for (const name of op.query) {
        for (const value of hostileQueryValues) {
          const url = `${path}?${name}=${value}`;
          const res = await call(op.method, url, op.hasBody ? { type: 'application/json', body: '{}' } : undefined);
          expectNo5xx(res, `${op.method.toUpperCase()} ${url}`);
        }
        const repeated = `${path}?${name}=a&${name}=b`;
        expectNo5xx(await call(op.method, repeated, op.hasBody ? { type: 'application/json', body: '{}' } : undefined), `${op.method.toUpperCase()} ${repeated}`);
      }
    }
  }, 300_000);

  it('bodies: malformed JSON, wrong JSON types, unknown fields, wrong types, form encoding, deep nesting', async () => {
    for (const op of operations.filter((o) => o.hasBody)) {
      const url = fill(op.path, randomUUID());
      for (const body of hostileBodies) {
        const res = await call(op.method, url, body);
        expectNo5xx(res, `${op.method.toUpperCase()} ${url} with ${body.name}`);
      }
    }
  }, 300_000);
});

/**
 * The same sweep over the LRS: every resource and parameter the spec defines, with hostile
 * values, for both versions. xAPI errors keep the LRS's own shape; the rule is still no 5xx.
 */
describe('hostile input across /xapi', () => {
  const agent = encodeURIComponent(JSON.stringify({ mbox: 'mailto:sweep@example.com' }));
  const activity = encodeURIComponent('http://example.com/activity');
  const resources: Array<{ path: string; methods: string[]; params: string[]; base?: string }> = [
    { path: '/xapi/statements', methods: ['get', 'head', 'put', 'post'], params: ['statementId', 'voidedStatementId', 'agent', 'verb', 'activity', 'registration', 'related_activities', 'related_agents', 'since', 'until', 'limit', 'format', 'attachments', 'ascending', 'more'] },
    { path: '/xapi/activities/state', methods: ['get', 'head', 'put', 'post', 'delete'], params: ['activityId', 'agent', 'stateId', 'registration', 'since'], base: `activityId=${activity}&agent=${agent}` },
    { path: '/xapi/activities/profile', methods: ['get', 'head', 'put', 'post', 'delete'], params: ['activityId', 'profileId', 'since'], base: `activityId=${activity}` },
    { path: '/xapi/agents/profile', methods: ['get', 'head', 'put', 'post', 'delete'], params: ['agent', 'profileId', 'since'], base: `agent=${agent}` },
    { path: '/xapi/agents', methods: ['get', 'head'], params: ['agent'] },
    { path: '/xapi/activities', methods: ['get', 'head'], params: ['activityId'] },
    { path: '/xapi/about', methods: ['get', 'head'], params: [] },
  ];
  const values = [...hostileQueryValues, '{"objectType":"Agent"}', '{"mbox":"not-a-mailto"}', '[]', 'x'.repeat(5000)];
  const auth = `Basic ${Buffer.from(`${lrsKey}:${lrsSecret}`).toString('base64')}`;

  async function xapi(method: string, url: string, version: string, body?: { type: string; body: string }) {
    const agentRequest = (await import('supertest')).default(t.app);
    let req = agentRequest[method as 'get'](url).set('Authorization', auth).set('X-Experience-API-Version', version);
    if (body) req = req.set('Content-Type', body.type).send(body.body);
    return req;
  }

  for (const version of ['1.0.3', '2.0.0']) {
    it(`parameters and bodies, version ${version}`, async () => {
      for (const r of resources) {
        for (const method of r.methods) {
          for (const name of r.params) {
            for (const value of values) {
              const url = `${r.path}?${r.base ? `${r.base}&` : ''}${name}=${value}`;
              const res = await xapi(method, url, version, ['put', 'post'].includes(method) ? { type: 'application/json', body: '{}' } : undefined);
              expect(res.status, `${method.toUpperCase()} ${url.slice(0, 160)} → ${res.status} ${res.text?.slice(0, 200)}`).toBeLessThan(500);
            }
          }
          if (['put', 'post'].includes(method)) {
            for (const body of [...hostileBodies, { name: 'multipart without boundary', type: 'multipart/mixed', body: 'garbage' }, { name: 'multipart with a boundary and no parts', type: 'multipart/mixed; boundary=zz', body: '--zz--' }]) {
              const url = `${r.path}?${r.base ?? ''}${r.path.endsWith('state') ? '&stateId=s' : r.path.endsWith('profile') ? '&profileId=p' : ''}`;
              const res = await xapi(method, url, version, body);
              expect(res.status, `${method.toUpperCase()} ${url} with ${body.name} → ${res.status} ${res.text?.slice(0, 200)}`).toBeLessThan(500);
            }
          }
        }
      }
    }, 300_000);
  }
});

/**
 * Browser-facing routes: LTI login/launch/deep linking/registration links on the main origin and
 * the content origin's player, files and runtime endpoints, with garbage tokens, forms and
 * bodies. They answer HTML pages or protocol errors; the rule is still no 5xx.
 */
describe('hostile input across LTI and the content origin', () => {
  const tokens = ['garbage', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', 'a.b.c', 'x'.repeat(4000), '%E0%A4%A', '..%2F..%2Fsecret'];
  const forms = [
    '',
    'id_token=garbage&state=nope',
    'id_token=a.b.c',
    'iss=https%3A%2F%2Fevil.example&login_hint=1&target_link_uri=https%3A%2F%2Fevil.example%2F',
    'iss=&login_hint=&target_link_uri=&lti_message_hint=&client_id=',
    `id_token=${'x'.repeat(20000)}&state=${'y'.repeat(5000)}`,
    'JWT=garbage',
  ];

  it('LTI routes on the main origin', async () => {
    const supertest = (await import('supertest')).default;
    for (const form of forms) {
      for (const path of ['/lti/login', '/lti/launch', '/lti/deep-linking/garbage']) {
        const post = await supertest(t.app).post(path).type('form').send(form);
        expect(post.status, `POST ${path} ${form.slice(0, 80)} → ${post.status} ${post.text.slice(0, 200)}`).toBeLessThan(500);
      }
      const get = await supertest(t.app).get(`/lti/login?${form}`);
      expect(get.status, `GET /lti/login?${form.slice(0, 80)} → ${get.status}`).toBeLessThan(500);
    }
    for (const token of tokens) {
      for (const path of [`/lti/course/${token}`, `/lti/register/${token}`, `/lti/deep-linking/${token}`, `/lti/assets/${token}`]) {
        const res = await supertest(t.app).get(path);
        expect(res.status, `GET ${path.slice(0, 100)} → ${res.status} ${res.text.slice(0, 200)}`).toBeLessThan(500);
      }
    }
  }, 120_000);

  it('content origin: player, package files and runtime endpoints with bad tokens and bodies', async () => {
    const supertest = (await import('supertest')).default;
    const content = t.content.app;
    for (const token of tokens) {
      for (const path of [`/play/${token}`, `/c/${token}/index.html`, `/c/${token}/../../etc/passwd`, `/player/${token}`, `/r/${token}/state`]) {
        const res = await supertest(content).get(path);
        expect(res.status, `GET ${path.slice(0, 100)} → ${res.status} ${res.text.slice(0, 200)}`).toBeLessThan(500);
      }
      for (const path of [`/r/${token}/scos/item/sessions`, `/r/${token}/scos/item/sessions/${randomUUID()}/commit`, `/r/${token}/sequencing`, `/r/${token}/exit`]) {
        for (const body of hostileBodies) {
          const res = await supertest(content).post(path).set('Content-Type', body.type).send(body.body);
          expect(res.status, `POST ${path.slice(0, 100)} with ${body.name} → ${res.status} ${res.text.slice(0, 200)}`).toBeLessThan(500);
        }
      }
    }
  }, 120_000);
});
