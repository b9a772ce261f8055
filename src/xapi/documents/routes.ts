import type { Readable } from 'node:stream';
import { Router, type Request, type Response } from 'express';
import { AppError } from '../../errors/index.js';
import { readBody, requirePermission, sendJson } from '../http.js';
import type { XapiResourceDeps } from '../index.js';
import { failedPrecondition, parsePreconditions, quoteEtag } from './preconditions.js';
import type { DocumentIdentity, DocumentScope } from './repository.js';
import { parseDocumentParams, resources, type DocumentMethod, type ResourceSpec } from './schemas.js';
import * as service from './service.js';

/**
 * The xAPI document resources: `/activities/state`, `/activities/profile`, `/agents/profile`
 * (xAPI 1.0.3 Part 3 §2.2–2.7, 2.0 §4.1.6.2/.5/.6). GET also answers HEAD (Express routes HEAD
 * to GET handlers; bodies are suppressed, headers kept).
 */
export function documentsRouter(deps: XapiResourceDeps): Router {
  const router = Router();
  for (const spec of resources) {
    router.route(spec.path)
      .get((req, res) => handle(deps, spec, 'GET', req, res))
      .put((req, res) => handle(deps, spec, 'PUT', req, res))
      .post((req, res) => handle(deps, spec, 'POST', req, res))
      .delete((req, res) => handle(deps, spec, 'DELETE', req, res))
      .all((req) => {
        throw new AppError('method_not_allowed', `${req.method} is not supported on ${spec.path}.`, { headers: { Allow: 'GET, HEAD, PUT, POST, DELETE, OPTIONS' } });
      });
  }
  return router;
}

async function handle(deps: XapiResourceDeps, spec: ResourceSpec, method: DocumentMethod, req: Request, res: Response): Promise<void> {
  res.locals['route'] = `/xapi${spec.path}`;
  const access = method === 'GET' ? 'read' : 'write';
  const ctx = requirePermission(req, `${spec.permission}/${access}`);
  const params = parseDocumentParams(spec, method, req.query as Record<string, unknown>, ctx.version);
  const storeId = ctx.credential.storeId;

  if (params.documentId === undefined) {
    const scope: DocumentScope = {
      storeId,
      kind: spec.kind,
      activityId: params.activityId,
      agentKey: params.agentKey,
      // No registration given: the set is every registration of this activity and agent
      // ("Activity + Agent [+ registration if specified]", Part 3 §2.3.s4/s5; decision 0040).
      ...(params.registration !== null ? { registration: params.registration } : {}),
    };
    if (method === 'GET') {
      const { ids, lastModified } = await service.listDocuments(deps, scope, params.since);
      if (lastModified) res.setHeader('Last-Modified', lastModified.toUTCString());
      sendJson(res, 200, ids);
      return;
    }
    await service.deleteDocuments(deps, scope);
    res.status(204).end();
    return;
  }

  const id: DocumentIdentity = {
    storeId,
    kind: spec.kind,
    activityId: params.activityId,
    agentKey: params.agentKey,
    registration: params.registration,
    documentId: params.documentId,
  };
  const preconditions = parsePreconditions(req.get('if-match'), req.get('if-none-match'));

  switch (method) {
    case 'GET':
      await sendDocument(deps, id, req, res);
      return;
    case 'PUT':
    case 'POST': {
      const body = await readBody(req, deps.config.xapiBodyLimitBytes);
      const { etag } = await service.writeDocument(deps, method, id, {
        body,
        contentType: req.get('content-type'),
        agent: params.agent,
        preconditions,
        unconditionalPut: ctx.version === '2.0.0' ? 'create-only' : spec.kind === 'state' ? 'allowed' : 'forbidden',
      });
      // The new ETag lets a client chain the next conditional write without a GET.
      res.setHeader('ETag', quoteEtag(etag));
      res.status(204).end();
      return;
    }
    case 'DELETE':
      await service.deleteDocument(deps, id, preconditions);
      res.status(204).end();
      return;
  }
}

async function sendDocument(deps: XapiResourceDeps, id: DocumentIdentity, req: Request, res: Response): Promise<void> {
  // A blob can vanish between reading the row and opening it when a writer replaced the
  // document in between; the second read sees the new row.
  for (let attempt = 0; ; attempt++) {
    const doc = await service.getDocument(deps, id);
    if (!doc) throw new AppError('not_found', 'No document with these parameters.');
    // Conditional GET: a client holding the current version gets 304 without the bytes.
    const cached = parsePreconditions(undefined, req.get('if-none-match'));
    if (cached.ifNoneMatch && failedPrecondition(cached, doc.etag)) {
      setDocumentHeaders(res, doc);
      res.status(304).end();
      return;
    }
    let stream: Readable | undefined;
    if (!doc.content && req.method !== 'HEAD') {
      try {
        stream = await service.openBlobContent(deps, doc);
      } catch (error) {
        if (attempt === 0 && error instanceof AppError && error.code === 'not_found') continue;
        throw error;
      }
    }
    setDocumentHeaders(res, doc);
    res.setHeader('Content-Type', doc.contentType);
    res.setHeader('Content-Length', String(doc.size));
    res.status(200);
    if (stream) {
      stream.on('error', (error) => {
        deps.log.error({ err: error, requestId: req.requestId }, 'document blob stream failed');
        res.destroy(error);
      });
      stream.pipe(res);
    } else {
      // Node sends no body for HEAD whatever is passed here.
      res.end(doc.content ?? undefined);
    }
    return;
  }
}

function setDocumentHeaders(res: Response, doc: service.StoredDocument): void {
  res.setHeader('ETag', quoteEtag(doc.etag));
  // Part 3 §2.2.s6: SHOULD* in 1.0.3, required by the 2.0 suite.
  res.setHeader('Last-Modified', doc.updatedAt.toUTCString());
}
