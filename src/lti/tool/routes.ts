import express, { Router, type Request, type Response } from 'express';
import type { AppDeps } from '../../deps.js';
import { requestInfo } from '../../http/request-info.js';
import { isLtiError, LtiError } from '../core/errors.js';
import { errorPage, renderPage } from '../core/html.js';
import { sendPage } from '../core/routes.js';
import { handleLogin, launchPath, loginPath, type BindingCookie } from './launch/login.js';
import { completeLaunch } from './launch/service.js';
import { renderCoursePage } from './launch/course-page.js';
import { performDynamicRegistration, registrationLinkPrefix } from './dynamic-registration/service.js';
import { canvasConfiguration } from './registrations/canvas.js';

function setBindingCookie(res: Response, cookie: BindingCookie): void {
  // The platform's form_post is a cross-site POST: only SameSite=None cookies come back with
  // it, and browsers accept those only with Secure (https). Over plain http (development) the
  // attribute is left out: Chromium then still sends a cookie younger than two minutes with a
  // top-level cross-site POST, so a launch in a new window works; in an iframe, postMessage
  // storage takes over.
  res.cookie(cookie.name, cookie.value, {
    httpOnly: true, path: '/lti', maxAge: 10 * 60_000,
    ...(cookie.secure ? { sameSite: 'none' as const, secure: true } : {}),
  });
}

/**
 * The browser side of Cairn as an LTI tool, on the main origin: login initiation, the launch
 * (redirect_uri), the course page a launch lands on, Dynamic Registration and the Canvas
 * configuration JSON. Answers are HTML pages or redirects, never problem+json: a learner in
 * an LMS iframe reads them.
 */
export function ltiToolRouter(deps: AppDeps): Router {
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '256kb', parameterLimit: 50 });

  const login = async (req: Request, res: Response) => {
    res.locals['route'] = loginPath;
    const params = req.method === 'POST' ? (req.body as Record<string, unknown> | undefined) ?? {} : (req.query as Record<string, unknown>);
    const outcome = await handleLogin(deps, params, requestInfo(req));
    if (outcome.kind === 'error') return sendPage(res, outcome.page);
    setBindingCookie(res, outcome.cookie);
    if (outcome.kind === 'redirect') {
      res.setHeader('Cache-Control', 'no-store');
      res.redirect(302, outcome.location);
      return;
    }
    sendPage(res, outcome.page);
  };
  router.get(loginPath, login);
  router.post(loginPath, form, login);

  router.post(launchPath, form, async (req, res) => {
    res.locals['route'] = launchPath;
    const outcome = await completeLaunch(deps, (req.body as Record<string, unknown> | undefined) ?? {}, req.get('cookie'), requestInfo(req));
    if (outcome.clearCookie) res.clearCookie(outcome.clearCookie, { path: '/lti' });
    if (outcome.kind === 'redirect') {
      res.setHeader('Cache-Control', 'no-store');
      // 303: the browser follows the POST with a GET.
      res.redirect(303, outcome.location);
      return;
    }
    sendPage(res, outcome.page);
  });
  router.get(launchPath, (_req, res) => {
    res.locals['route'] = launchPath;
    sendPage(res, renderPage({ title: 'Cairn', status: 405, body: '<h1>Start from your course</h1><div class="box"><p>Cairn is opened from your learning platform (Canvas, Moodle…). Open the activity there.</p></div>' }));
  });

  router.get('/lti/course/:token', async (req, res) => {
    res.locals['route'] = '/lti/course/:token';
    sendPage(res, await renderCoursePage(deps, req.params.token));
  });

  router.get(`${registrationLinkPrefix}:token`, async (req, res) => {
    res.locals['route'] = `${registrationLinkPrefix}:token`;
    try {
      const result = await performDynamicRegistration(deps, req.params.token, req.query as Record<string, unknown>, requestInfo(req));
      sendPage(res, result.page);
    } catch (caught) {
      const error = isLtiError(caught) ? caught : new LtiError('registration_refused', 'The registration failed unexpectedly.', { cause: caught });
      deps.log[isLtiError(caught) ? 'info' : 'error']({ err: caught, code: error.code, requestId: req.requestId }, 'LTI dynamic registration failed');
      sendPage(res, errorPage(error.code, { detail: error.message, reference: req.requestId }));
    }
  });

  router.get('/lti/canvas.json', (_req, res) => {
    res.locals['route'] = '/lti/canvas.json';
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json(canvasConfiguration(deps.config.publicUrl));
  });
  return router;
}
