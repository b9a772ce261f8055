import type { RequestHandler } from 'express';
import type { AppDeps } from '../deps.js';
import { AppError } from '../errors/index.js';
import { authenticateSession, authenticateToken, sessionCookieName, switchTenant } from './service.js';

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

const unsafeMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Sets `req.principal` from a bearer token or the session cookie. A bad bearer token is a 401
 * at once (automation should hear about it); a stale cookie is simply ignored (the browser
 * is treated as logged out). Cookie-authenticated writes must come from an allowed origin:
 * SameSite=Lax already stops cross-site form posts, the Origin check also stops same-site
 * ones (another port of the same host, e.g. the content origin in a mis-configured setup).
 */
export function authenticate(deps: AppDeps): RequestHandler {
  const allowedOrigins = new Set([new URL(deps.config.publicUrl).origin, ...deps.config.corsOrigins.map((o) => new URL(o).origin)]);
  return async (req, res, next) => {
    const authorization = req.get('authorization');
    if (authorization) {
      const match = /^Bearer\s+(\S+)$/i.exec(authorization);
      if (!match?.[1]) throw new AppError('unauthenticated', 'Use `Authorization: Bearer <API token>`.');
      req.principal = await authenticateToken(deps, match[1]);
    } else {
      const cookie = readCookie(req.get('cookie'), sessionCookieName);
      if (cookie) {
        const principal = await authenticateSession(deps, cookie);
        if (principal) {
          if (unsafeMethods.has(req.method)) {
            const origin = req.get('origin') ?? (req.get('referer') ? safeOrigin(req.get('referer')!) : undefined);
            if (origin !== undefined && !allowedOrigins.has(origin)) {
              throw new AppError('csrf_rejected', `Requests from ${origin} may not use the console session.`);
            }
          }
          req.principal = principal;
        } else {
          res.clearCookie(sessionCookieName, { path: '/' });
        }
      }
    }
    const tenantHeader = req.get('cairn-tenant');
    if (tenantHeader && req.principal) req.principal = await switchTenant(deps.db, req.principal, tenantHeader);
    next();
  };
}

function safeOrigin(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return 'invalid';
  }
}
