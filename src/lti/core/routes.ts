import { Router, type Response } from 'express';
import { Type } from 'typebox';
import type { AppDeps } from '../../deps.js';
import { defineEndpoint, type AnyEndpoint } from '../../http/endpoint.js';
import { DateTime, NullableDateTime } from '../../http/schemas.js';
import { browserScripts } from './browser-scripts.js';
import type { Page } from './html.js';

/** Sends one of the LTI HTML pages with its own headers (frameable by the LMS, strict CSP). */
export function sendPage(res: Response, page: Page): void {
  res.removeHeader('X-Frame-Options');
  for (const [name, value] of Object.entries(page.headers)) res.setHeader(name, value);
  res.status(page.status).type('html').send(page.html);
}

/**
 * Public key material and browser scripts: `GET /.well-known/jwks.json` (also `/lti/jwks`),
 * which platforms and tools fetch to verify what Cairn signs, and `/lti/assets/*.js`.
 */
export function ltiCoreRouter(deps: AppDeps): Router {
  const router = Router();
  const jwks = async (_req: unknown, res: Response) => {
    res.locals['route'] = '/.well-known/jwks.json';
    const body = await deps.lti.keys.jwks();
    // Short enough that a rotation is seen within minutes; the next key is published well before use anyway.
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.type('application/json').send(JSON.stringify(body));
  };
  router.get('/.well-known/jwks.json', jwks);
  router.get('/lti/jwks', jwks);
  router.get('/lti/assets/:name', (req, res, next) => {
    res.locals['route'] = '/lti/assets/:name';
    const script = browserScripts[req.params.name];
    if (!script) {
      next();
      return;
    }
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.type('application/javascript').send(script);
  });
  return router;
}

const KeyInfo = Type.Object({
  kid: Type.String(),
  alg: Type.String(),
  status: Type.Union([Type.Literal('next'), Type.Literal('current'), Type.Literal('previous'), Type.Literal('retired')], { description: '`current` signs; `next` and unexpired `previous` keys are published beside it' }),
  created_at: DateTime(),
  activated_at: NullableDateTime(),
  deactivated_at: NullableDateTime(),
  published_until: NullableDateTime('A previous key leaves the JWKS at this time'),
});

export const ltiKeyEndpoints: AnyEndpoint[] = [
  defineEndpoint({
    method: 'get', path: '/lti/keys', operationId: 'listLtiKeys', tags: ['LTI'],
    summary: 'Cairn\'s LTI signing keys (public information only)',
    description: 'The keys are installation-wide. Private keys are encrypted at rest and never returned.',
    auth: { scope: 'lti:read', roles: ['admin'] },
    responses: { 200: { description: 'Keys, newest first', schema: Type.Object({ data: Type.Array(KeyInfo), jwks_url: Type.String() }) } },
    async handler({ deps }) {
      await deps.lti.keys.ensureKeys();
      return { data: await deps.lti.keys.describe(), jwks_url: `${deps.config.publicUrl}/.well-known/jwks.json` };
    },
  }),
  defineEndpoint({
    method: 'post', path: '/lti/keys/rotate', operationId: 'rotateLtiKeys', tags: ['LTI'],
    summary: 'Rotate the LTI signing key now',
    description: 'The published next key becomes current, the current key stays published for CAIRN_LTI_KEY_OVERLAP_DAYS, and a new next key is created. For a suspected leak; the daily job rotates on schedule otherwise.',
    auth: { scope: 'lti:write', systemAdmin: true },
    status: 200,
    transactional: false,
    responses: { 200: { description: 'The keys after the rotation', schema: Type.Object({ current: Type.String(), next: Type.String(), retired: Type.Array(Type.String()) }) } },
    async handler({ deps, audit }) {
      const outcome = await deps.lti.keys.rotateNow();
      audit({ action: 'lti_key.rotate', targetType: 'lti_key', targetId: outcome.current, details: { current: outcome.current, next: outcome.next, retired: outcome.retired } });
      return { current: outcome.current, next: outcome.next, retired: [...outcome.retired] };
    },
  }),
];
