import { Router } from 'express';
import type { AppDeps } from '../../deps.js';
import { version as cairnVersion } from '../../version.js';
import { sendJson, supportedVersions } from '../http.js';

/**
 * GET /xapi/about (xAPI 1.0.3 Part 3 §2.8): public, no version header needed. The extensions
 * advertise what a client would otherwise learn by failing: body and page limits.
 */
export function aboutRouter(deps: AppDeps): Router {
  const router = Router();
  router.get('/about', (_req, res) => {
    res.locals['route'] = '/xapi/about';
    sendJson(res, 200, {
      version: [...supportedVersions],
      extensions: {
        'https://cairn.dev/xapi/extensions/lrs': {
          product: 'Cairn',
          version: cairnVersion,
          max_request_bytes: deps.config.xapiBodyLimitBytes,
          max_statements_per_page: deps.config.xapiStatementPageMax,
        },
      },
    });
  });
  return router;
}
