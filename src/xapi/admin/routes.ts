import { createHash } from 'node:crypto';
import { Type } from 'typebox';
import { defineEndpoint, type AnyEndpoint } from '../../http/endpoint.js';
import { DateTime, Uuid } from '../../http/schemas.js';
import { AppError, notFound } from '../../errors/index.js';
import type { Queryable } from '../../db/index.js';
import { findStore } from '../auth/repository.js';
import { ifiKey, parseAgentParameter, validateAgent, XapiValidationError } from '../validation/agent.js';
import { isAbsoluteIri } from '../validation/primitives.js';
import * as statements from '../statements/repository.js';
import { deleteAgentDocuments } from '../documents/repository.js';
import { purgeQueuedDocumentBlobs } from '../documents/service.js';
import * as repo from './repository.js';

/**
 * The LRS seen from the console (/api/v1, admins only): a statement browser with filters and
 * cursor paging, counts, a streamed NDJSON export, and erasure of one learner (GDPR).
 */
const tags = ['LRS statements'];
const StoreParams = Type.Object({ storeId: Uuid() });

const BrowsedStatement = Type.Object({
  id: Uuid(),
  stored: DateTime(),
  voided: Type.Boolean(),
  statement: Type.Record(Type.String(), Type.Unknown(), { description: 'The statement as the LRS returns it (exact format)' }),
});

async function storeOf(db: Queryable, tenantId: string, storeId: string) {
  const store = await findStore(db, tenantId, storeId);
  if (!store) throw notFound('LRS store');
  return store;
}

interface Cursor { b: string; s: string; q: string }

function decodeCursor(text: string): Cursor {
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Cursor;
    const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
    if (iso.test(value.b) && iso.test(value.s) && /^\d{1,19}$/.test(value.q)) return value;
  } catch {
    // fall through
  }
  throw new AppError('invalid_cursor', 'The cursor is not one this endpoint produced.', { errors: [{ pointer: '/query/cursor', message: 'is not a valid cursor' }] });
}

