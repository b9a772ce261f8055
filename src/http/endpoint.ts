import type { CookieOptions, Request, Response, Router } from 'express';
import type { ValidateFunction } from 'ajv';
import type { Static, TSchema } from 'typebox';
import { AppError } from '../errors/index.js';
import { hasScope, type Principal, type Scope, type TenantRole } from '../auth/principal.js';
import type { AppDeps } from '../deps.js';
import { withTransaction, type Queryable } from '../db/index.js';
import { recordAudit, type AuditEntry } from '../audit/repository.js';
import { compileValidator, validatePart } from './validation.js';
import { requestInfo, type RequestInfo } from './request-info.js';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/**
 * Who may call an endpoint. `scope` is what an API token needs; `roles` the tenant roles
 * allowed (any role when omitted); `systemAdmin` restricts to operators of the whole
 * installation. Course-level rules (instructor of this course) live in the services.
 */
export type AuthRequirement =
  | { readonly public: true }
  | {
      readonly scope: Scope;
      readonly roles?: readonly TenantRole[];
      readonly systemAdmin?: boolean;
      /** Reachable before MFA is verified or enrolled (the MFA endpoints themselves, logout, whoami). */
      readonly beforeMfa?: boolean;
      /** Only with a console session, never with an API token (e.g. changing one's password). */
      readonly sessionOnly?: boolean;
    };

export interface ResponseSpec {
  readonly description: string;
  readonly schema?: TSchema;
  readonly contentType?: string;
}

export interface Reply {
  status(code: number): void;
  header(name: string, value: string): void;
  cookie(name: string, value: string, options: CookieOptions): void;
  clearCookie(name: string, options: CookieOptions): void;
}

export interface HandlerContext<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  /** The authenticated caller; throws 401 if read on a public endpoint without one. */
  readonly principal: Principal;
  readonly maybePrincipal: Principal | undefined;
  /** A transaction for writes (committed after the handler returns), the pool for reads. */
  readonly db: Queryable;
  readonly deps: AppDeps;
  readonly request: RequestInfo;
  readonly reply: Reply;
  /** For the rare endpoint that streams or answers in another format. */
  readonly res: Response;
  readonly req: Request;
  /** Recorded in the audit log in the same transaction as the change. */
  audit(entry: AuditEntry): void;
  /**
   * Runs after the transaction commits (or after the handler, for non-transactional
   * endpoints): for side effects outside PostgreSQL, such as deleting blobs, that must not
   * happen if the change rolls back. Failures are logged, not reported to the client.
   */
  afterCommit(work: () => Promise<unknown>): void;
}

type Infer<S> = S extends TSchema ? Static<S> : Record<string, never>;

export interface EndpointDefinition<PS extends TSchema | undefined = undefined, QS extends TSchema | undefined = undefined, BS extends TSchema | undefined = undefined> {
  readonly method: Method;
  /** Express path relative to the router's mount point, e.g. `/courses/:courseId`. */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  readonly tags: readonly string[];
  readonly auth: AuthRequirement;
  readonly params?: PS;
  readonly query?: QS;
  readonly body?: BS;
  /**
   * For endpoints that read the request themselves (uploads): the body as documented in the
   * OpenAPI document, by media type. Never validated by the pipeline.
   */
  readonly requestContent?: Readonly<Record<string, { readonly schema: TSchema }>>;
  /** Defaults: 200 for reads, 201 for POST, 204 for DELETE. */
  readonly status?: number;
  readonly responses: Readonly<Record<number, ResponseSpec>>;
  /** Defaults to true for writes: the handler runs in a transaction with its audit entries. */
  readonly transactional?: boolean;
  /** Opt out of the per-user API rate limit (the login endpoint has its own). */
  readonly rateLimited?: boolean;
  /**
   * The handler writes its audit entries itself, outside the request transaction (login and
   * MFA verification: a failure must stay recorded although the request fails). Every other
   * write that records nothing through `audit()` gets an entry from the pipeline.
   */
  readonly auditsItself?: boolean;
  handler(ctx: HandlerContext<Infer<PS>, Infer<QS>, Infer<BS>>): Promise<unknown>;
}

export type AnyEndpoint = EndpointDefinition<TSchema | undefined, TSchema | undefined, TSchema | undefined>;

