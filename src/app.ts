import express, { Router, type Express } from 'express';
import type { AppDeps } from './deps.js';
import { apiCors, jsonBody, requestId, requestObserver, securityHeaders } from './http/middleware.js';
import { notFoundMiddleware, problemMiddleware } from './http/problem.js';
import { mountEndpoints, type AnyEndpoint, type MountedEndpoint } from './http/endpoint.js';
import { buildOpenApiDocument, openApiRouter } from './http/openapi.js';
import { authenticate } from './auth/middleware.js';
import { authEndpoints } from './auth/routes.js';
import { userEndpoints } from './users/routes.js';
import { tenantEndpoints } from './tenants/routes.js';
import { coursesEndpoints } from './courses/routes.js';
import { gradeEndpoints } from './grades/routes.js';
import { auditEndpoints } from './audit/routes.js';
import { opsRouter } from './ops/routes.js';
import { xapiRouter } from './xapi/index.js';
import { lrsStoreEndpoints } from './xapi/auth/routes.js';
import { lrsAdminEndpoints } from './xapi/admin/routes.js';
import { packageEndpoints } from './scorm/packages/routes.js';
import { scormRuntimeEndpoints } from './scorm/launch/routes.js';
import { ltiEndpoints, ltiRouter } from './lti/index.js';
import { version } from './version.js';

/** Every endpoint of the REST API under /api/v1, in the order they appear in the OpenAPI document. */
export const apiEndpoints: readonly AnyEndpoint[] = [
  ...authEndpoints,
  ...tenantEndpoints,
  ...userEndpoints,
  ...coursesEndpoints,
  ...gradeEndpoints,
  ...auditEndpoints,
  ...lrsStoreEndpoints,
  ...lrsAdminEndpoints,
  ...packageEndpoints,
  ...ltiEndpoints,
  ...scormRuntimeEndpoints,
];

export interface BuiltApp {
  readonly app: Express;
  readonly openApi: Record<string, unknown>;
}

/** The main origin: console, admin API, probes. Never listens; main.ts and tests do. */
export function buildApp(deps: AppDeps): BuiltApp {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.config.trustProxy);
  app.set('etag', false);

  app.use(requestId);
  app.use(requestObserver(deps.log, deps.metrics));
  app.use(securityHeaders(deps.config));

  app.use(opsRouter(deps));

  const api = Router();
  api.use(apiCors(deps.config));
  api.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  api.use(jsonBody(deps.config.bodyLimitBytes));
  api.use(authenticate(deps));
  const mounted: MountedEndpoint[] = mountEndpoints(api, '/api/v1', apiEndpoints, deps);
  const openApi = buildOpenApiDocument(mounted, { serverUrl: deps.config.publicUrl, version });
  app.use('/api/v1', openApiRouter(openApi));
  app.use('/api/v1', api);

  app.use('/xapi', xapiRouter(deps));
  app.use(ltiRouter(deps));

  app.get('/', (_req, res) => {
    res.locals['route'] = '/';
    res.redirect(302, '/api/v1/docs');
  });

  app.use(notFoundMiddleware);
  app.use(problemMiddleware(deps.log));
  return { app, openApi };
}
