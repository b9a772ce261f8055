import { randomBytes } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { AppError } from '../../errors/index.js';
import type { XapiResourceDeps } from '../index.js';
import { readBody, requirePermission, sendJson, sendJsonText, type XapiRequestContext } from '../http.js';
import { readsOnlyOwnStatements } from '../auth/scopes.js';
import { isUuid } from '../validation/primitives.js';
import { activityIds, canonicalStatement, idsStatement, parseAcceptLanguage, type StatementFormat } from './format.js';
import { buildMultipart, multipartBoundary, parseMultipart, type Part } from './multipart.js';
import { encodeMore, parseStatementQuery } from './query.js';
import * as repo from './repository.js';
import { attachmentKey } from './attachment-keys.js';
import { StatementService } from './service.js';

/** "…:00.123Z" → "…:00.123000Z": bounds compare as equal-length strings. */
function micros(iso: string): string {
  return iso.replace(/(\.\d+)?Z$/, (_m, fraction: string | undefined) => `${(fraction ?? '.').padEnd(7, '0').slice(0, 7)}Z`);
}

function millis(iso: string): string {
  return iso.replace(/(\.\d{3})\d*Z$/, '$1Z');
}

/**
 * The Statement Resource (xAPI 1.0.3 Part 3 §2.1; 2.0 §4.1.6.1) at /xapi/statements:
 * PUT (one statement by statementId), POST (one or a batch; JSON or multipart/mixed with
 * attachments), GET (one by id, or a query page with `more`), HEAD (GET without a body).
 */
export function statementsRouter(deps: XapiResourceDeps): Router {
  const router = Router();
  const service = new StatementService(deps);

  router.put('/statements', async (req, res) => {
    res.locals['route'] = '/xapi/statements';
    const ctx = requirePermission(req, 'statements/write');
    const params = req.query as Record<string, unknown>;
    const statementId = params['statementId'];
    if (statementId === undefined) throw new AppError('bad_request', 'PUT /statements needs the statementId parameter.');
    const extra = Object.keys(params).filter((k) => k !== 'statementId');
    if (extra.length > 0) throw new AppError('bad_request', `PUT /statements accepts only statementId (got ${extra.join(', ')}).`);
    if (typeof statementId !== 'string' || !isUuid(statementId)) throw new AppError('bad_request', 'The statementId parameter must be a UUID.');
    const { statements, parts } = await readStatements(req, deps.config.xapiBodyLimitBytes);
    if (Array.isArray(statements)) throw new AppError('bad_request', 'PUT /statements takes one statement object, not an array.');
    await service.store({ credential: ctx.credential, version: ctx.version, statements: [statements], single: true, statementId, parts });
    res.status(204).end();
  });

  router.post('/statements', async (req, res) => {
    res.locals['route'] = '/xapi/statements';
    const ctx = requirePermission(req, 'statements/write');
    const extra = Object.keys(req.query as Record<string, unknown>);
    if (extra.length > 0) throw new AppError('bad_request', `POST /statements takes no parameters (got ${extra.join(', ')}).`);
    const { statements, parts } = await readStatements(req, deps.config.xapiBodyLimitBytes);
    const single = !Array.isArray(statements);
    const ids = await service.store({ credential: ctx.credential, version: ctx.version, statements: single ? [statements] : statements, single, parts });
    sendJson(res, 200, ids);
  });

  router.get('/statements', async (req, res) => {
    res.locals['route'] = '/xapi/statements';
    const ctx = requirePermission(req, 'statements/read');
    const mine = readsOnlyOwnStatements(ctx.credential.scopes) ? ctx.credential.id : undefined;
    // Set before the parameters are checked: the header is on every response to a statements
    // GET, a 400 for a bad parameter included (1.0.3 Part 3 §2.1.3; ADL suite XAPI-00153).
    const consistentThrough = await repo.consistentThrough(deps.db);
    res.setHeader('X-Experience-API-Consistent-Through', millis(consistentThrough));
    const request = parseStatementQuery(req.query as Record<string, unknown>, ctx.version, deps.config.xapiStatementPageMax);
    const languages = parseAcceptLanguage(req.get('accept-language'));

    if (request.kind === 'single') {
      const row = await repo.findStatement(deps.db, ctx.credential.storeId, request.id, mine);
      if (!row || row.voided !== request.voided) {
        throw new AppError('not_found', request.voided ? `No voided statement ${request.id} in this store.` : `No statement ${request.id} in this store${row?.voided ? ' (it is voided: ask with voidedStatementId)' : ''}.`);
      }
      res.setHeader('Last-Modified', new Date(row.stored).toUTCString());
      const [text] = await formatStatements(deps, ctx, [row.statement], request.format, languages);
      await send(res, deps, ctx, text!, [text!], request.attachments);
      return;
    }

    const { filters } = request;
    const before = request.page?.before ?? [micros(consistentThrough), ...(filters.storedUntil ? [micros(filters.storedUntil)] : [])].sort()[0]!;
    const rows = await repo.queryStatements(deps.db, {
      storeId: ctx.credential.storeId,
      agentKey: filters.agentKey,
      relatedAgents: filters.relatedAgents,
      verbId: filters.verbId,
      activityId: filters.activityId,
      relatedActivities: filters.relatedActivities,
      registration: filters.registration,
      credentialId: mine,
      storedFrom: filters.storedFrom,
      storedBefore: before,
      ascending: filters.ascending,
      after: request.page?.after,
      limit: filters.limit,
      statementRefs: true,
    });
    let more = '';
    if (rows.length > filters.limit) {
      rows.length = filters.limit;
      const last = rows[rows.length - 1]!;
      more = `${req.baseUrl}/statements?more=${encodeMore(filters, before, { stored: last.stored, seq: last.seq })}`;
    }
    const newest = filters.ascending ? rows[rows.length - 1] : rows[0];
    res.setHeader('Last-Modified', new Date(newest ? newest.stored_ms : millis(consistentThrough)).toUTCString());
    const texts = await formatStatements(deps, ctx, rows.map((r) => r.statement), filters.format, languages);
    const body = `{"statements":[${texts.join(',')}],"more":${JSON.stringify(more)}}`;
    await send(res, deps, ctx, body, texts, filters.attachments);
  });

  router.all('/statements', (req) => {
    throw new AppError('method_not_allowed', `The statements resource accepts GET, HEAD, PUT and POST, not ${req.method}.`, { headers: { Allow: 'GET, HEAD, PUT, POST' } });
  });
  return router;
}

