import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import express, { Router } from 'express';
import type { TSchema } from 'typebox';
import { errorCatalogue } from '../errors/index.js';
import { Problem } from './schemas.js';
import type { MountedEndpoint } from './endpoint.js';

type Json = Record<string, unknown>;

/** Schemas as plain JSON (TypeBox attaches symbol-keyed metadata that must not leak). */
const plain = (schema: TSchema): Json => JSON.parse(JSON.stringify(schema)) as Json;

const problemRef = { $ref: '#/components/schemas/Problem' };
const problemResponse = (description: string) => ({ description, content: { 'application/problem+json': { schema: problemRef } } });

/**
 * Builds the OpenAPI 3.1 document from the same endpoint definitions that serve requests,
 * so the description cannot drift from the behaviour.
 */
export function buildOpenApiDocument(mounted: readonly MountedEndpoint[], options: { serverUrl: string; version: string }): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const { endpoint, fullPath } of mounted) {
    const openApiPath = fullPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const parameters: Json[] = [];
    for (const [location, schema] of [['path', endpoint.params], ['query', endpoint.query]] as const) {
      if (!schema) continue;
      const json = plain(schema);
      const required = new Set((json['required'] as string[] | undefined) ?? []);
      for (const [name, prop] of Object.entries((json['properties'] as Record<string, Json> | undefined) ?? {})) {
        const { description, ...propSchema } = prop;
        parameters.push({ name, in: location, required: location === 'path' || required.has(name), schema: propSchema, ...(description ? { description } : {}) });
      }
    }
    const isPublic = 'public' in endpoint.auth;
    const responses: Record<string, Json> = {};
    for (const [status, spec] of Object.entries(endpoint.responses)) {
      responses[status] = {
        description: spec.description,
        ...(spec.schema ? { content: { [spec.contentType ?? 'application/json']: { schema: plain(spec.schema) } } } : {}),
      };
    }
    if (endpoint.params || endpoint.query || endpoint.body) responses['400'] = problemResponse('Invalid input; `errors[]` names each field');
    if (!isPublic) {
      responses['401'] = problemResponse('Not authenticated');
      responses['403'] = problemResponse('Role or token scope does not allow this');
      responses['429'] = problemResponse('Rate limit exceeded; see Retry-After');
    }
    if (endpoint.params) responses['404'] = problemResponse('Not found (or in another tenant)');
    if (endpoint.body) responses['413'] = problemResponse('Body too large');
    responses['503'] = problemResponse('Database or blob store unreachable');
    const auth = endpoint.auth;
    const operation: Json = {
      operationId: endpoint.operationId,
      summary: endpoint.summary,
      ...(endpoint.description ? { description: endpoint.description } : {}),
      tags: endpoint.tags,
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(endpoint.body ? { requestBody: { required: true, content: { 'application/json': { schema: plain(endpoint.body) } } } } : {}),
      ...(!endpoint.body && endpoint.requestContent ? { requestBody: { required: true, content: Object.fromEntries(Object.entries(endpoint.requestContent).map(([type, c]) => [type, { schema: plain(c.schema) }])) } } : {}),
      responses,
      security: 'public' in auth ? [] : auth.sessionOnly ? [{ cookieAuth: [] }] : [{ cookieAuth: [] }, { bearerAuth: [] }],
      ...('public' in auth ? {} : {
        'x-cairn-scope': auth.scope,
        ...(auth.roles ? { 'x-cairn-roles': auth.roles } : {}),
        ...(auth.systemAdmin ? { 'x-cairn-system-admin': true } : {}),
      }),
    };
    (paths[openApiPath] ??= {})[endpoint.method] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Cairn API',
      version: options.version,
      description: 'Administration API of Cairn, the e-learning standards hub. Errors are RFC 9457 problem documents; the `code` member is one of the codes in docs/errors.md. Authenticate with the console session cookie or `Authorization: Bearer <API token>`; system administrators may act in another tenant with the `Cairn-Tenant` header.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: options.serverUrl }],
    paths,
    components: {
      schemas: { Problem: { ...plain(Problem), 'x-codes': Object.keys(errorCatalogue) } },
      securitySchemes: {
        cookieAuth: { type: 'apiKey', in: 'cookie', name: 'cairn_session', description: 'Console session from POST /api/v1/auth/login' },
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'API token (`cairn_pat_…`) from POST /api/v1/tokens' },
      },
    },
  };
}

/** `/openapi.json` plus a Swagger UI page served from the installed swagger-ui-dist (no CDN). */
export function openApiRouter(document: Json): Router {
  const router = Router();
  const swaggerDir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  // The document is fixed for the life of the process: serialize it once (it is ~200 KB).
  const serialized = JSON.stringify(document);
  const etag = `"${createHash('sha256').update(serialized).digest('base64url').slice(0, 27)}"`;
  router.get('/openapi.json', (req, res) => {
    res.locals['route'] = '/api/v1/openapi.json';
    res.setHeader('ETag', etag);
    if (req.get('if-none-match') === etag) {
      res.status(304).end();
      return;
    }
    res.type('application/json').send(serialized);
  });
  router.get('/docs', (_req, res) => {
    res.locals['route'] = '/api/v1/docs';
    res.type('html').send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Cairn API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script></body></html>`);
  });
  router.get('/docs/init.js', (_req, res) => {
    res.locals['route'] = '/api/v1/docs/init.js';
    res.type('application/javascript').send(`window.ui = SwaggerUIBundle({ url: '/api/v1/openapi.json', dom_id: '#swagger-ui', deepLinking: true, withCredentials: true });`);
  });
  router.use('/docs/assets', (_req, res, next) => {
    res.locals['route'] = '/api/v1/docs/assets/*';
    next();
  }, express.static(swaggerDir, { index: false, maxAge: '1d' }));
  return router;
}
