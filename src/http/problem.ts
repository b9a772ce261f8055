import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { AppError, errorCatalogue, isAppError } from '../errors/index.js';
import { mapDbError } from '../db/index.js';

export const problemContentType = 'application/problem+json';

/**
 * RFC 9457 problem document. `type` points at the error catalogue in the docs, `code` is the
 * machine-readable code from the closed list, `request_id` ties the answer to the log line.
 */
export function problemBody(error: AppError, req: Request): Record<string, unknown> {
  return {
    type: `https://cairn.dev/problems/${error.code.replace(/_/g, '-')}`,
    title: errorCatalogue[error.code].title,
    status: error.status,
    detail: error.message,
    instance: req.originalUrl.split('?')[0],
    code: error.code,
    request_id: req.requestId,
    ...(error.errors.length > 0 ? { errors: error.errors } : {}),
    ...error.extensions,
  };
}

export function sendProblem(res: Response, req: Request, error: AppError): void {
  for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  res.status(error.status).type(problemContentType).send(JSON.stringify(problemBody(error, req)));
}

/** Turns anything thrown into an AppError: client mistakes keep their meaning, the rest is `internal`. */
export function normalizeError(error: unknown): AppError {
  const mapped = mapDbError(error);
  if (isAppError(mapped)) return mapped;
  const e = error as { type?: string; status?: number; statusCode?: number; message?: string; limit?: number };
  // body-parser errors carry a `type`; their messages are safe but we word them ourselves.
  switch (e.type) {
    case 'entity.parse.failed':
      return new AppError('malformed_json', `The request body is not valid JSON: ${String(e.message).replace(/^Unexpected/, 'unexpected')}`);
    case 'entity.too.large':
      return new AppError('payload_too_large', `The request body is larger than the limit of ${e.limit} bytes.`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new AppError('unsupported_media_type', 'Send the body as UTF-8.');
    case 'request.aborted':
      return new AppError('bad_request', 'The request was aborted by the client.');
    case 'request.size.invalid':
      return new AppError('bad_request', 'The request body length did not match Content-Length.');
    default:
      break;
  }
  const status = e.status ?? e.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new AppError('bad_request', 'The request could not be read.');
  }
  return new AppError('internal', 'An unexpected error occurred. Quote the request id when reporting it.', { cause: error });
}

/** Error pipeline: normalize → log (5xx with the cause, 4xx at debug) → render. */
export function problemMiddleware(log: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    if (res.headersSent) {
      // Too late for a problem document: cut the connection so the client sees a truncated
      // response rather than a complete-looking one (Express's fallback would do the same,
      // but print the stack to stderr outside the JSON log).
      log.error({ err: error, requestId: req.requestId }, 'request failed after the response had started');
      res.destroy();
      return;
    }
    const appError = normalizeError(error);
    if (appError.status >= 500) {
      log.error({ err: appError.code === 'internal' ? error : appError.cause ?? error, requestId: req.requestId, code: appError.code }, 'request failed');
    } else {
      log.debug({ requestId: req.requestId, code: appError.code, detail: appError.message }, 'request rejected');
    }
    sendProblem(res, req, appError);
  };
}

export const notFoundMiddleware: RequestHandler = (req) => {
  throw new AppError('route_not_found', `No endpoint answers ${req.method} ${req.originalUrl.split('?')[0]}.`);
};
