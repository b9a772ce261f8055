import express, { Router } from 'express';
import type { AppDeps } from '../../../deps.js';
import { sendPage } from '../../core/routes.js';
import { escapeHtml, renderPage } from '../../core/html.js';
import { deepLinkingPath, renderPicker, submitSelection } from './service.js';

/**
 * The Deep Linking picker on the main origin, inside the LMS frame: GET shows it (with an
 * optional title search), POST answers the platform. Both work from the token in the path.
 */
export function deepLinkingRouter(deps: AppDeps): Router {
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '64kb', parameterLimit: 300 });
  const route = `${deepLinkingPath}/:token`;

  router.get(route, async (req, res) => {
    res.locals['route'] = route;
    const q = typeof req.query['q'] === 'string' ? req.query['q'].trim().slice(0, 200) || undefined : undefined;
    sendPage(res, await renderPicker(deps, req.params.token, q));
  });

  router.post(route, form, async (req, res) => {
    res.locals['route'] = route;
    try {
      const outcome = await submitSelection(deps, req.params.token, (req.body as Record<string, unknown> | undefined) ?? {});
      sendPage(res, outcome.page);
    } catch (error) {
      deps.log.error({ err: error, requestId: req.requestId }, 'LTI deep linking submission failed');
      sendPage(res, renderPage({
        title: 'Content could not be added', status: 500,
        body: `<h1>The content could not be added</h1><div class="box error"><p>Something went wrong on Cairn's side. Try again; if it keeps happening, give your administrator this reference: <code>${escapeHtml(String(req.requestId))}</code></p></div>`,
      }));
    }
  });
  return router;
}
