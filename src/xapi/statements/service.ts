import { createHash, randomUUID } from 'node:crypto';
import type { AppDeps } from '../../deps.js';
import { withTransaction, pgCode } from '../../db/index.js';
import { AppError } from '../../errors/index.js';
import type { XapiCredential } from '../auth/service.js';
import type { XapiVersion } from '../http.js';
import { XapiValidationError } from '../validation/agent.js';
import { parseTimestamp } from '../validation/primitives.js';
import { StatementValidator, type AttachmentMeta, type Statement } from '../validation/statement.js';
import { statementsEquivalent } from './equivalence.js';
import type { Part } from './multipart.js';
import { indexKey, mergeDefinition, statementRelations } from './relations.js';
import * as repo from './repository.js';
import { signatureUsageType, verifySignedStatement } from './signature.js';
import { attachmentKey } from './attachment-keys.js';

export type StatementsDeps = Pick<AppDeps, 'db' | 'blobs' | 'config' | 'log'>;

const hashBySha2Length: Record<number, string> = { 56: 'sha224', 64: 'sha256', 96: 'sha384', 128: 'sha512' };

function invalid(error: XapiValidationError): AppError {
  return new AppError('bad_request', `Invalid statement: ${error.message}`, { errors: [{ pointer: `/${error.path.replace(/\[(\d+)\]/g, '/$1').replace(/\./g, '/').replace(/^\//, '')}`, message: error.message.slice(error.path.length + 2) }] });
}

/** A bounded set of things already written, so hot identities/definitions are not rewritten per batch. */
class SeenCache<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(key: string): V | undefined { return this.map.get(key); }
  set(key: string, value: V): void {
    if (this.map.size >= this.max) this.map.clear();
    this.map.set(key, value);
  }
}

export interface StoreInput {
  readonly credential: XapiCredential;
  readonly version: XapiVersion;
  /** Parsed JSON: one statement (PUT, POST of an object) or an array (POST). */
  readonly statements: unknown[];
  /** Whether the body was a single object (paths in errors then have no index). */
  readonly single: boolean;
  /** PUT ?statementId= */
  readonly statementId?: string | undefined;
  /** Attachment parts of a multipart/mixed request (after the statements part). */
  readonly parts?: readonly Part[] | undefined;
}

/**
 * Storing and reading statements, without HTTP: validation (ajv + rules), LRS-assigned
 * properties, id conflicts and equivalence, voiding, attachments and signatures, and the
 * one-round-trip write of a batch.
 */
export class StatementService {
  readonly validator = new StatementValidator();
  private readonly identitiesSeen = new SeenCache<true>(100_000);
  private readonly definitionsSeen = new SeenCache<string>(20_000);

  constructor(private readonly deps: StatementsDeps) {}

