import { Router, type Request, type Response, type NextFunction } from 'express';
import type { AppDeps } from '../deps.js';
import { AppError } from '../errors/index.js';
import { notFoundMiddleware, problemMiddleware } from '../http/problem.js';
import { alternateRequestSyntax, parseVersion, usedAlternateSyntax, xapiCors } from './http.js';
import { aboutRouter } from './about/routes.js';
import { statementsRouter } from './statements/routes.js';
import { documentsRouter } from './documents/routes.js';
import { agentsRouter } from './agents/routes.js';
import { activitiesRouter } from './activities/routes.js';

/** The methods each xAPI resource has (Communication §2; HEAD with every GET). */
const resourceMethods = new Map<string, string>([
  ['/statements', 'GET, HEAD, POST, PUT'],
  ['/agents', 'GET, HEAD'],
  ['/agents/profile', 'DELETE, GET, HEAD, POST, PUT'],
  ['/activities', 'GET, HEAD'],
  ['/activities/state', 'DELETE, GET, HEAD, POST, PUT'],
  ['/activities/profile', 'DELETE, GET, HEAD, POST, PUT'],
  ['/about', 'GET, HEAD'],
]);

/**
 * A method a resource does not have is 405 before anything else is checked (the ADL suite
 * sends them without caring about credentials); OPTIONS is CORS's and handled earlier.
 */
function methodCheck(req: Request, _res: Response, next: NextFunction): void {
  const allowed = resourceMethods.get(req.path.replace(/\/+$/, ''));
  if (allowed && req.method !== 'OPTIONS' && !allowed.split(', ').includes(req.method)) {
    throw new AppError('method_not_allowed', `${req.path} accepts ${allowed}.`, { headers: { Allow: allowed } });
  }
  next();
}

/** What xAPI resource routers receive. */
export type XapiResourceDeps = AppDeps;

/**
 * The Learning Record Store at `/xapi`. Order: CORS → version header on every response →
 * alternate request syntax (1.0.x) → /about (public) → version negotiation → Basic auth →
 * resources. xAPI keeps its own HTTP semantics; errors are still problem+json bodies with
 * the status codes the xAPI spec names.
 */
export function xapiRouter(deps: AppDeps): Router {
  const resourceDeps: XapiResourceDeps = deps;
  const router = Router();
  router.use(xapiCors);
  router.use((req: Request, res: Response, next: NextFunction) => {
    // Every response carries the version it was served under (xAPI 1.0.3 Part 3 §3.3).
    res.setHeader('X-Experience-API-Version', parseVersion(req.get('x-experience-api-version')) ?? '2.0.0');
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  router.use(alternateRequestSyntax(deps.config.xapiBodyLimitBytes));
  router.use(methodCheck);
  router.use(aboutRouter(deps));
  router.use(async (req: Request, res: Response, next: NextFunction) => {
    const requested = req.get('x-experience-api-version');
    const version = parseVersion(requested);
    if (!requested) throw new AppError('bad_request', 'The X-Experience-API-Version header is required (1.0.0–1.0.3 or 2.0.0).');
    if (!version) throw new AppError('bad_request', `X-Experience-API-Version ${requested} is not supported; use 1.0.3 or 2.0.0.`);
    res.setHeader('X-Experience-API-Version', version);
    const credential = await deps.xapiAuth.authenticate(req.get('authorization'));
    req.xapi = { version, requestedVersion: requested.trim(), credential, alternateSyntax: usedAlternateSyntax(req) };
    next();
  });
  router.use(statementsRouter(resourceDeps));
  router.use(documentsRouter(resourceDeps));
  router.use(agentsRouter(resourceDeps));
  router.use(activitiesRouter(resourceDeps));
  router.use(notFoundMiddleware);
  router.use(problemMiddleware(deps.log));
  return router;
}
