import { Router } from 'express';
import type { AppDeps } from '../deps.js';
import type { AnyEndpoint } from '../http/endpoint.js';
import { ltiCoreRouter, ltiKeyEndpoints } from './core/routes.js';
import { ltiToolRouter } from './tool/routes.js';
import { ltiRegistrationEndpoints } from './tool/registrations/routes.js';
import { ltiLaunchLogEndpoints } from './tool/launch-log/routes.js';
import { resourceLinkEndpoints } from './tool/launch/resource-link-routes.js';
import { agsEndpoints } from './tool/ags/routes.js';
import { nrpsEndpoints } from './tool/nrps/routes.js';
import { deepLinkingRouter } from './tool/deep-linking/routes.js';

/** The admin API of LTI under /api/v1/lti: keys, registrations, the launch log. */
export const ltiEndpoints: readonly AnyEndpoint[] = [...ltiKeyEndpoints, ...ltiRegistrationEndpoints, ...ltiLaunchLogEndpoints, ...resourceLinkEndpoints, ...agsEndpoints, ...nrpsEndpoints];

/** The browser- and platform-facing LTI routes on the main origin (JWKS, login, launch, registration). */
export function ltiRouter(deps: AppDeps): Router {
  const router = Router();
  router.use(ltiCoreRouter(deps));
  router.use(ltiToolRouter(deps));
  router.use(deepLinkingRouter(deps));
  return router;
}
