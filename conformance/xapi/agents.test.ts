import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../../test/support/app.js';
import { client, createCredential, startLrs, statement, versions } from './support.js';

/** Agents resource: xAPI 1.0.3 Part 3 §2.4; 2.0 §4.1.6.3. */
let t: TestApp;
beforeAll(async () => { t = await startLrs(); });
afterAll(async () => { await t?.close(); });

const q = (agent: unknown) => `/xapi/agents?agent=${encodeURIComponent(JSON.stringify(agent))}`;

describe.each(versions)('xAPI %s', (version) => {
  const c = () => client(t, version);

  it('Communication 2.4 — GET /agents returns a Person with the queried identity as arrays, even for an unknown agent', async () => {
    const mbox = `mailto:unknown-${randomUUID()}@example.com`;
    const res = await c().get(q({ mbox }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ objectType: 'Person', mbox: [mbox] });
  });

  it('Communication 2.4 — the Person combines every name statements used for the identity', async () => {
    const account = { homePage: 'http://lms.example.com', name: `user-${randomUUID()}` };
    for (const name of ['Ada Lovelace', 'A. Lovelace']) {
      expect((await c().post('/xapi/statements').send(statement({ actor: { name, account } }))).status).toBe(200);
    }
    expect((await c().post('/xapi/statements').send(statement({ context: { instructor: { name: 'Countess', account } } }))).status).toBe(200);
    const res = await c().get(q({ account }));
    expect(res.status).toBe(200);
    expect(res.body.objectType).toBe('Person');
    expect(res.body.account).toEqual([account]);
    expect(new Set(res.body.name)).toEqual(new Set(['Ada Lovelace', 'A. Lovelace', 'Countess']));
  });

  it('Communication 2.4 — a missing agent, invalid JSON, an Agent with two IFIs or a Group is 400', async () => {
    expect((await c().get('/xapi/agents')).status).toBe(400);
    expect((await c().get('/xapi/agents?agent=%7Bnot-json')).status).toBe(400);
    expect((await c().get(q({ mbox: 'mailto:a@example.com', openid: 'http://example.com/a' }))).status).toBe(400);
    expect((await c().get(q({ objectType: 'Group', member: [{ mbox: 'mailto:a@example.com' }] }))).status).toBe(400);
    expect((await c().get(`${q({ mbox: 'mailto:a@example.com' })}&extra=1`)).status).toBe(400);
    expect((await c().get(q({ account: { homePage: 'http://example.com', name: 'nul\u0000' } }))).status).toBe(400);
    expect((await c().get('/xapi/activities?activityId=http%3A%2F%2Fexample.com%2F%00')).status).toBe(400);
  });

  it('Communication 1.1 — HEAD /agents answers like GET without a body', async () => {
    const res = await c().head(q({ mbox: 'mailto:head@example.com' }));
    expect(res.status).toBe(200);
    expect(res.text ?? '').toBe('');
  });

  it('Communication 4.2 — a credential with only statements/write may not read agents (403)', async () => {
    const writer = await createCredential(t, ['statements/write']);
    expect((await client(t, version, writer).get(q({ mbox: 'mailto:a@example.com' }))).status).toBe(403);
  });
});
