import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';

let t: TestApp;
beforeAll(async () => { t = await startTestApp({ env: { CAIRN_BODY_LIMIT: '2kb' } }); });
afterAll(async () => { await t?.close(); });

describe('HTTP edge: bad input gets a problem document', () => {
  it('answers malformed JSON with 400 malformed_json', async () => {
    const agent = await t.login();
    const res = await agent.post('/api/v1/courses').set('content-type', 'application/json').send('{"title": ');
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 400, code: 'malformed_json', title: 'Malformed JSON' });
    expect(res.body.request_id).toBe(res.headers['x-request-id']);
  });

  it('names the field that has the wrong type', async () => {
    const agent = await t.login();
    const res = await agent.post('/api/v1/courses').send({ title: 42 });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('validation_failed');
    expect(res.body.errors).toContainEqual({ pointer: '/body/title', message: 'must be string' });
  });

  it('rejects unknown fields by name', async () => {
    const agent = await t.login();
    const res = await agent.post('/api/v1/courses').send({ title: 'x', colour: 'red' });
    expect(res.status).toBe(400);
    expect(res.body.errors).toContainEqual({ pointer: '/body/colour', message: 'is not a known field' });
    expect(res.body.detail).toContain('colour');
  });

  it('rejects unknown query parameters', async () => {
    const agent = await t.login();
    const res = await agent.get('/api/v1/courses?colour=red');
    expect(res.status).toBe(400);
    expect(res.body.errors).toContainEqual({ pointer: '/query/colour', message: 'is not a known field' });
  });

  it('answers an oversized body with 413', async () => {
    const agent = await t.login();
    const res = await agent.post('/api/v1/courses').send({ title: 'x'.repeat(5000) });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('payload_too_large');
  });

  it('answers an unknown route with a 404 problem', async () => {
    const res = await request(t.app).get('/api/v1/nothing-here');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 'route_not_found', status: 404 });
  });

  it('answers a known path with the wrong method with 405 and Allow', async () => {
    const agent = await t.login();
    const res = await agent.put('/api/v1/courses');
    expect(res.status).toBe(405);
    expect(res.headers['allow']).toBe('GET, HEAD, POST');
  });

  it('rejects a malformed id in the path with 400, not a database error', async () => {
    const agent = await t.login();
    const res = await agent.get('/api/v1/courses/not-a-uuid');
    expect(res.status).toBe(400);
    expect(res.body.errors[0].pointer).toBe('/params/courseId');
  });

  it('never leaks a stack trace or SQL in a response', async () => {
    const agent = await t.login();
    const res = await agent.get('/api/v1/courses?cursor=%7B%22k%22%3A1%7D');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_cursor');
    expect(JSON.stringify(res.body)).not.toMatch(/select|at .*\.ts:\d+|stack/i);
  });

  it('sends security headers and a request id', async () => {
    const res = await request(t.app).get('/healthz').set('X-Request-Id', 'trace-123');
    expect(res.headers['x-request-id']).toBe('trace-123');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('allows the console origin through CORS and not others', async () => {
    const ok = await request(t.app).options('/api/v1/courses').set('Origin', 'http://localhost:3000').set('Access-Control-Request-Method', 'POST');
    expect(ok.headers['access-control-allow-origin']).toBe('http://localhost:3000');
    expect(ok.headers['access-control-allow-credentials']).toBe('true');
    const evil = await request(t.app).options('/api/v1/courses').set('Origin', 'https://evil.example').set('Access-Control-Request-Method', 'POST');
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
  });
});
