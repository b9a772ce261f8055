import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../../test/support/app.js';
import { client, createCredential, startLrs, statement, versions } from './support.js';

/** Activities resource and canonical definitions: xAPI 1.0.3 Part 3 §2.5, Part 2 §2.4.4.1; 2.0 §4.1.6.4. */
let t: TestApp;
beforeAll(async () => { t = await startLrs(); });
afterAll(async () => { await t?.close(); });

const q = (id: string) => `/xapi/activities?activityId=${encodeURIComponent(id)}`;

describe.each(versions)('xAPI %s', (version) => {
  const c = () => client(t, version);

  it('Communication 2.5 — an activity the LRS has no definition for is returned as {objectType, id}', async () => {
    const id = `http://example.com/activities/${randomUUID()}`;
    const res = await c().get(q(id));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ objectType: 'Activity', id });
  });

  it('Communication 2.5 — GET /activities returns the definition from statements', async () => {
    const id = `http://example.com/activities/${randomUUID()}`;
    const definition = { name: { 'en-US': 'Quiz' }, type: 'http://adlnet.gov/expapi/activities/assessment', interactionType: 'choice', correctResponsesPattern: ['a'], choices: [{ id: 'a', description: { 'en-US': 'A' } }] };
    expect((await c().post('/xapi/statements').send(statement({ object: { id, definition } }))).status).toBe(200);
    const res = await c().get(q(id));
    expect(res.body).toEqual({ objectType: 'Activity', id, definition });
  });

  it('Data 2.4.4.1 — a trusted source (define scope) updates the canonical definition, merging language maps', async () => {
    const id = `http://example.com/activities/${randomUUID()}`;
    await c().post('/xapi/statements').send(statement({ object: { id, definition: { name: { 'en-US': 'Course' }, description: { 'en-US': 'Old' } } } }));
    await c().post('/xapi/statements').send(statement({ context: { contextActivities: { parent: [{ id, definition: { name: { 'fr-FR': 'Cours' }, description: { 'en-US': 'New' } } }] } } }));
    const res = await c().get(q(id));
    expect(res.body.definition).toEqual({ name: { 'en-US': 'Course', 'fr-FR': 'Cours' }, description: { 'en-US': 'New' } });
  });

  it('Communication 2.5 (2.0 4.1.6.4) — two statements in one batch describing one activity in different languages: both languages kept (ADL XAPI-00254)', async () => {
    const id = `http://example.com/activities/${randomUUID()}`;
    const a = statement({ object: { id, definition: { name: { 'en-GB': 'meeting', 'en-US': 'meeting' }, description: { 'en-US': 'A meeting' } } } });
    const b = statement({ object: { id, definition: { name: { 'en-GB': 'meeting', 'fr-FR': 'réunion' } } } });
    expect((await c().post('/xapi/statements').send([a, b])).status).toBe(200);
    const res = await c().get(q(id));
    expect(res.body.definition).toEqual({ name: { 'en-GB': 'meeting', 'en-US': 'meeting', 'fr-FR': 'réunion' }, description: { 'en-US': 'A meeting' } });
  });

  it('Data 2.4.4.1 — a source without define scope describes a new activity but cannot change a known definition', async () => {
    const writer = await createCredential(t, ['statements/write']);
    const known = `http://example.com/activities/${randomUUID()}`;
    await c().post('/xapi/statements').send(statement({ object: { id: known, definition: { name: { en: 'Official' } } } }));
    await client(t, version, writer).post('/xapi/statements').send(statement({ object: { id: known, definition: { name: { en: 'Hijacked' } } } }));
    expect((await c().get(q(known))).body.definition).toEqual({ name: { en: 'Official' } });
    const fresh = `http://example.com/activities/${randomUUID()}`;
    await client(t, version, writer).post('/xapi/statements').send(statement({ object: { id: fresh, definition: { name: { en: 'First seen' } } } }));
    expect((await c().get(q(fresh))).body.definition).toEqual({ name: { en: 'First seen' } });
  });

  it('Communication 2.5 — a missing or non-IRI activityId, or another parameter, is 400', async () => {
    expect((await c().get('/xapi/activities')).status).toBe(400);
    expect((await c().get('/xapi/activities?activityId=not%20an%20iri')).status).toBe(400);
    expect((await c().get(`${q('http://example.com/a')}&agent=x`)).status).toBe(400);
  });

  it('Communication 1.1 — HEAD /activities answers like GET without a body', async () => {
    const res = await c().head(q('http://example.com/head'));
    expect(res.status).toBe(200);
    expect(res.text ?? '').toBe('');
  });
});
