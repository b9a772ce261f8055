/**
 * The closed list of error codes Cairn answers with. Each maps to an HTTP status and a
 * title; `docs/errors.md` is rendered from this table and a test keeps it in sync.
 * Protocol endpoints that have their own error shapes (xAPI, OAuth2, SCORM, LTI browser
 * pages) translate these codes at their edge.
 */
export const errorCatalogue = {
  validation_failed: { status: 400, title: 'Validation failed', description: 'A parameter, query field or body field is missing, has the wrong type, or is not allowed. `errors[]` names each field with a JSON pointer.' },
  malformed_json: { status: 400, title: 'Malformed JSON', description: 'The request body is not valid JSON.' },
  bad_request: { status: 400, title: 'Bad request', description: 'The request cannot be processed as sent; `detail` says why.' },
  invalid_cursor: { status: 400, title: 'Invalid cursor', description: 'The `cursor` query parameter was not produced by this endpoint or is corrupted.' },
  unauthenticated: { status: 401, title: 'Authentication required', description: 'No valid session cookie or API token was presented, or the session has expired.' },
  invalid_credentials: { status: 401, title: 'Invalid credentials', description: 'The email, password or MFA code is wrong.' },
  mfa_required: { status: 401, title: 'MFA code required', description: 'The password was right; the account also needs a TOTP code (`POST /api/v1/auth/mfa/verify`).' },
  forbidden: { status: 403, title: 'Forbidden', description: 'The caller is authenticated but its role or token scope does not allow this action.' },
  csrf_rejected: { status: 403, title: 'Cross-site request rejected', description: 'A state-changing request with a session cookie came from another origin.' },
  mfa_enrollment_required: { status: 403, title: 'MFA enrollment required', description: 'The tenant requires administrators to use MFA; enroll with `POST /api/v1/auth/mfa/setup` first.' },
  not_found: { status: 404, title: 'Not found', description: 'The resource does not exist or belongs to another tenant.' },
  route_not_found: { status: 404, title: 'No such route', description: 'No endpoint matches this method and path.' },
  method_not_allowed: { status: 405, title: 'Method not allowed', description: 'The path exists but not with this method; `Allow` lists the methods it has.' },
  conflict: { status: 409, title: 'Conflict', description: 'The request conflicts with existing data (a duplicate email, slug or enrollment, or a state that forbids the change).' },
  precondition_failed: { status: 412, title: 'Precondition failed', description: 'An `If-Match` / `If-None-Match` precondition did not hold.' },
  payload_too_large: { status: 413, title: 'Payload too large', description: 'The request body exceeds the configured limit.' },
  range_not_satisfiable: { status: 416, title: 'Range not satisfiable', description: 'The requested byte range starts beyond the end of the file.' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type', description: 'The endpoint does not accept this `Content-Type`.' },
  account_locked: { status: 423, title: 'Account locked', description: 'Too many failed logins; the account is locked until the time in `Retry-After`.' },
  rate_limited: { status: 429, title: 'Too many requests', description: 'The caller exceeded its request rate; `Retry-After` says when to try again.' },
  internal: { status: 500, title: 'Internal server error', description: 'An unexpected failure. The response carries only the request id; details are in the server log.' },
  service_unavailable: { status: 503, title: 'Service unavailable', description: 'A dependency (database or blob store) is unreachable. Retry later.' },
} as const satisfies Record<string, { status: number; title: string; description: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

export interface FieldError {
  /** JSON pointer into the request: `/body/email`, `/query/limit`, `/params/courseId`. */
  readonly pointer: string;
  readonly message: string;
}

export interface AppErrorOptions {
  readonly errors?: readonly FieldError[];
  /** Extra members for the problem document (e.g. `retry_after`). */
  readonly extensions?: Readonly<Record<string, unknown>>;
  /** Extra response headers (e.g. `Retry-After`, `Allow`). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly cause?: unknown;
}

/** The one error type services throw. The edge renders it as RFC 9457 problem+json. */
export class AppError extends Error {
  readonly status: number;
  readonly errors: readonly FieldError[];
  readonly extensions: Readonly<Record<string, unknown>>;
  readonly headers: Readonly<Record<string, string>>;

  constructor(readonly code: ErrorCode, detail?: string, options: AppErrorOptions = {}) {
    super(detail ?? errorCatalogue[code].title, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.status = errorCatalogue[code].status;
    this.errors = options.errors ?? [];
    this.extensions = options.extensions ?? {};
    this.headers = options.headers ?? {};
  }
}

export const notFound = (what: string) => new AppError('not_found', `${what} not found`);

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

/** docs/errors.md body, generated from the catalogue. */
export function renderErrorCatalogue(): string {
  const rows = Object.entries(errorCatalogue).map(
    ([code, e]) => `| \`${code}\` | ${e.status} | ${e.title} | ${e.description} |`,
  );
  return ['| Code | Status | Title | When |', '| --- | --- | --- | --- |', ...rows, ''].join('\n');
}