  async store(input: StoreInput): Promise<string[]> {
    const { credential, version } = input;
    const prepared: repo.StatementInsert[] = [];
    const ids = new Set<string>();
    const referencedHashes = new Map<string, AttachmentMeta>();
    const signatures: Array<{ statement: Statement; sha2: string; path: string }> = [];
    const statements: Statement[] = [];

    for (const [index, raw] of input.statements.entries()) {
      const path = input.single ? '' : `[${index}]`;
      let statement: Statement;
      try {
        statement = this.validator.validate(raw, version, path);
      } catch (error) {
        if (error instanceof XapiValidationError) throw invalid(error);
        throw error;
      }
      if (input.statementId !== undefined) {
        if (statement.id !== undefined && statement.id.toLowerCase() !== input.statementId.toLowerCase()) {
          throw new AppError('bad_request', 'The statement id does not match the statementId parameter.');
        }
        statement.id = input.statementId;
      }
      statement.id = (statement.id ?? randomUUID()).toLowerCase();
      if (ids.has(statement.id)) throw new AppError('bad_request', `The batch contains the statement id ${statement.id} more than once.`);
      ids.add(statement.id);
      for (const [i, a] of (statement.attachments ?? []).entries()) {
        const sha2 = a.sha2.toLowerCase();
        if (a.usageType === signatureUsageType) {
          if (a.contentType.split(';')[0]!.trim().toLowerCase() !== 'application/octet-stream') {
            throw new AppError('bad_request', `Invalid statement: ${path ? `${path}.` : ''}attachments[${i}].contentType: a signature attachment must be application/octet-stream.`);
          }
          signatures.push({ statement: structuredClone(statement), sha2, path: path || '(statement)' });
        }
        if (a.fileUrl === undefined || input.parts !== undefined) referencedHashes.set(sha2, a);
      }
      statements.push(statement);
    }

    const contents = this.matchAttachments(input.parts, statements, referencedHashes);
    for (const signed of signatures) {
      const content = contents.get(signed.sha2);
      if (!content) throw new AppError('bad_request', `Invalid statement: ${signed.path}.attachments: the signature attachment has no content part.`);
      try {
        await verifySignedStatement(signed.statement, content.body.toString('utf8'), signed.path);
      } catch (error) {
        if (error instanceof XapiValidationError) throw invalid(error);
        throw error;
      }
    }

    const voidedInBatch = new Set<string>();
    const voidingInBatch = new Set<string>();
    const trusted = credential.scopes.has('define') || credential.scopes.has('all');
    const definitions = new Map<string, Record<string, unknown>>();
    const identities = new Map<string, { key: string; name: string; ifi: Record<string, unknown> }>();
    for (const statement of statements) {
      normalize(statement, version, credential);
      const relations = statementRelations(statement);
      if (relations.voids) {
        voidedInBatch.add(relations.voids);
        voidingInBatch.add(statement.id!);
      }
      for (const [id, definition] of relations.definitions) definitions.set(id, mergeDefinition(definitions.get(id), definition));
      for (const [key, identity] of relations.identities) {
        // Names longer than an index entry allows are not recorded for the Person object.
        const names = [...identity.names].filter((n) => Buffer.byteLength(n) <= 500);
        for (const name of names.length > 0 ? names : ['']) identities.set(`${key}\u0000${name}`, { key: indexKey(key), name, ifi: identity.ifi });
      }
      const { timestamp } = statement;
      const body: Record<string, unknown> = { ...statement };
      prepared.push({
        id: statement.id!,
        verbId: indexKey(relations.verbId),
        actorKey: indexKey(relations.actorKey),
        objectKind: relations.objectKind,
        objectId: indexKey(relations.objectId),
        registration: relations.registration,
        voids: relations.voids,
        version: statement.version!,
        timestamp: timestamp === undefined ? null : (parseTimestamp(timestamp, version) ?? parseTimestamp(timestamp, '2.0.0'))!.toISOString(),
        voidedInBatch: false,
        body,
        agents: [...relations.agents].map(([k, d]) => [indexKey(k), d] as const),
        activities: [...relations.activities].map(([k, d]) => [indexKey(k), d] as const),
      });
    }
    for (const target of voidedInBatch) {
      if (voidingInBatch.has(target)) throw new AppError('bad_request', `Statement ${target} is a voiding statement; a voiding statement cannot be voided.`);
    }
    for (const p of prepared as Array<repo.StatementInsert & { voidedInBatch: boolean }>) {
      if (voidedInBatch.has(p.id)) (p as { voidedInBatch: boolean }).voidedInBatch = true;
    }

    // Attachment content first: content-addressed and idempotent, so a failed write below
    // leaves at worst an unreferenced blob, never a statement without its attachment.
    for (const [sha2, part] of contents) await this.putContent(credential.storeId, sha2, part);

    const definitionRows = [...definitions].map(([id, d]) => [indexKey(id), d] as [string, Record<string, unknown>]).filter(([id, d]) => this.definitionsSeen.get(`${credential.storeId}\u0000${id}\u0000${trusted}`) !== JSON.stringify(d));
    const identityRows = [...identities.entries()].filter(([k]) => !this.identitiesSeen.get(`${credential.storeId}\u0000${k}`));
    const batch: repo.BatchInsert = {
      storeId: credential.storeId,
      credentialId: credential.id,
      statements: prepared,
      attachments: [...contents].map(([sha2, part]) => ({ sha2, contentType: part.contentType, length: part.body.length })),
      definitions: definitionRows.map(([id, definition]) => ({ id, definition })).sort((a, b) => (a.id < b.id ? -1 : 1)),
      trusted,
      identities: identityRows.map(([, g]) => g),
      abortOnConflict: true,
    };

    if (voidedInBatch.size === 0 && prepared.length > 0) {
      for (let attempt = 0; ; attempt++) {
        let result: repo.BatchResult;
        try {
          result = await repo.insertBatch(this.deps.db, batch);
        } catch (error) {
          const code = pgCode(error);
          // A deadlock or serialization failure stored nothing: try again, as withTransaction does.
          if ((code === '40P01' || code === '40001') && attempt < 3) {
            await new Promise((r) => setTimeout(r, 5 * 2 ** attempt + Math.random() * 10));
            continue;
          }
          if (code !== repo.conflictSqlState) throw error;
          // An id exists already: redo in a transaction that compares the statements.
          break;
        }
        await this.restorePurgedContent(credential.storeId, contents, result.newAttachments);
        this.remember(credential.storeId, trusted, definitionRows, identityRows);
        return prepared.map((p) => p.id);
      }
    }
    if (prepared.length === 0) return [];
    const newAttachments = await withTransaction(this.deps.db, async (tx) => {
      if (voidedInBatch.size > 0) {
        const targets = await repo.findStatements(tx, credential.storeId, [...voidedInBatch]);
        const voiding = targets.find((t) => t.voids !== null);
        if (voiding) throw new AppError('bad_request', `Statement ${voiding.id} is a voiding statement; a voiding statement cannot be voided.`);
      }
      const result = await repo.insertBatch(tx, { ...batch, abortOnConflict: false });
      const missing = prepared.filter((p) => !result.inserted.has(p.id));
      if (missing.length > 0) {
        const existing = new Map((await repo.findStatements(tx, credential.storeId, missing.map((m) => m.id))).map((r) => [r.id, r]));
        for (const m of missing) {
          const row = existing.get(m.id);
          const stored = row ? (JSON.parse(row.statement) as Record<string, unknown>) : undefined;
          if (!stored || !statementsEquivalent(stored, m.body)) {
            throw new AppError('conflict', `A different statement with id ${m.id} is already stored; statements are immutable.`);
          }
        }
      }
      return result.newAttachments;
    });
    await this.restorePurgedContent(credential.storeId, contents, newAttachments);
    this.remember(credential.storeId, trusted, definitionRows, identityRows);
    return prepared.map((p) => p.id);
  }