/** Identity function that gives the handler typed params, query and body from the schemas. */
export function defineEndpoint<PS extends TSchema | undefined = undefined, QS extends TSchema | undefined = undefined, BS extends TSchema | undefined = undefined>(
  definition: EndpointDefinition<PS, QS, BS>,
): AnyEndpoint {
  return definition as unknown as AnyEndpoint;
}

export interface MountedEndpoint {
  readonly endpoint: AnyEndpoint;
  /** Full path including the mount prefix, for the OpenAPI document. */
  readonly fullPath: string;
}

/**
 * Registers endpoints on a router as one pipeline: authorize → rate limit → validate →
 * handler (in a transaction with its audit entries for writes) → respond. Paths that
 * exist with other methods answer 405 with `Allow`.
 */
export function mountEndpoints(router: Router, prefix: string, endpoints: readonly AnyEndpoint[], deps: AppDeps): MountedEndpoint[] {
  const methodsByPath = new Map<string, Set<string>>();
  for (const endpoint of endpoints) {
    const validators = {
      params: endpoint.params ? compileValidator('params', endpoint.params) : undefined,
      query: endpoint.query ? compileValidator('query', endpoint.query) : undefined,
      body: endpoint.body ? compileValidator('body', endpoint.body) : undefined,
    };
    const routePattern = prefix + endpoint.path;
    router[endpoint.method](endpoint.path, async (req: Request, res: Response) => {
      res.locals['route'] = routePattern;
      await runEndpoint(endpoint, validators, deps, req, res);
    });
    const methods = methodsByPath.get(endpoint.path) ?? new Set<string>();
    methods.add(endpoint.method.toUpperCase());
    if (endpoint.method === 'get') methods.add('HEAD');
    methodsByPath.set(endpoint.path, methods);
  }
  for (const [path, methods] of methodsByPath) {
    router.all(path, (_req, res) => {
      res.locals['route'] = prefix + path;
      const allow = [...methods].sort().join(', ');
      throw new AppError('method_not_allowed', `This path accepts ${allow}.`, { headers: { Allow: allow } });
    });
  }
  return endpoints.map((endpoint) => ({ endpoint, fullPath: prefix + endpoint.path }));
}

interface Validators {
  readonly params: ValidateFunction | undefined;
  readonly query: ValidateFunction | undefined;
  readonly body: ValidateFunction | undefined;
}

async function runEndpoint(endpoint: AnyEndpoint, validators: Validators, deps: AppDeps, req: Request, res: Response): Promise<void> {
  const principal = req.principal;
  authorize(endpoint.auth, principal);

  if (principal && endpoint.rateLimited !== false) {
    await enforceApiRateLimit(deps, principal, res);
  }

  const params: Record<string, unknown> = { ...req.params };
  // Express 5 exposes req.query as a getter; copy it so coercion and defaults can apply.
  const query: Record<string, unknown> = { ...(req.query as Record<string, unknown>) };
  let body: unknown = req.body;
  if (validators.params) validatePart('params', validators.params, params);
  if (validators.query) validatePart('query', validators.query, query);
  else if (Object.keys(query).length > 0) {
    throw new AppError('validation_failed', `query.${Object.keys(query)[0]} is not a known parameter.`, {
      errors: Object.keys(query).map((k) => ({ pointer: `/query/${k}`, message: 'is not a known parameter' })),
    });
  }
  if (validators.body) {
    if (body === undefined) {
      if (req.headers['content-type'] && !req.is('application/json')) {
        throw new AppError('unsupported_media_type', 'Send the body as application/json.');
      }
      body = {};
    }
    validatePart('body', validators.body, body);
  }

  const auditEntries: AuditEntry[] = [];
  const afterCommit: Array<() => Promise<unknown>> = [];
  const info = requestInfo(req);
  const transactional = endpoint.transactional ?? endpoint.method !== 'get';
  let status = endpoint.status ?? (endpoint.method === 'post' ? 201 : endpoint.method === 'delete' ? 204 : 200);

  const run = async (db: Queryable) => {
    const ctx: HandlerContext<unknown, unknown, unknown> = {
      params, query, body, db, deps, req, res,
      request: info,
      maybePrincipal: principal,
      get principal(): Principal {
        if (!principal) throw new AppError('unauthenticated');
        return principal;
      },
      reply: {
        status: (code) => { status = code; },
        header: (name, value) => { res.setHeader(name, value); },
        cookie: (name, value, options) => { res.cookie(name, value, options); },
        clearCookie: (name, options) => { res.clearCookie(name, options); },
      },
      audit: (entry) => { auditEntries.push(entry); },
      afterCommit: (work) => { afterCommit.push(work); },
    };
    const result = await endpoint.handler(ctx as never);
    if (auditEntries.length === 0 && endpoint.method !== 'get' && !endpoint.auditsItself) {
      auditEntries.push(fallbackAuditEntry(endpoint, params));
    }
    if (auditEntries.length > 0) {
      await recordAudit(db, auditEntries.map((entry) => ({ ...entry, principal, request: info, at: deps.clock.now() })));
    }
    return result;
  };

  const result = transactional ? await withTransaction(deps.db, run) : await run(deps.db);
  for (const work of afterCommit) {
    await work().catch((error: unknown) => deps.log.error({ err: error, requestId: req.requestId }, 'after-commit work failed'));
  }
  if (res.headersSent) return;
  if (status === 204 || result === undefined) {
    // Nothing to send: a 200 or 201 without a body would make clients try to parse one.
    res.status(status === 200 || status === 201 ? 204 : status).end();
    return;
  }
  res.status(status).json(result);
}

