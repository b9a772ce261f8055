import express, { type Express, type Request, type Response } from 'express';
import type { AppDeps } from '../deps.js';
import { AppError, isAppError } from '../errors/index.js';
import { requestId, requestObserver } from '../http/middleware.js';
import { normalizeError, problemMiddleware } from '../http/problem.js';
import { runtimeTokens } from '../scorm/launch/routes.js';
import { ScormRuntime, maxCommitBytes } from '../scorm/runtime/service.js';
import { PlayerAssets } from './assets.js';
import { serveContentFile } from './files.js';

export interface BuiltContentApp {
  readonly app: Express;
  readonly runtime: ScormRuntime;
}

/**
 * The content origin (DESIGN.md "Content runs on its own origin"): the player shell, package
 * files and the SCORM runtime endpoints, all reached through a token in the path. It holds no
 * session of the main origin: it never reads the Cookie header and never sets a cookie.
 *
 *   GET  /play/<launch token>                          the player page (mints the session token)
 *   GET  /player/<asset>                               player.js, player.css, scorm-again bundles
 *   GET  /c/<session token>/<package path>             package files (Range, ETag, CSP)
 *   GET  /r/<session token>/state                      what the player needs to start
 *   POST /r/<session token>/scos/<item>/sessions       start a SCO session → its prior CMI
 *   POST /r/<session token>/scos/<item>/sessions/<id>/commit   a commit (JSON, or text/plain beacon)
 *   PUT  /r/<session token>/sequencing                 SCORM 2004 sequencing state (POST for beacons)
 *   POST /r/<session token>/exit                       suspend or end the attempt
 */
export function buildContentApp(deps: AppDeps): BuiltContentApp {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.config.trustProxy);
  app.set('etag', false);
  const runtime = new ScormRuntime(deps, runtimeTokens(deps));
  const assets = new PlayerAssets();

  app.use(requestId);
  // SCORM commits are the origin's heartbeat (one per learner every 30 s): counted by the request
  // metrics, not logged one line each (5xx are logged by the error handler, accepted commits with
  // warnings by the runtime); every other request is logged.
  app.use(requestObserver(deps.log, deps.metrics, { quiet: (req) => req.method === 'POST' && (req.originalUrl.split('?')[0] ?? '').endsWith('/commit') }));
  app.use((_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.locals['route'] = '/healthz';
    res.json({ status: 'ok' });
  });

  app.get('/player/:asset', async (req, res) => {
    res.locals['route'] = '/player/:asset';
    const asset = await assets.get(req.params.asset);
    if (!asset) throw new AppError('not_found', 'No such player file.');
    res.setHeader('Content-Type', asset.contentType);
    res.setHeader('ETag', asset.etag);
    res.setHeader('Cache-Control', 'public, max-age=3600');
    if (req.headers['if-none-match'] === asset.etag) {
      res.status(304).end();
      return;
    }
    res.send(asset.body);
  });

  app.get('/play/:token', async (req, res) => {
    res.locals['route'] = '/play/:token';
    try {
      const { claims, sessionToken, pkg } = await runtime.openPlayer(req.params.token);
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('Content-Security-Policy', playerCsp);
      res.type('html').send(playerPage({
        title: pkg.title,
        family: claims.family,
        config: { runtime: `/r/${sessionToken}/`, content: `/c/${sessionToken}/` },
      }));
    } catch (error) {
      htmlError(res, error);
    }
  });

  app.get('/c/:token/*path', async (req, res) => {
    res.locals['route'] = '/c/:token/*path';
    try {
      const claims = await runtime.session(req.params.token);
      const pkg = await runtime.packages.get(deps.db, claims.packageId);
      if (!pkg || pkg.tenantId !== claims.tenantId) throw new AppError('not_found', 'The package of this launch is no longer available.');
      const segments = (req.params as unknown as { path: string[] }).path;
      await serveContentFile(deps.blobs, pkg.contentPrefix, segments, req, res);
    } catch (error) {
      if (res.headersSent) throw error;
      htmlError(res, error);
    }
  });

  const runtimeRouter = express.Router({ mergeParams: true });
  runtimeRouter.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  const text = express.text({ type: () => true, limit: maxCommitBytes });
  const json = (req: Request): unknown => {
    const raw = typeof req.body === 'string' ? req.body : '';
    if (raw.trim() === '') return {};
    try {
      return JSON.parse(raw);
    } catch {
      throw new AppError('malformed_json', 'The request body is not valid JSON.');
    }
  };

  runtimeRouter.get('/state', async (req, res) => {
    res.locals['route'] = '/r/:token/state';
    const claims = await runtime.session(param(req, 'token'));
    res.json(await runtime.state(claims));
  });

  runtimeRouter.post('/scos/:itemId/sessions', text, async (req, res) => {
    res.locals['route'] = '/r/:token/scos/:itemId/sessions';
    const claims = await runtime.session(param(req, 'token'));
    res.status(201).json(await runtime.startSession(claims, param(req, 'itemId')));
  });

  runtimeRouter.post('/scos/:itemId/sessions/:sessionId/commit', text, async (req, res) => {
    res.locals['route'] = '/r/:token/scos/:itemId/sessions/:sessionId/commit';
    const claims = await runtime.session(param(req, 'token'));
    const sessionId = param(req, 'sessionId');
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(sessionId)) throw new AppError('not_found', 'No such session.');
    // sendBeacon's final commit arrives as text/plain with no custom headers; the token in the
    // path is its only credential, as for every other commit.
    const via = (req.headers['content-type'] ?? '').toLowerCase().startsWith('text/plain') ? 'beacon' : 'xhr';
    const raw = typeof req.body === 'string' ? req.body : '';
    res.json(await runtime.commit(claims, param(req, 'itemId'), sessionId, raw, via));
  });

  const sequencing = async (req: Request, res: Response) => {
    res.locals['route'] = '/r/:token/sequencing';
    const claims = await runtime.session(param(req, 'token'));
    await runtime.saveSequencing(claims, json(req));
    res.status(204).end();
  };
  runtimeRouter.put('/sequencing', text, sequencing);
  runtimeRouter.post('/sequencing', text, sequencing);

  runtimeRouter.post('/exit', text, async (req, res) => {
    res.locals['route'] = '/r/:token/exit';
    const claims = await runtime.session(param(req, 'token'));
    const body = json(req) as { reason?: unknown };
    if (body.reason !== 'suspend' && body.reason !== 'exit') throw new AppError('bad_request', '`reason` must be "suspend" or "exit".');
    await runtime.exit(claims, body.reason);
    res.status(204).end();
  });

  app.use('/r/:token', runtimeRouter);

  app.use((req, _res, next) => {
    next(new AppError('route_not_found', `No content route ${req.method} ${req.path}.`));
  });
  app.use(problemMiddleware(deps.log));
  return { app, runtime };
}