export const lrsAdminEndpoints: AnyEndpoint[] = [
  defineEndpoint({
    method: 'get', path: '/lrs/stores/:storeId/statements', operationId: 'browseLrsStatements', tags,
    summary: 'Browse a store\'s statements, newest first',
    description: 'Filters combine like the xAPI query (`agent` is a JSON Agent, matched as actor or object). A cursor keeps its position while statements arrive.',
    auth: { scope: 'lrs:read', roles: ['admin'] },
    params: StoreParams,
    query: Type.Object({
      agent: Type.Optional(Type.String({ maxLength: 2000, description: 'JSON Agent or identified Group, e.g. {"mbox":"mailto:a@example.com"}' })),
      verb: Type.Optional(Type.String({ maxLength: 2048 })),
      activity: Type.Optional(Type.String({ maxLength: 2048 })),
      registration: Type.Optional(Uuid()),
      since: Type.Optional(DateTime('Exclusive, on `stored`')),
      until: Type.Optional(DateTime('Inclusive, on `stored`')),
      voided: Type.Optional(Type.Union([Type.Literal('exclude'), Type.Literal('only'), Type.Literal('include')], { default: 'exclude' })),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
      cursor: Type.Optional(Type.String({ maxLength: 512 })),
    }, { additionalProperties: false }),
    responses: { 200: { description: 'A page of statements', schema: Type.Object({ data: Type.Array(BrowsedStatement), next_cursor: Type.Union([Type.String(), Type.Null()]) }) } },
    async handler({ deps, principal, params, query }) {
      await storeOf(deps.db, principal.tenantId, params.storeId);
      let agentKey: string | undefined;
      if (query.agent !== undefined) {
        const agent = parseAgentParameter(query.agent, 'agent', { allowGroup: true });
        agentKey = ifiKey(agent);
        if (!agentKey) throw new AppError('validation_failed', 'query.agent must identify an Agent or identified Group.', { errors: [{ pointer: '/query/agent', message: 'has no identifier' }] });
      }
      for (const name of ['verb', 'activity'] as const) {
        if (query[name] !== undefined && !isAbsoluteIri(query[name])) throw new AppError('validation_failed', `query.${name} must be an absolute IRI.`, { errors: [{ pointer: `/query/${name}`, message: 'must be an absolute IRI' }] });
      }
      const cursor = query.cursor ? decodeCursor(query.cursor) : undefined;
      const limit = query.limit ?? 50;
      const before = cursor?.b ?? (query.until ? new Date(new Date(query.until).getTime() + 1) : new Date(Date.now() + 60_000)).toISOString().replace('Z', '000Z');
      const rows = await statements.queryStatements(deps.db, {
        storeId: params.storeId,
        agentKey,
        relatedAgents: false,
        verbId: query.verb,
        activityId: query.activity,
        relatedActivities: false,
        registration: query.registration?.toLowerCase(),
        storedFrom: query.since ? new Date(new Date(query.since).getTime() + 1).toISOString() : undefined,
        storedBefore: before,
        ascending: false,
        after: cursor ? { stored: cursor.s, seq: cursor.q } : undefined,
        limit,
        voided: query.voided ?? 'exclude',
      });
      let next: string | null = null;
      if (rows.length > limit) {
        rows.length = limit;
        const last = rows[rows.length - 1]!;
        next = Buffer.from(JSON.stringify({ b: before, s: last.stored, q: last.seq })).toString('base64url');
      }
      return {
        data: rows.map((r) => ({ id: r.id, stored: r.stored_ms, voided: r.voided, statement: JSON.parse(r.statement) as Record<string, unknown> })),
        next_cursor: next,
      };
    },
  }),

  defineEndpoint({
    method: 'get', path: '/lrs/stores/:storeId/statements/counts', operationId: 'countLrsStatements', tags,
    summary: 'How many statements a store holds, in all and per verb',
    auth: { scope: 'lrs:read', roles: ['admin'] },
    params: StoreParams,
    responses: {
      200: {
        description: 'Counts (voided statements count in `total` and `voided`, not per verb)',
        schema: Type.Object({ total: Type.Integer(), voided: Type.Integer(), by_verb: Type.Array(Type.Object({ verb: Type.String(), count: Type.Integer() })) }),
      },
    },
    async handler({ deps, principal, params }) {
      await storeOf(deps.db, principal.tenantId, params.storeId);
      const counts = await repo.statementCounts(deps.db, params.storeId);
      return { total: counts.total, voided: counts.voided, by_verb: counts.byVerb };
    },
  }),

  defineEndpoint({
    method: 'get', path: '/lrs/stores/:storeId/statements/export', operationId: 'exportLrsStatements', tags,
    summary: 'Every statement of a store as NDJSON, streamed in storage order',
    description: 'One statement (exact format, voided ones included) per line. Streamed in chunks: memory stays flat however large the store.',
    auth: { scope: 'lrs:read', roles: ['admin'] },
    params: StoreParams,
    responses: { 200: { description: 'application/x-ndjson', contentType: 'application/x-ndjson' } },
    async handler({ deps, principal, params, res, audit }) {
      const store = await storeOf(deps.db, principal.tenantId, params.storeId);
      audit({ action: 'lrs_store.export', targetType: 'lrs_store', targetId: store.id, details: { name: store.name } });
      res.status(200);
      res.setHeader('Content-Type', 'application/x-ndjson; charset=utf-8');
      res.setHeader('Content-Disposition', `attachment; filename="statements-${store.id}.ndjson"`);
      let after = '0';
      for (;;) {
        const chunk = await repo.statementChunk(deps.db, store.id, after, 1000);
        if (chunk.length === 0) break;
        const text = chunk.map((r) => r.statement).join('\n') + '\n';
        // Respect back-pressure: a slow client must not make the server buffer the store.
        if (!res.write(text)) await new Promise<void>((resolve) => res.once('drain', () => resolve()));
        if (res.destroyed) return undefined;
        after = chunk[chunk.length - 1]!.seq;
      }
      res.end();
      return undefined;
    },
  }),

  defineEndpoint({
    method: 'post', path: '/lrs/stores/:storeId/erasures', operationId: 'eraseLrsAgent', tags,
    summary: 'Erase one learner\'s statements and documents from a store (GDPR)',
    description: 'Deletes every statement whose actor or object is the agent (also as a member of a Group there), the attachments no remaining statement declares, the agent\'s identity records and its documents. Statements that mention the agent only in another role (instructor, team, context agents, authority, SubStatement) are kept and counted in `statements_still_mentioning`.',
    auth: { scope: 'lrs:write', roles: ['admin'] },
    params: StoreParams,
    body: Type.Object({ agent: Type.Record(Type.String(), Type.Unknown(), { description: 'The Agent, e.g. {"mbox":"mailto:a@example.com"}' }) }, { additionalProperties: false }),
    status: 200,
    responses: {
      200: {
        description: 'What was erased',
        schema: Type.Object({ statements_deleted: Type.Integer(), statements_still_mentioning: Type.Integer(), documents_deleted: Type.Integer({ description: 'State and Agent Profile documents of the agent' }), attachments_deleted: Type.Integer({ description: 'Attachments that only erased statements declared (content and record)' }) }),
      },
    },
    async handler({ deps, db, principal, params, body, audit, res }) {
      const store = await storeOf(db, principal.tenantId, params.storeId);
      let key: string;
      try {
        key = ifiKey(validateAgent(body.agent, 'agent'))!;
      } catch (error) {
        if (error instanceof XapiValidationError) throw new AppError('validation_failed', `body.${error.message}`, { errors: [{ pointer: `/body/${error.path.replace(/\./g, '/')}`, message: error.message }] });
        throw error;
      }
      const result = await repo.eraseAgentStatements(db, store.id, key);
      const documentsDeleted = await deleteAgentDocuments(db, store.id, key);
      // Document bodies kept in the blob store are queued for deletion in this transaction;
      // the pipeline commits before it responds, so purge them once the response is sent.
      res.once('finish', () => {
        void (async () => {
          await purgeQueuedDocumentBlobs(deps, { only: result.attachmentBlobKeys });
          await purgeQueuedDocumentBlobs(deps);
        })().catch((error: unknown) => deps.log.warn({ err: error }, 'purging erased document blobs failed; the next document write retries'));
      });
      audit({
        action: 'lrs_agent.erase', targetType: 'lrs_store', targetId: store.id,
        details: { agent_key_sha256: sha256(key), statements_deleted: result.deleted, statements_still_mentioning: result.stillMentioned, documents_deleted: documentsDeleted, attachments_deleted: result.attachmentBlobKeys.length },
      });
      return { statements_deleted: result.deleted, statements_still_mentioning: result.stillMentioned, documents_deleted: documentsDeleted, attachments_deleted: result.attachmentBlobKeys.length };
    },
  }),
];

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