  /**
   * The content was put before the rows were written, and a purge of an erased statement's
   * attachment (documents/service.ts) may have deleted that very blob in between: it reserves
   * the attachment row, so it can only have done so before this batch recorded the row, and
   * never after. So a batch that was first to record an attachment checks its blob once the
   * row is committed and puts it back if it went. A batch that found the row there needs no
   * check: the purge saw it too and kept the blob.
   */
  private async restorePurgedContent(storeId: string, contents: ReadonlyMap<string, { body: Buffer; contentType: string }>, firstRecorded: readonly string[]): Promise<void> {
    for (const sha2 of firstRecorded) {
      const part = contents.get(sha2);
      const key = attachmentKey(storeId, sha2);
      if (!part || (await this.deps.blobs.head(key))) continue;
      this.deps.log.warn({ key }, 'attachment content deleted by a concurrent erasure purge; writing it again');
      await this.putContent(storeId, sha2, part);
    }
  }

  private async putContent(storeId: string, sha2: string, part: { body: Buffer; contentType: string }): Promise<void> {
    await this.deps.blobs.put(attachmentKey(storeId, sha2), part.body, { contentType: part.contentType, contentLength: part.body.length });
  }

  private remember(storeId: string, trusted: boolean, definitions: Array<[string, Record<string, unknown>]>, identities: Array<[string, unknown]>): void {
    for (const [id, d] of definitions) this.definitionsSeen.set(`${storeId}\u0000${id}\u0000${trusted}`, JSON.stringify(d));
    for (const [k] of identities) this.identitiesSeen.set(`${storeId}\u0000${k}`, true);
  }