/**
 * The safety net behind "every write leaves an audit entry": when a handler recorded nothing,
 * the operation itself is recorded, aimed at the last `…Id` path parameter (`lineItemId` →
 * target_type `line_item`), with every path parameter in the details.
 */
export function fallbackAuditEntry(endpoint: Pick<AnyEndpoint, 'operationId'>, params: Readonly<Record<string, unknown>>): AuditEntry {
  const idParams = Object.entries(params).filter(([name, value]) => name.endsWith('Id') && typeof value === 'string');
  const target = idParams[idParams.length - 1];
  return {
    action: endpoint.operationId,
    ...(target ? { targetType: target[0].slice(0, -2).replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), targetId: target[1] as string } : {}),
    details: { recorded_by: 'pipeline', ...(Object.keys(params).length > 0 ? { params } : {}) },
  };
}

function authorize(auth: AuthRequirement, principal: Principal | undefined): void {
  if ('public' in auth) return;
  if (!principal) throw new AppError('unauthenticated', 'Log in or send an API token (Authorization: Bearer …).');
  if (principal.via === 'session' && !auth.beforeMfa) {
    if (principal.mfa === 'pending') throw new AppError('mfa_required', 'Complete the login with your authenticator code (POST /api/v1/auth/mfa/verify).');
    if (principal.mfaEnrollmentRequired) throw new AppError('mfa_enrollment_required');
  }
  if (auth.sessionOnly && principal.via !== 'session') throw new AppError('forbidden', 'This action needs a console session, not an API token.');
  if (auth.systemAdmin && !principal.isSystemAdmin) throw new AppError('forbidden', 'Only system administrators may do this.');
  if (auth.roles && !principal.isSystemAdmin && !auth.roles.includes(principal.role)) {
    throw new AppError('forbidden', `This action needs the role ${auth.roles.join(' or ')}.`);
  }
  if (!hasScope(principal, auth.scope)) throw new AppError('forbidden', `The API token lacks the scope ${auth.scope}.`);
}

async function enforceApiRateLimit(deps: AppDeps, principal: Principal, res: Response): Promise<void> {
  const limit = deps.config.apiRateLimitPerMinute;
  const outcome = await deps.rateLimiter.hit(`api:user:${principal.userId}`, limit, 60);
  res.setHeader('RateLimit-Limit', String(limit));
  res.setHeader('RateLimit-Remaining', String(outcome.remaining));
  res.setHeader('RateLimit-Reset', String(outcome.resetInSeconds));
  if (!outcome.allowed) {
    throw new AppError('rate_limited', `At most ${limit} API requests per minute; try again in ${outcome.resetInSeconds} s.`, {
      headers: { 'Retry-After': String(outcome.resetInSeconds) },
    });
  }
}
