import type { Request } from 'express';
import type { Principal } from '../auth/principal.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by the request-id middleware; echoed in `X-Request-Id` and in every problem document. */
      requestId: string;
      /** Set by the authentication middleware when a valid session or token is presented. */
      principal?: Principal;
    }
  }
}

export interface RequestInfo {
  readonly id: string;
  readonly ip: string | undefined;
  readonly userAgent: string | undefined;
}

export function requestInfo(req: Request): RequestInfo {
  return { id: req.requestId, ip: req.ip, userAgent: req.get('user-agent') };
}