  /**
   * Matches multipart parts to attachment metadata by hash (1.0.3 Part 3 §1.5.2): every
   * attachment without a fileUrl needs a part, every part must be cited, and each part's
   * content must hash to its X-Experience-API-Hash.
   */
  private matchAttachments(parts: readonly Part[] | undefined, statements: readonly Statement[], referenced: Map<string, AttachmentMeta>): Map<string, { body: Buffer; contentType: string }> {
    const contents = new Map<string, { body: Buffer; contentType: string }>();
    if (parts === undefined) {
      for (const s of statements) {
        for (const a of s.attachments ?? []) {
          if (a.fileUrl === undefined) throw new AppError('bad_request', `Attachment ${a.sha2} has no fileUrl, so its content must be sent as a multipart/mixed part.`);
        }
      }
      return contents;
    }
    for (const [i, part] of parts.entries()) {
      const hash = part.headers['x-experience-api-hash']?.toLowerCase();
      if (!hash) throw new AppError('bad_request', `Multipart part ${i + 2} has no X-Experience-API-Hash header.`);
      if (part.headers['content-transfer-encoding']?.toLowerCase() !== 'binary') {
        throw new AppError('bad_request', `Multipart part ${i + 2} needs Content-Transfer-Encoding: binary.`);
      }
      const meta = referenced.get(hash);
      if (!meta) throw new AppError('bad_request', `Multipart part ${i + 2} (hash ${hash}) is not an attachment of any statement in the request.`);
      const algorithm = hashBySha2Length[hash.length];
      if (!algorithm || createHash(algorithm).update(part.body).digest('hex') !== hash) {
        throw new AppError('bad_request', `The content of multipart part ${i + 2} does not hash to its X-Experience-API-Hash ${hash}.`);
      }
      contents.set(hash, { body: part.body, contentType: part.headers['content-type'] ?? meta.contentType });
    }
    for (const [hash, meta] of referenced) {
      if (!contents.has(hash) && meta.fileUrl === undefined) throw new AppError('bad_request', `Attachment ${hash} has no fileUrl and no multipart part with its content.`);
    }
    return contents;
  }
}

/**
 * LRS-assigned properties (1.0.3 Part 2 §2.4.1, 2.4.7–2.4.10): `stored` always the LRS's,
 * `authority` the credential's, `version` kept or defaulted per version mode, `timestamp`
 * converted to UTC under 2.0, context activities always as arrays.
 */
function normalize(statement: Statement, version: XapiVersion, credential: XapiCredential): void {
  delete statement['stored'];
  statement['authority'] = credential.authority;
  statement.version ??= version === '2.0.0' ? '2.0.0' : '1.0.0';
  if (version === '2.0.0' && statement.timestamp !== undefined) statement.timestamp = parseTimestamp(statement.timestamp, '2.0.0')!.toISOString();
  arrayContextActivities(statement);
  const object = statement.object;
  if (object['objectType'] === 'SubStatement') {
    arrayContextActivities(object);
    if (version === '2.0.0' && typeof object['timestamp'] === 'string') object['timestamp'] = parseTimestamp(object['timestamp'], '2.0.0')!.toISOString();
  }
}

function arrayContextActivities(statement: Record<string, unknown>): void {
  const lists = (statement['context'] as Record<string, unknown> | undefined)?.['contextActivities'] as Record<string, unknown> | undefined;
  if (!lists) return;
  for (const [k, v] of Object.entries(lists)) if (!Array.isArray(v)) lists[k] = [v];
}

