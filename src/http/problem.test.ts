import http from 'node:http';
import { Writable } from 'node:stream';
import express from 'express';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AppError } from '../errors/index.js';
import { normalizeError, problemMiddleware } from './problem.js';

/** Errors as body-parser (via express.json) raises them; see its `createError` calls. */
const bodyParserError = (type: string, status: number, extra: Record<string, unknown> = {}) => Object.assign(new Error(`raw ${type} message`), { type, status, statusCode: status, expose: true, ...extra });

describe('normalizeError', () => {
  it('keeps AppErrors as they are', () => {
    const error = new AppError('forbidden', 'No.');
    expect(normalizeError(error)).toBe(error);
  });

  it('words body-parser failures itself, with the right codes', () => {
    expect(normalizeError(bodyParserError('entity.parse.failed', 400, { message: 'Unexpected token } in JSON at position 9' }))).toMatchObject({ code: 'malformed_json', status: 400, message: 'The request body is not valid JSON: unexpected token } in JSON at position 9' });
    expect(normalizeError(bodyParserError('entity.too.large', 413, { limit: 2048 }))).toMatchObject({ code: 'payload_too_large', status: 413, message: 'The request body is larger than the limit of 2048 bytes.' });
    expect(normalizeError(bodyParserError('charset.unsupported', 415))).toMatchObject({ code: 'unsupported_media_type' });
    expect(normalizeError(bodyParserError('encoding.unsupported', 415))).toMatchObject({ code: 'unsupported_media_type' });
    expect(normalizeError(bodyParserError('request.aborted', 400))).toMatchObject({ code: 'bad_request' });
    expect(normalizeError(bodyParserError('request.size.invalid', 400))).toMatchObject({ code: 'bad_request' });
  });

  it('turns other client-side HTTP errors into a generic 400 without echoing their message', () => {
    const normalized = normalizeError(Object.assign(new Error('secret internals'), { status: 404 }));
    expect(normalized).toMatchObject({ code: 'bad_request', status: 400 });
    expect(normalized.message).not.toContain('secret internals');
  });

  it('hides everything else behind a 500 that keeps the cause for the log', () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'id')");
    const normalized = normalizeError(bug);
    expect(normalized).toMatchObject({ code: 'internal', status: 500, message: 'An unexpected error occurred. Quote the request id when reporting it.' });
    expect(normalized.cause).toBe(bug);
    expect(normalizeError(Object.assign(new Error('x'), { status: 502 }))).toMatchObject({ code: 'internal' });
  });

  it('maps database outages to 503 through mapDbError', () => {
    expect(normalizeError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toMatchObject({ code: 'service_unavailable', status: 503 });
  });
});

describe('problemMiddleware after the response has started', () => {
  it('logs the error as JSON and cuts the connection instead of finishing a truncated body', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'info' }, new Writable({ write(chunk: Buffer, _e, done) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); done(); } }));
    const app = express();
    app.get('/stream', (req, res) => {
      req.requestId = 'req-stream-1';
      res.setHeader('content-length', '1000');
      res.write('partial');
      throw new Error('failed mid-stream');
    });
    app.use(problemMiddleware(log));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const { port } = server.address() as { port: number };
      const outcome = await new Promise<string>((resolve) => {
        http.get({ host: '127.0.0.1', port, path: '/stream' }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => { body += c.toString(); });
          res.on('end', () => resolve(`complete: ${body}`));
          res.on('aborted', () => resolve(`aborted after: ${body}`));
          res.on('error', () => resolve(`aborted after: ${body}`));
        }).on('error', (e) => resolve(`error: ${e.message}`));
      });
      // Never a body that looks complete; whether the first bytes got out first is up to the socket.
      expect(outcome).toMatch(/^(aborted after: (partial)?|error: (socket hang up|read ECONNRESET))$/);
      expect(lines).toEqual([expect.objectContaining({ level: 50, requestId: 'req-stream-1', msg: 'request failed after the response had started', err: expect.objectContaining({ message: 'failed mid-stream' }) })]);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
