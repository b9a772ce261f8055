import type { NextFunction, Request, RequestHandler, Response } from 'express';
import getRawBody from 'raw-body';
import { AppError } from '../errors/index.js';
import type { XapiCredential } from './auth/service.js';
import { grants, type XapiPermission } from './auth/scopes.js';

/** The two specifications Cairn serves, chosen per request by `X-Experience-API-Version`. */
export type XapiVersion = '1.0.3' | '2.0.0';

export const supportedVersions = ['1.0.0', '1.0.1', '1.0.2', '1.0.3', '2.0.0'] as const;

export interface XapiRequestContext {
  /** Which spec's rules apply: any 1.0.x request is served as 1.0.3, any 2.0.x as 2.0.0. */
  readonly version: XapiVersion;
  /** The header value the client sent. */
  readonly requestedVersion: string;
  readonly credential: XapiCredential;
  /** True when the request came through the 1.0.x alternate request syntax (`?method=`). */
  readonly alternateSyntax: boolean;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      xapi?: XapiRequestContext;
      /** Set by the alternate-request-syntax middleware: the body carried in the form's `content` field. */
      xapiBody?: Buffer;
    }
  }
}

export function xapiContext(req: Request): XapiRequestContext {
  if (!req.xapi) throw new AppError('internal', 'xAPI context missing');
  return req.xapi;
}

/** Throws 403 unless the credential's scopes grant the permission. */
export function requirePermission(req: Request, permission: XapiPermission): XapiRequestContext {
  const ctx = xapiContext(req);
  if (!grants(ctx.credential.scopes, permission)) {
    throw new AppError('forbidden', `The credential's scopes (${[...ctx.credential.scopes].join(', ')}) do not allow ${permission}.`);
  }
  return ctx;
}

/** Parses `X-Experience-API-Version`: 1.0.0–1.0.3 → 1.0.3 rules, 2.0.x → 2.0.0 rules. */
export function parseVersion(header: string | undefined): XapiVersion | undefined {
  if (!header) return undefined;
  const value = header.trim();
  if (/^1\.0(\.[0-3])?$/.test(value)) return '1.0.3';
  if (/^2\.0(\.\d+)?$/.test(value)) return '2.0.0';
  return undefined;
}

/**
 * Browser clients (xAPI wrappers in SCORM/cmi5 content, dashboards) call the LRS from any
 * origin with Basic auth in a header, never cookies, so any origin may call without credentials.
 */
export const xapiCors: RequestHandler = (req, res, next) => {
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Expose-Headers', 'ETag, Last-Modified, X-Experience-API-Version, X-Experience-API-Consistent-Through, Content-Type, Content-Length, Location, Retry-After');
  if (req.method === 'OPTIONS') {
    res.setHeader('Access-Control-Allow-Methods', 'GET, HEAD, PUT, POST, DELETE, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, X-Experience-API-Version, If-Match, If-None-Match, Accept-Language, X-Requested-With');
    res.setHeader('Access-Control-Max-Age', '86400');
    res.status(204).end();
    return;
  }
  next();
};

/** Reads the whole body as bytes (bounded); xAPI resources parse it themselves. */
export async function readBody(req: Request, limitBytes: number): Promise<Buffer> {
  if (req.xapiBody) return req.xapiBody;
  try {
    return await getRawBody(req, { limit: limitBytes, length: req.headers['content-length'] ?? null });
  } catch (error) {
    const type = (error as { type?: string }).type;
    if (type === 'entity.too.large') throw new AppError('payload_too_large', `The request body is larger than the LRS limit of ${limitBytes} bytes (see /xapi/about).`);
    throw new AppError('bad_request', 'The request body could not be read.', { cause: error });
  }
}

const headerFields = new Map([
  ['authorization', 'authorization'],
  ['x-experience-api-version', 'x-experience-api-version'],
  ['content-type', 'content-type'],
  ['content-length', 'content-length'],
  ['if-match', 'if-match'],
  ['if-none-match', 'if-none-match'],
]);

/**
 * xAPI 1.0.3 Part 3 §1.3 "Alternate Request Syntax": `POST <resource>?method=PUT|GET|DELETE|POST`
 * with an `application/x-www-form-urlencoded` body whose fields carry the headers, the
 * parameters and the `content`. The request is rewritten into the ordinary one. Not part of
 * 2.0: a 2.0 request using it is rejected.
 */
export function alternateRequestSyntax(limitBytes: number): RequestHandler {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const query = req.query as Record<string, unknown>;
    if (!('method' in query)) {
      next();
      return;
    }
    const method = String(query['method']).toUpperCase();
    const otherParams = Object.keys(query).filter((k) => k !== 'method');
    if (req.method !== 'POST') throw new AppError('bad_request', 'The alternate request syntax (?method=) must be sent with POST.');
    if (!['GET', 'PUT', 'POST', 'DELETE', 'HEAD'].includes(method)) throw new AppError('bad_request', `method=${method} is not an HTTP method the LRS supports.`);
    if (otherParams.length > 0) throw new AppError('bad_request', `With the alternate request syntax every parameter goes in the form body; found ${otherParams.join(', ')} in the query string.`);
    if (!req.is('application/x-www-form-urlencoded')) throw new AppError('bad_request', 'The alternate request syntax needs Content-Type application/x-www-form-urlencoded.');
    const form = new URLSearchParams((await readBody(req, limitBytes)).toString('utf8'));
    const params: Record<string, string> = {};
    for (const [name, value] of form) {
      const header = headerFields.get(name.toLowerCase());
      if (header) req.headers[header] = value;
      else if (name === 'content') req.xapiBody = Buffer.from(value, 'utf8');
      else params[name] = value;
    }
    const version = parseVersion(req.headers['x-experience-api-version'] as string | undefined);
    if (version === '2.0.0') throw new AppError('bad_request', 'xAPI 2.0 removed the alternate request syntax; send an ordinary request.');
    req.xapiBody ??= Buffer.alloc(0);
    req.headers['content-length'] = String(req.xapiBody.length);
    req.method = method;
    // Express 5 derives req.query from the URL; rewrite the URL so it carries the form's parameters.
    const path = req.url.split('?')[0] ?? '';
    const search = new URLSearchParams(params).toString();
    req.url = search ? `${path}?${search}` : path;
    Object.defineProperty(req, 'query', { value: Object.fromEntries(new URLSearchParams(search)), configurable: true, writable: true });
    rewrittenRequests.add(req);
    next();
  };
}

/** Requests rewritten by the alternate syntax (read by the authentication step). */
const rewrittenRequests = new WeakSet<Request>();
export function usedAlternateSyntax(req: Request): boolean {
  return rewrittenRequests.has(req);
}

/**
 * Sends a JSON answer with `Content-Type: application/json` exactly. Express adds
 * `; charset=utf-8` to string bodies; JSON has no charset parameter (RFC 8259 §11) and the
 * spec names the bare type for Statement GETs (1.0.3 Part 3 §2.1.3), which ADL's suite
 * compares literally. A Buffer body keeps the type as set. HEAD still gets the headers only.
 */
export function sendJson(res: Response, status: number, value: unknown): void {
  sendJsonText(res, status, JSON.stringify(value));
}

/** `sendJson` for JSON already serialized (statement bodies are stored as text). */
export function sendJsonText(res: Response, status: number, text: string): void {
  res.status(status).setHeader('Content-Type', 'application/json');
  res.send(Buffer.from(text));
}
