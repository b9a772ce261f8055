import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import { AppError } from '../errors/index.js';
import { assertSafeKey, type BlobStore, type ByteRange } from '../storage/blob-store.js';

/**
 * Package content is untrusted HTML and script. It may run inline script and eval (authoring
 * tools need both) and load what it likes over https, but only the player on this origin may
 * frame it, and plugins, forms and <base> stay on the content origin.
 */
export const contentCsp = [
  "default-src 'self' 'unsafe-inline' 'unsafe-eval' data: blob: https:",
  "connect-src 'self' https:",
  "object-src 'self'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'self'",
].join('; ');

/** `bytes=a-b`, `bytes=a-`, `bytes=-n`: one range; anything else (multiple ranges) → whole file. */
function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix) };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? undefined : Number(m[2]);
  if (end !== undefined && end < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return end === undefined ? { start } : { start, end };
}

/**
 * Serves one package file from the blob store: the stored content type, strong ETag and
 * Last-Modified with conditional requests (304), one byte range (206, 416), HEAD, and a
 * `private` cache lifetime — the URL carries the learner's token, so shared caches must not keep it.
 */
export async function serveContentFile(blobs: BlobStore, prefix: string, segments: readonly string[], req: Request, res: Response): Promise<void> {
  const relative = segments.join('/');
  const key = prefix + relative;
  try {
    assertSafeKey(key);
  } catch {
    throw new AppError('not_found', 'No such file in this package.');
  }
  const head = await blobs.head(key);
  if (!head) throw new AppError('not_found', 'No such file in this package.');
  const etag = `"${head.etag}"`;
  res.setHeader('ETag', etag);
  res.setHeader('Last-Modified', head.lastModified.toUTCString());
  res.setHeader('Cache-Control', 'private, max-age=3600');
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Content-Security-Policy', contentCsp);
  res.setHeader('Content-Type', head.contentType);

  const inm = req.headers['if-none-match'];
  const ims = req.headers['if-modified-since'];
  const notModified = inm !== undefined
    ? inm.split(',').map((t) => t.trim().replace(/^W\//, '')).some((t) => t === etag || t === '*')
    : ims !== undefined && !Number.isNaN(Date.parse(ims)) && head.lastModified.getTime() <= Date.parse(ims);
  if (notModified) {
    res.status(304).end();
    return;
  }

  let range = parseRange(req.headers.range, head.size);
  // If-Range with another validator: the file changed, send it whole.
  const ifRange = req.headers['if-range'];
  if (range !== undefined && ifRange !== undefined && ifRange !== etag) range = undefined;
  if (range === 'unsatisfiable') {
    res.setHeader('Content-Range', `bytes */${head.size}`);
    res.removeHeader('Content-Type');
    throw new AppError('range_not_satisfiable', `The file is ${head.size} bytes long.`, { headers: { 'Content-Range': `bytes */${head.size}` } });
  }
  const object = await blobs.get(key, range ? { range } : undefined);
  if (object.range) {
    res.status(206);
    res.setHeader('Content-Range', `bytes ${object.range.start}-${object.range.end}/${object.size}`);
    res.setHeader('Content-Length', String(object.range.end - object.range.start + 1));
  } else {
    res.status(200);
    res.setHeader('Content-Length', String(object.size));
  }
  if (req.method === 'HEAD') {
    object.body.destroy();
    res.end();
    return;
  }
  await pipeline(object.body, res);
}
