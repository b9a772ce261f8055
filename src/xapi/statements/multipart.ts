import { AppError } from '../../errors/index.js';

/** One part of a multipart/mixed body (RFC 2046), headers lower-cased. */
export interface Part {
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** The boundary parameter of a multipart/mixed Content-Type, or undefined when it is not one. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType || !/^multipart\/mixed\b/i.test(contentType.trim())) return undefined;
  const match = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  if (!boundary) throw new AppError('bad_request', 'A multipart/mixed request needs a boundary parameter in Content-Type.');
  return boundary;
}

/**
 * Splits a multipart body. xAPI 1.0.3 Part 3 §1.5.2 requires CRLF line breaks; a body whose
 * delimiters are not CRLF-framed is rejected rather than guessed at.
 */
export function parseMultipart(body: Buffer, boundary: string): Part[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Part[] = [];
  let position = body.indexOf(delimiter);
  if (position < 0) throw new AppError('bad_request', 'The multipart body does not contain its boundary.');
  for (;;) {
    const afterDelimiter = position + delimiter.length;
    if (body.subarray(afterDelimiter, afterDelimiter + 2).toString() === '--') break;
    if (body.subarray(afterDelimiter, afterDelimiter + 2).toString() !== '\r\n') {
      throw new AppError('bad_request', 'Multipart boundaries must be followed by CRLF (xAPI requires CRLF line breaks).');
    }
    const next = body.indexOf(Buffer.from(`\r\n--${boundary}`), afterDelimiter + 2);
    if (next < 0) throw new AppError('bad_request', 'The multipart body is not terminated by its closing boundary.');
    const raw = body.subarray(afterDelimiter + 2, next);
    // A part is headers, an empty line, then the body; a part may have no headers at all.
    const noHeaders = raw.subarray(0, 2).toString() === '\r\n';
    const headerEnd = noHeaders ? 0 : raw.indexOf('\r\n\r\n');
    if (headerEnd < 0) throw new AppError('bad_request', 'A multipart part has no blank CRLF line between its headers and its body.');
    const headers: Record<string, string> = {};
    for (const line of raw.subarray(0, headerEnd).toString('latin1').split('\r\n')) {
      if (line === '') continue;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new AppError('bad_request', `Malformed multipart header line "${line.slice(0, 80)}".`);
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const bodyStart = noHeaders ? 2 : headerEnd + 4;
    parts.push({ headers, body: raw.subarray(bodyStart) });
    position = next + 2;
  }
  return parts;
}

/** Serializes parts as multipart/mixed with CRLF line breaks. */
export function buildMultipart(boundary: string, parts: ReadonlyArray<{ headers: Record<string, string>; body: Buffer | string }>): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const head = Object.entries(part.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    chunks.push(Buffer.from(`--${boundary}\r\n${head}\r\n`), typeof part.body === 'string' ? Buffer.from(part.body) : part.body, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}
