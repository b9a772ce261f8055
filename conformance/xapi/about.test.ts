import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../../test/support/app.js';
import { client, seededKey, seededSecret, basic, startLrs, versions } from './support.js';

/** About resource and cross-cutting HTTP: xAPI 1.0.3 Part 3 §2.8, §3.3, §1.1; 2.0 §4.1.6.7. */
let t: TestApp;
beforeAll(async () => { t = await startLrs(); });
afterAll(async () => { await t?.close(); });

describe('About resource', () => {
  it('Communication 2.8 — GET /about needs neither credentials nor a version header and lists 1.0.3 and 2.0.0', async () => {
    const res = await request(t.app).get('/xapi/about');
    expect(res.status).toBe(200);
    expect(res.body.version).toEqual(expect.arrayContaining(['1.0.3', '2.0.0']));
    for (const v of res.body.version as unknown[]) expect(v).toMatch(/^\d+\.\d+\.\d+$/);
    expect(typeof res.body.extensions).toBe('object');
  });

  it('Communication 2.8 — the About extensions advertise the request size limit and the statement page maximum', async () => {
    const res = await request(t.app).get('/xapi/about');
    const lrs = res.body.extensions['https://cairn.dev/xapi/extensions/lrs'];
    expect(lrs.max_request_bytes).toBe(t.deps.config.xapiBodyLimitBytes);
    expect(lrs.max_statements_per_page).toBe(t.deps.config.xapiStatementPageMax);
  });

  it('Communication 1.1 — HEAD /about answers 200 without a body', async () => {
    const res = await request(t.app).head('/xapi/about');
    expect(res.status).toBe(200);
    expect(res.text ?? '').toBe('');
  });
});

describe.each(versions)('Versioning with xAPI %s', (version) => {
  it('Communication 3.3 — every response carries X-Experience-API-Version of the mode served, errors included', async () => {
    const ok = await client(t, version).get('/xapi/statements?limit=1');
    expect(ok.headers['x-experience-api-version']).toBe(version);
    const bad = await client(t, version).get('/xapi/statements?nope=1');
    expect(bad.status).toBe(400);
    expect(bad.headers['x-experience-api-version']).toBe(version);
  });
});

describe('Versioning and authentication', () => {
  it('Communication 3.3 — 1.0.0, 1.0.1 and 1.0.2 are served by the 1.0.3 rules; a missing or unknown version is 400', async () => {
    for (const sent of ['1.0.0', '1.0.1', '1.0.2', '1.0']) {
      const res = await request(t.app).get('/xapi/statements?limit=1').set('X-Experience-API-Version', sent).set('Authorization', basic(seededKey, seededSecret));
      expect(res.status, sent).toBe(200);
      expect(res.headers['x-experience-api-version']).toBe('1.0.3');
    }
    const missing = await request(t.app).get('/xapi/statements').set('Authorization', basic(seededKey, seededSecret));
    expect(missing.status).toBe(400);
    const unknown = await request(t.app).get('/xapi/statements').set('X-Experience-API-Version', '1.1.0').set('Authorization', basic(seededKey, seededSecret));
    expect(unknown.status).toBe(400);
  });

  it('Communication 4.0 — resources other than /about need credentials: 401 with a Basic challenge', async () => {
    for (const path of ['/xapi/statements', '/xapi/agents?agent=%7B%22mbox%22%3A%22mailto%3Aa%40example.com%22%7D', '/xapi/activities?activityId=http%3A%2F%2Fexample.com']) {
      const res = await request(t.app).get(path).set('X-Experience-API-Version', '1.0.3');
      expect(res.status, path).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Basic/);
    }
  });

  it('Cross-cutting — CORS preflight allows any origin and exposes the xAPI headers', async () => {
    const res = await request(t.app).options('/xapi/statements').set('Origin', 'https://content.example').set('Access-Control-Request-Method', 'POST');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-allow-headers']).toMatch(/X-Experience-API-Version/);
    const get = await client(t, '1.0.3').get('/xapi/statements?limit=1').set('Origin', 'https://content.example');
    for (const header of ['ETag', 'Last-Modified', 'X-Experience-API-Version', 'X-Experience-API-Consistent-Through']) {
      expect(get.headers['access-control-expose-headers']).toContain(header);
    }
  });
});
