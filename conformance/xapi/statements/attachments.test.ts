import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CompactSign, importPKCS8 } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../../../test/support/app.js';
import { client, startLrs, statement, versions, type Version } from '../support.js';

/**
 * Attachments (xAPI 1.0.3 Part 3 §1.5.2, Part 2 §2.4.11) and signed statements (Part 2
 * §2.6); 2.0 §4.1.3 / §4.2.7. Bodies are built byte by byte here, as a client library would.
 */
let t: TestApp;
beforeAll(async () => { t = await startLrs(); });
afterAll(async () => { await t?.close(); });

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const signatureUsage = 'http://adlnet.gov/expapi/attachments/signature';
const fixtures = path.resolve(import.meta.dirname, '../../../fixtures/xapi/signing');
const pem = (name: string) => fs.readFileSync(path.join(fixtures, name), 'utf8');
const certificateDer = (name: string) => pem(name).replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');

interface PartSpec { headers: Record<string, string>; body: Buffer | string }

function multipart(parts: PartSpec[], boundary = `b-${randomUUID()}`, eol = '\r\n'): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    chunks.push(Buffer.from(`--${boundary}${eol}${Object.entries(part.headers).map(([k, v]) => `${k}: ${v}${eol}`).join('')}${eol}`));
    chunks.push(Buffer.isBuffer(part.body) ? part.body : Buffer.from(part.body));
    chunks.push(Buffer.from(eol));
  }
  chunks.push(Buffer.from(`--${boundary}--${eol}`));
  return { body: Buffer.concat(chunks), contentType: `multipart/mixed; boundary=${boundary}` };
}

function attachmentMeta(content: Buffer | string, overrides: Record<string, unknown> = {}) {
  return { usageType: 'http://example.com/attachment-usage/test', display: { 'en-US': 'A test attachment' }, contentType: 'text/plain', length: Buffer.byteLength(content), sha2: sha256(content), ...overrides };
}

function part(content: Buffer | string, headers: Record<string, string> = {}): PartSpec {
  return { headers: { 'Content-Type': 'text/plain', 'Content-Transfer-Encoding': 'binary', 'X-Experience-API-Hash': sha256(content), ...headers }, body: content };
}

const jsonPart = (value: unknown): PartSpec => ({ headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(value) });

function send(version: Version, method: 'post' | 'put', url: string, mp: { body: Buffer; contentType: string }) {
  return client(t, version)[method](url).set('Content-Type', mp.contentType).send(mp.body);
}

/** Splits a multipart response (CRLF) into parts, the way a client library would. */
function parseResponse(res: { headers: Record<string, string>; body: Buffer }): Array<{ headers: Record<string, string>; body: Buffer }> {
  const boundary = /boundary=([^;]+)/.exec(res.headers['content-type']!)![1]!;
  const text = res.body.toString('latin1');
  return text.split(`--${boundary}`).slice(1, -1).map((chunk) => {
    const [head, ...rest] = chunk.slice(2, -2).split('\r\n\r\n');
    const headers: Record<string, string> = {};
    for (const line of head!.split('\r\n')) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
    return { headers, body: Buffer.from(rest.join('\r\n\r\n'), 'latin1') };
  });
}

const binary = (res: import('supertest').Response, cb: (err: Error | null, body: Buffer) => void) => {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => cb(null, Buffer.concat(chunks)));
};

async function signedStatement(options: { alg?: string; key?: string; cert?: string | null; tamper?: (payload: Record<string, unknown>) => void } = {}) {
  const s: Record<string, unknown> = { ...statement(), id: randomUUID() };
  const payload = structuredClone(s);
  options.tamper?.(payload);
  const alg = options.alg ?? 'RS256';
  const key = await importPKCS8(pem(options.key ?? 'key.pem'), alg.startsWith('RS') ? alg : 'RS256');
  const header: Record<string, unknown> = { alg };
  if (options.cert !== null) header['x5c'] = [certificateDer(options.cert ?? 'cert.pem')];
  const jws = await new CompactSign(Buffer.from(JSON.stringify(payload))).setProtectedHeader(header as { alg: string }).sign(key);
  s['attachments'] = [attachmentMeta(jws, { usageType: signatureUsage, contentType: 'application/octet-stream' })];
  return { statement: s, jws };
}