function param(req: Request, name: string): string {
  const value = (req.params as Record<string, string | undefined>)[name];
  if (value === undefined) throw new AppError('bad_request', `Missing ${name}.`);
  return value;
}

/** The player page loads only its own scripts; the content it frames is on the same origin. */
const playerCsp = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "frame-src 'self'", "connect-src 'self'",
  "object-src 'none'", "base-uri 'none'", "form-action 'none'", 'frame-ancestors *',
].join('; ');

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function playerPage(p: { title: string; family: '1.2' | '2004'; config: Record<string, string> }): string {
  // JSON inside <script type="application/json"> is data, not code (allowed by the CSP); `<` is
  // escaped so no value can close the element.
  const config = JSON.stringify(p.config).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(p.title)}</title>
<link rel="stylesheet" href="/player/player.css">
</head>
<body>
<header id="cairn-bar">
<span id="cairn-title">${escapeHtml(p.title)}</span>
<span id="cairn-status" role="status"></span>
<button type="button" id="cairn-previous" disabled>Previous</button>
<button type="button" id="cairn-continue" disabled>Continue</button>
<button type="button" id="cairn-suspend">Save and exit</button>
<button type="button" id="cairn-exit">Exit</button>
</header>
<div id="cairn-main">
<nav id="cairn-toc" aria-label="Table of contents"></nav>
<iframe id="cairn-content" title="Course content" src="about:blank"></iframe>
</div>
<script type="application/json" id="cairn-player-config">${config}</script>
<script src="/player/${p.family === '1.2' ? 'scorm12' : 'scorm2004'}.js"></script>
<script src="/player/player.js"></script>
</body>
</html>
`;
}

/** Browser-facing failures (the player page, content files) are small HTML pages, not JSON. */
function htmlError(res: Response, error: unknown): void {
  const appError = isAppError(error) ? error : normalizeError(error);
  if (appError.status >= 500) throw error;
  res.status(appError.status);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'");
  for (const [name, value] of Object.entries(appError.headers)) res.setHeader(name, value);
  res.type('html').send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(appError.message)}</title></head><body><h1>${appError.status === 401 ? 'This link is not valid' : appError.status === 403 ? 'Not available' : 'Not found'}</h1><p>${escapeHtml(appError.message)}</p></body></html>`);
}

