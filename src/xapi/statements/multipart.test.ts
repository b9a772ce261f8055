import { describe, expect, it } from 'vitest';
import { buildMultipart, multipartBoundary, parseMultipart } from './multipart.js';

/** multipart/mixed as xAPI 1.0.3 Part 3 §1.5.2 uses it (CRLF, RFC 2046). */
describe('multipart', () => {
  it('round-trips parts byte for byte, including CRLF and boundary-like bytes inside a body', () => {
    const binary = Buffer.from([0, 13, 10, 45, 45, 255, 13, 10]);
    const body = buildMultipart('xyz', [
      { headers: { 'Content-Type': 'application/json' }, body: '{"a":1}' },
      { headers: { 'Content-Type': 'application/octet-stream', 'X-Experience-API-Hash': 'h' }, body: binary },
    ]);
    const parts = parseMultipart(body, 'xyz');
    expect(parts).toHaveLength(2);
    expect(parts[0]!.headers['content-type']).toBe('application/json');
    expect(parts[0]!.body.toString()).toBe('{"a":1}');
    expect(parts[1]!.headers['x-experience-api-hash']).toBe('h');
    expect(Buffer.compare(parts[1]!.body, binary)).toBe(0);
  });

  it('ignores a preamble, reads quoted boundaries and refuses LF-only framing or a missing end', () => {
    expect(multipartBoundary('multipart/mixed; boundary="a b"')).toBe('a b');
    expect(multipartBoundary('application/json')).toBeUndefined();
    const ok = Buffer.from('preamble\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n');
    expect(parseMultipart(ok, 'b')[0]!.body.toString()).toBe('hi');
    expect(() => parseMultipart(Buffer.from('--b\nContent-Type: text/plain\n\nhi\n--b--\n'), 'b')).toThrow(/CRLF/);
    expect(() => parseMultipart(Buffer.from('--b\r\nContent-Type: text/plain\r\n\r\nhi'), 'b')).toThrow(/closing boundary/);
    expect(() => multipartBoundary('multipart/mixed')).toThrow(/boundary/);
  });
});
