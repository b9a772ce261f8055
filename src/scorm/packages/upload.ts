import type { IncomingMessage } from 'node:http';
import { PassThrough, Transform, type Readable } from 'node:stream';
import busboy from 'busboy';
import { AppError } from '../../errors/index.js';

/**
 * The zip inside an upload request, as a stream — never buffered. Either the whole body
 * (`application/zip`, `application/octet-stream`), or the `file` part of multipart/form-data,
 * whose other fields (`lineage`, `filename`) arrive in `fields` as they are read.
 */
export interface UploadStream {
  readonly stream: Readable;
  readonly filename: string | undefined;
  /** Multipart fields that came before the file part (a form lists `lineage` first). */
  readonly fieldsBeforeFile: Readonly<Record<string, string>>;
  /** Resolves once the whole request has been read (multipart fields after the file included). */
  readonly fields: Promise<Record<string, string>>;
}

const zipTypes = new Set(['application/zip', 'application/x-zip-compressed', 'application/x-zip', 'application/octet-stream']);

export function payloadTooLarge(limit: number): AppError {
  return new AppError('payload_too_large', `Packages may be at most ${limit} bytes (CAIRN_SCORM_MAX_UPLOAD).`, { headers: { Connection: 'close' } });
}

/** Fails the stream once more than `limit` bytes went through. */
export function limitBytes(limit: number, onBytes?: (total: number) => void): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      total += chunk.length;
      if (total > limit) {
        done(payloadTooLarge(limit));
        return;
      }
      onBytes?.(total);
      done(null, chunk);
    },
  });
}

export function openUpload(req: IncomingMessage, limit: number): Promise<UploadStream> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(payloadTooLarge(limit));
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (zipTypes.has(type)) {
    return Promise.resolve({ stream: req, filename: undefined, fieldsBeforeFile: {}, fields: Promise.resolve({}) });
  }
  if (type !== 'multipart/form-data') {
    return Promise.reject(new AppError('unsupported_media_type', 'Send the package as multipart/form-data (field "file") or as the raw body with Content-Type: application/zip.'));
  }
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { files: 1, fileSize: limit, fields: 20, fieldSize: 10_000, parts: 40 } });
    } catch (error) {
      reject(new AppError('bad_request', `Malformed multipart request: ${(error as Error).message}`));
      return;
    }
    const fields: Record<string, string> = {};
    let settled = false;
    let fileStream: PassThrough | undefined;
    let resolveFields!: (f: Record<string, string>) => void;
    let rejectFields!: (e: unknown) => void;
    const fieldsDone = new Promise<Record<string, string>>((res, rej) => { resolveFields = res; rejectFields = rej; });
    fieldsDone.catch(() => undefined);
    const fail = (error: AppError) => {
      if (!settled) {
        settled = true;
        reject(error);
      } else {
        fileStream?.destroy(error);
        rejectFields(error);
      }
      req.unpipe(parser);
      req.resume();
    };
    parser.on('field', (name, value) => {
      fields[name] = value;
    });
    parser.on('file', (name, file, info) => {
      if (name !== 'file' || settled) {
        file.resume();
        return;
      }
      settled = true;
      const out = new PassThrough();
      fileStream = out;
      file.on('limit', () => out.destroy(payloadTooLarge(limit)));
      file.on('error', (error: Error) => out.destroy(error));
      file.pipe(out);
      resolve({ stream: out, filename: info.filename || undefined, fieldsBeforeFile: { ...fields }, fields: fieldsDone });
    });
    parser.on('error', (error: Error) => fail(new AppError('bad_request', `Malformed multipart request: ${error.message}`)));
    parser.on('close', () => {
      if (!settled) {
        settled = true;
        reject(new AppError('validation_failed', 'The multipart request has no "file" part.', { errors: [{ pointer: '/body/file', message: 'is required' }] }));
      }
      resolveFields(fields);
    });
    req.on('aborted', () => fail(new AppError('bad_request', 'The upload was interrupted.')));
    req.pipe(parser);
  });
}