describe.each(versions)('xAPI %s', (version) => {
  it('Communication 1.5.2 — a multipart/mixed POST stores the statement and its attachment; GET attachments=true returns both', async () => {
    const content = `hello attachment ${randomUUID()}`;
    const s = { ...statement(), attachments: [attachmentMeta(content)] };
    const res = await send(version, 'post', '/xapi/statements', multipart([jsonPart(s), part(content)]));
    expect(res.status, res.text).toBe(200);
    const id = res.body[0] as string;
    expect(await t.deps.blobs.head(`xapi/${(await t.deps.db('lrs_credentials').where({ key: 'conformance-key' }).first()).store_id}/attachments/${sha256(content)}`)).toBeDefined();

    const withParts = await client(t, version).get(`/xapi/statements?statementId=${id}&attachments=true`).buffer(true).parse(binary);
    expect(withParts.status).toBe(200);
    expect(withParts.headers['content-type']).toMatch(/^multipart\/mixed; boundary=/);
    const parts = parseResponse(withParts as never);
    expect(parts).toHaveLength(2);
    expect(parts[0]!.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(parts[0]!.body.toString('utf8')).id).toBe(id);
    expect(parts[1]!.headers).toMatchObject({ 'content-type': 'text/plain', 'content-transfer-encoding': 'binary', 'x-experience-api-hash': sha256(content) });
    expect(parts[1]!.body.toString('utf8')).toBe(content);

    const plain = await client(t, version).get(`/xapi/statements?statementId=${id}&attachments=false`);
    expect(plain.headers['content-type']).toMatch(/^application\/json/);
    expect(plain.body.attachments[0].sha2).toBe(sha256(content));
  });

  it('Communication 1.5.2 — binary content survives byte for byte, and PUT accepts multipart too', async () => {
    const content = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));
    const id = randomUUID();
    const s = { ...statement(), id, attachments: [attachmentMeta(content, { contentType: 'application/octet-stream' })] };
    const res = await send(version, 'put', `/xapi/statements?statementId=${id}`, multipart([jsonPart(s), part(content, { 'Content-Type': 'application/octet-stream' })]));
    expect(res.status, res.text).toBe(204);
    const back = await client(t, version).get(`/xapi/statements?statementId=${id}&attachments=true`).buffer(true).parse(binary);
    const parts = parseResponse(back as never);
    expect(Buffer.compare(parts[1]!.body, content)).toBe(0);
  });

  it('Communication 2.1.3 — a StatementResult with attachments=true carries each attachment once (deduplicated by hash)', async () => {
    const content = `shared ${randomUUID()}`;
    const verb = `http://example.com/verbs/${randomUUID()}`;
    const a = { ...statement({ verb: { id: verb } }), attachments: [attachmentMeta(content)] };
    const b = { ...statement({ verb: { id: verb } }), attachments: [attachmentMeta(content)] };
    const res = await send(version, 'post', '/xapi/statements', multipart([jsonPart([a, b]), part(content)]));
    expect(res.status, res.text).toBe(200);
    const list = await client(t, version).get(`/xapi/statements?verb=${encodeURIComponent(verb)}&attachments=true`).buffer(true).parse(binary);
    const parts = parseResponse(list as never);
    expect(parts).toHaveLength(2);
    expect(JSON.parse(parts[0]!.body.toString('utf8')).statements).toHaveLength(2);
  });

  it('Data 2.4.11 — an attachment with only a fileUrl needs no part (plain JSON), and yields no part on GET', async () => {
    const s = { ...statement(), attachments: [attachmentMeta('remote', { fileUrl: 'http://example.com/files/remote.txt' })] };
    const res = await client(t, version).post('/xapi/statements').send(s);
    expect(res.status, res.text).toBe(200);
    const back = await client(t, version).get(`/xapi/statements?statementId=${res.body[0]}&attachments=true`).buffer(true).parse(binary);
    expect(parseResponse(back as never)).toHaveLength(1);
  });

  it('Communication 1.5.2 — an attachment without fileUrl sent as plain JSON (no part) is rejected with 400', async () => {
    const res = await client(t, version).post('/xapi/statements').send({ ...statement(), attachments: [attachmentMeta('missing')] });
    expect(res.status).toBe(400);
  });

  it('Communication 1.5.2 — a multipart request missing the part of an attachment is rejected with 400', async () => {
    const s = { ...statement(), attachments: [attachmentMeta('one'), attachmentMeta('two')] };
    const res = await send(version, 'post', '/xapi/statements', multipart([jsonPart(s), part('one')]));
    expect(res.status).toBe(400);
  });

  it('Communication 1.5.2 — a part no statement refers to is rejected with 400', async () => {
    const s = { ...statement(), attachments: [attachmentMeta('one')] };
    const res = await send(version, 'post', '/xapi/statements', multipart([jsonPart(s), part('one'), part('stray')]));
    expect(res.status).toBe(400);
  });

  it('Communication 1.5.2 — a part whose content does not match its X-Experience-API-Hash is rejected with 400', async () => {
    const s = { ...statement(), attachments: [attachmentMeta('expected')] };
    const res = await send(version, 'post', '/xapi/statements', multipart([jsonPart(s), part('tampered', { 'X-Experience-API-Hash': sha256('expected') })]));
    expect(res.status).toBe(400);
  });

  it('Communication 1.5.2 — parts need X-Experience-API-Hash and Content-Transfer-Encoding: binary', async () => {
    const s = { ...statement(), attachments: [attachmentMeta('x')] };
    const noHash = part('x');
    delete noHash.headers['X-Experience-API-Hash'];
    expect((await send(version, 'post', '/xapi/statements', multipart([jsonPart(s), noHash]))).status).toBe(400);
    const noEncoding = part('x');
    delete noEncoding.headers['Content-Transfer-Encoding'];
    expect((await send(version, 'post', '/xapi/statements', multipart([jsonPart(s), noEncoding]))).status).toBe(400);
  });

  it('Communication 1.5.2 — multipart bodies must use CRLF line breaks; the first part must be application/json', async () => {
    const s = { ...statement(), attachments: [attachmentMeta('x')] };
    expect((await send(version, 'post', '/xapi/statements', multipart([jsonPart(s), part('x')], 'lf-boundary', '\n'))).status).toBe(400);
    expect((await send(version, 'post', '/xapi/statements', multipart([{ headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify(s) }, part('x')]))).status).toBe(400);
  });

  it('Data 2.6 — a signed statement (RS256, x5c) whose JWS payload is the statement is accepted', async () => {
    const { statement: s, jws } = await signedStatement();
    const res = await send(version, 'post', '/xapi/statements', multipart([jsonPart(s), part(jws, { 'Content-Type': 'application/octet-stream' })]));
    expect(res.status, res.text).toBe(200);
  });

  it('Data 2.6 — RS384 and RS512 signatures, and a signature without x5c, are accepted', async () => {
    for (const options of [{ alg: 'RS384' }, { alg: 'RS512' }, { cert: null }]) {
      const { statement: s, jws } = await signedStatement(options);
      const res = await send(version, 'post', '/xapi/statements', multipart([jsonPart(s), part(jws, { 'Content-Type': 'application/octet-stream' })]));
      expect(res.status, `${JSON.stringify(options)} ${res.text}`).toBe(200);
    }
  });

  it('Data 2.6 — a JWS payload that differs from the statement is rejected with 400', async () => {
    const { statement: s, jws } = await signedStatement({ tamper: (p) => { p['verb'] = { id: 'http://example.com/other' }; } });
    const res = await send(version, 'post', '/xapi/statements', multipart([jsonPart(s), part(jws, { 'Content-Type': 'application/octet-stream' })]));
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/signature/);
  });

  it('Data 2.6 — a JWS that does not verify with its x5c certificate is rejected with 400', async () => {
    const { statement: s, jws } = await signedStatement({ cert: 'other-cert.pem' });
    const res = await send(version, 'post', '/xapi/statements', multipart([jsonPart(s), part(jws, { 'Content-Type': 'application/octet-stream' })]));
    expect(res.status).toBe(400);
  });

  it('Data 2.6 — a malformed JWS or a non-RSA algorithm is rejected with 400', async () => {
    const s: Record<string, unknown> = { ...statement(), id: randomUUID() };
    const garbage = 'not.a.jws!';
    const bad = await send(version, 'post', '/xapi/statements', multipart([jsonPart({ ...s, attachments: [attachmentMeta(garbage, { usageType: signatureUsage, contentType: 'application/octet-stream' })] }), part(garbage)]));
    expect(bad.status).toBe(400);
    const header = Buffer.from(JSON.stringify({ alg: 'HS256' })).toString('base64url');
    const body = Buffer.from(JSON.stringify(s)).toString('base64url');
    const hs = `${header}.${body}.${createHash('sha256').update('secret').digest('base64url')}`;
    const res = await send(version, 'post', '/xapi/statements', multipart([jsonPart({ ...s, attachments: [attachmentMeta(hs, { usageType: signatureUsage, contentType: 'application/octet-stream' })] }), part(hs)]));
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/RS256/);
  });
});