/** The body of PUT/POST: JSON, or multipart/mixed whose first part is the JSON. */
async function readStatements(req: Request, limit: number): Promise<{ statements: unknown; parts: Part[] | undefined }> {
  const body = await readBody(req, limit);
  const contentType = req.get('content-type');
  const boundary = multipartBoundary(contentType);
  let json: Buffer = body;
  let parts: Part[] | undefined;
  if (boundary !== undefined) {
    const all = parseMultipart(body, boundary);
    const first = all[0];
    if (!first || !/^application\/json\b/i.test(first.headers['content-type'] ?? '')) {
      throw new AppError('bad_request', 'The first part of a multipart/mixed statement request must be the statements as application/json.');
    }
    json = first.body;
    parts = all.slice(1);
  } else if (contentType && !/^application\/json\b/i.test(contentType.trim())
    // The 1.0.x alternate request syntax carries the statement in the form's `content`
    // field; a form that names no Content-Type of its own still means JSON.
    && !(req.xapi?.alternateSyntax && /^application\/x-www-form-urlencoded\b/i.test(contentType.trim()))) {
    throw new AppError('bad_request', `Statements are sent as application/json or multipart/mixed, not ${contentType}.`);
  }
  let statements: unknown;
  const text = json.toString('utf8');
  // PostgreSQL text cannot hold U+0000, and no xAPI value needs it.
  if (/(?:^|[^\\])(?:\\\\)*\\u0000/.test(text)) throw new AppError('bad_request', 'The statements contain a NUL character (\\u0000), which the LRS does not store.');
  try {
    statements = JSON.parse(text);
  } catch (error) {
    throw new AppError('bad_request', `The body is not valid JSON: ${(error as Error).message}`);
  }
  if (statements === null || typeof statements !== 'object') throw new AppError('bad_request', 'The body must be a statement object or an array of statements.');
  return { statements, parts };
}

async function formatStatements(deps: XapiResourceDeps, ctx: XapiRequestContext, texts: string[], format: StatementFormat, languages: string[]): Promise<string[]> {
  if (format === 'exact') return texts;
  const statements = texts.map((t) => JSON.parse(t) as Record<string, unknown>);
  if (format === 'ids') return statements.map((s) => JSON.stringify(idsStatement(s)));
  const ids = new Set<string>();
  for (const s of statements) activityIds(s, ids);
  const definitions = await repo.findActivityDefinitions(deps.db, ctx.credential.storeId, [...ids]);
  return statements.map((s) => JSON.stringify(canonicalStatement(s, definitions, languages)));
}

/**
 * Sends JSON, or with attachments=true multipart/mixed: the JSON first, then each attachment
 * the statements cite (once per hash) whose content the LRS holds (1.0.3 Part 3 §2.1.3).
 */
async function send(res: Response, deps: XapiResourceDeps, ctx: XapiRequestContext, body: string, statements: string[], attachments: boolean): Promise<void> {
  if (!attachments) {
    sendJsonText(res, 200, body);
    return;
  }
  const hashes = new Set<string>();
  for (const text of statements) {
    const statement = JSON.parse(text) as { attachments?: Array<{ sha2: string }>; object?: { attachments?: Array<{ sha2: string }> } };
    for (const a of [...(statement.attachments ?? []), ...(statement.object?.attachments ?? [])]) hashes.add(a.sha2.toLowerCase());
  }
  const known = await repo.findAttachments(deps.db, ctx.credential.storeId, [...hashes]);
  const parts: Array<{ headers: Record<string, string>; body: Buffer | string }> = [{ headers: { 'Content-Type': 'application/json' }, body }];
  for (const a of known) {
    const blob = await deps.blobs.get(attachmentKey(ctx.credential.storeId, a.sha2));
    const chunks: Buffer[] = [];
    for await (const chunk of blob.body) chunks.push(chunk as Buffer);
    parts.push({ headers: { 'Content-Type': a.content_type, 'Content-Transfer-Encoding': 'binary', 'X-Experience-API-Hash': a.sha2 }, body: Buffer.concat(chunks) });
  }
  const boundary = `cairn-${randomBytes(12).toString('hex')}`;
  res.status(200).type(`multipart/mixed; boundary=${boundary}`).send(buildMultipart(boundary, parts));
}
