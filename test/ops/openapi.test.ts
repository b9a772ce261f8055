import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiEndpoints } from '../../src/app.js';
import { startTestApp, type TestApp } from '../support/app.js';

/** The API description as clients and code generators receive it. */
let t: TestApp;
let doc: {
  openapi: string;
  paths: Record<string, Record<string, { operationId: string; parameters?: Array<{ name: string; in: string; required?: boolean }>; responses: Record<string, { content?: Record<string, { schema: object }> }>; requestBody?: { content: Record<string, { schema: object }> } }>>;
  components: { schemas: Record<string, object> };
};

beforeAll(async () => {
  t = await startTestApp();
  const res = await request(t.app).get('/api/v1/openapi.json');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  doc = res.body;
});
afterAll(async () => { await t?.close(); });

const operations = () => Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));

describe('/api/v1/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(doc.openapi).toBe('3.1.0');
    // Every $ref resolves.
    expect(() => validator.resolveRefs()).not.toThrow();
  });

  it('describes every endpoint the app mounts, by path, method and unique operationId', () => {
    for (const endpoint of apiEndpoints) {
      const path = `/api/v1${endpoint.path}`.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      const op = doc.paths[path]?.[endpoint.method];
      expect(op, `${endpoint.method.toUpperCase()} ${path}`).toBeDefined();
      expect(op!.operationId).toBe(endpoint.operationId);
    }
    const ids = operations().map((o) => o.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(apiEndpoints.length);
    expect(ids).toEqual(expect.arrayContaining(['login', 'listCourses', 'getCourse']));
  });

  it('declares every path template parameter as a required path parameter', () => {
    for (const { path, method, op } of operations()) {
      for (const [, name] of path.matchAll(/\{([^}]+)\}/g)) {
        const param = op.parameters?.find((p) => p.in === 'path' && p.name === name);
        expect(param, `${method} ${path} {${name}}`).toMatchObject({ required: true });
      }
    }
  });

  it('gives every operation a success response and schemas that compile as JSON Schema 2020-12', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addSchema({ $id: 'doc', components: doc.components } as object);
    const compile = (schema: object, where: string) => {
      // Local refs point into the document's components.
      const rebased = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"doc#/components/')) as object;
      expect(() => ajv.compile(rebased), where).not.toThrow();
    };
    for (const { path, method, op } of operations()) {
      expect(Object.keys(op.responses).some((s) => /^2\d\d$/.test(s)), `${method} ${path} has no 2xx`).toBe(true);
      for (const [status, response] of Object.entries(op.responses)) {
        for (const [type, media] of Object.entries(response.content ?? {})) compile(media.schema, `${method} ${path} ${status} ${type}`);
      }
      for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) compile(media.schema, `${method} ${path} body ${type}`);
    }
  });

  it('lists every problem code it can answer', () => {
    const problem = doc.components.schemas['Problem'] as { 'x-codes': string[] };
    expect(problem['x-codes']).toEqual(expect.arrayContaining(['validation_failed', 'internal', 'service_unavailable']));
  });
});

describe('/api/v1/docs', () => {
  it('serves the Swagger UI page whose scripts and styles all load, pointing at the document', async () => {
    const page = await request(t.app).get('/api/v1/docs');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    // (data: URLs, such as the empty favicon that spares a 404, need no request)
    const refs = [...page.text.matchAll(/<(?:script[^>]*\ssrc|link[^>]*\shref)="([^"]+)"/g)].map((m) => m[1]!).filter((r) => !r.startsWith('data:'));
    expect(refs.length).toBeGreaterThanOrEqual(3);
    const base = new URL('http://cairn.test/api/v1/docs');
    let init = '';
    for (const ref of refs) {
      const url = new URL(ref, base);
      // Same origin only: the CSP forbids anything else, and no CDN is needed.
      expect(url.origin, ref).toBe(base.origin);
      const res = await request(t.app).get(url.pathname);
      expect(res.status, url.pathname).toBe(200);
      expect(res.headers['content-type'], url.pathname).toMatch(url.pathname.endsWith('.css') ? /^text\/css/ : /javascript/);
      const body = res.text ?? '';
      expect(body.length || Number(res.headers['content-length']), url.pathname).toBeGreaterThan(20);
      if (url.pathname.endsWith('init.js')) init = body;
    }
    expect(init).toContain("url: '/api/v1/openapi.json'");
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
    // No inline script, which the CSP would block.
    expect(page.text).not.toMatch(/<script>(?!<\/script>)/);
  });

  it('redirects / to the API description', async () => {
    const res = await request(t.app).get('/');
    expect(res.status).toBe(302);
    expect(res.headers['location']).toBe('/api/v1/docs');
  });
});

describe('OpenAPI document caching', () => {
  it('answers a matching If-None-Match with 304 and no body', async () => {
    const first = await request(t.app).get('/api/v1/openapi.json');
    expect(first.status).toBe(200);
    expect(first.headers['etag']).toMatch(/^"[A-Za-z0-9_-]+"$/);
    const again = await request(t.app).get('/api/v1/openapi.json').set('If-None-Match', first.headers['etag']!);
    expect(again.status).toBe(304);
    expect(again.text ?? '').toBe('');
  });
});
