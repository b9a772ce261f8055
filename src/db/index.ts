import knex, { type Knex } from 'knex';
import pg from 'pg';
import type { Logger } from 'pino';
import { AppError } from '../errors/index.js';

export type Db = Knex;
export type Tx = Knex.Transaction;
/** Either the pool or a transaction: repositories accept both so callers decide the unit of work. */
export type Queryable = Knex | Knex.Transaction;

export interface DbOptions {
  readonly url: string;
  readonly poolMax: number;
  readonly applicationName?: string;
  /** knex's own warnings (failed connection attempts, pool trouble) go here instead of the console. */
  readonly log?: Logger;
}

/**
 * timestamptz as PostgreSQL prints it (`2026-11-21 23:41:08.123+00`, offsets `+hh`, `+hh:mm`
 * or `+hh:mm:ss`) parsed by the engine's own ISO parser. pg's default (postgres-date) runs a
 * regular expression and builds the Date field by field: the single largest cost of reading
 * a page of rows. Anything unusual (infinity, BC dates) falls back to the default parser.
 */
const defaultTimestamptzParser = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ, 'text');
const pgTimestamptz = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)([+-]\d{2})(?::(\d{2}))?$/;
export function parseTimestamptz(text: string): Date {
  const m = pgTimestamptz.exec(text);
  if (!m) return defaultTimestamptzParser(text) as Date;
  return new Date(`${m[1]}T${m[2]}${m[3]}:${m[4] ?? '00'}`);
}

const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.TIMESTAMPTZ && format !== 'binary') return parseTimestamptz;
    return pg.types.getTypeParser(oid, format);
  },
};

export function createDb(options: DbOptions): Db {
  const log = options.log?.child({ component: 'knex' });
  return knex({
    client: 'pg',
    connection: {
      connectionString: options.url,
      application_name: options.applicationName ?? 'cairn',
      // Fail fast when PostgreSQL is unreachable so the API answers 503 instead of hanging: a
      // host that drops packets would otherwise hold a connection attempt for minutes.
      connectionTimeoutMillis: 3_000,
      // Detect a peer that vanished (failover, NAT timeout) on idle pooled connections.
      keepAlive: true,
      types,
    } as Knex.PgConnectionConfig,
    pool: { min: 0, max: options.poolMax },
    acquireConnectionTimeout: 5_000,
    ...(log ? {
      log: {
        warn: (message: unknown) => log.warn({ detail: String(message) }, 'database warning'),
        error: (message: unknown) => log.error({ detail: String(message) }, 'database error'),
        deprecate: (method: unknown, alternative: unknown) => log.warn({ method, alternative }, 'knex deprecation'),
        debug: (message: unknown) => log.debug({ detail: message }, 'knex debug'),
      },
    } : {}),
  });
}

/**
 * Runs `work` while this process holds the PostgreSQL advisory lock named `key`, taken on a
 * connection of its own (so a pool of one cannot deadlock against it, and a crash releases it).
 * For start-up steps that several nodes run at once: migrations, creating job queues.
 */
export async function withSessionLock<T>(connection: string | pg.ClientConfig, key: string, work: () => Promise<T>): Promise<T> {
  const client = new pg.Client(typeof connection === 'string' ? { connectionString: connection } : connection);
  await client.connect();
  try {
    await client.query('select pg_advisory_lock(hashtext($1))', [key]);
    return await work();
  } finally {
    // Ending the session releases the lock even if the unlock fails.
    await client.query('select pg_advisory_unlock(hashtext($1))', [key]).catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}

/** The connection settings a Db was created with, for a side connection to the same database. */
export function connectionOf(db: Db): pg.ClientConfig {
  return (db.client as { config: { connection: pg.ClientConfig } }).config.connection;
}

const retryableCodes = new Set(['40001', '40P01']);

/**
 * Runs `work` in a transaction, retrying on serialization failures and deadlocks (as SQL LRS
 * does), so callers can use strict isolation without handling the retry themselves.
 */
export async function withTransaction<T>(
  db: Db,
  work: (tx: Tx) => Promise<T>,
  options: { isolationLevel?: 'read committed' | 'repeatable read' | 'serializable'; retries?: number } = {},
): Promise<T> {
  const retries = options.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    try {
      return await db.transaction(work, options.isolationLevel ? { isolationLevel: options.isolationLevel } : {});
    } catch (error) {
      if (attempt < retries && retryableCodes.has(pgCode(error) ?? '')) {
        await new Promise((r) => setTimeout(r, 5 * 2 ** attempt + Math.random() * 10));
        continue;
      }
      throw error;
    }
  }
}

export function pgCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

const connectionErrorCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', '57P01', '57P02', '57P03', '53300']);

/** True when the error says the database cannot be reached, rather than that a query is wrong. */
export function isConnectionError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = pgCode(error);
  if (code && (connectionErrorCodes.has(code) || code.startsWith('08'))) return true;
  const name = (error as { name?: unknown }).name;
  const message = String((error as { message?: unknown }).message ?? '');
  // pg says "timeout expired" when connectionTimeoutMillis passes before the server answered.
  return name === 'KnexTimeoutError'
    || message === 'timeout expired'
    || /Connection terminated|connection timeout|Client has encountered a connection error|Timeout acquiring a connection/i.test(message);
}

/**
 * Translates database failures a client can cause or should retry into AppErrors. Anything
 * else is returned unchanged and becomes a 500 that hides the SQL.
 */
export function mapDbError(error: unknown): unknown {
  if (error instanceof AppError) return error;
  if (isConnectionError(error)) return new AppError('service_unavailable', 'The database is unreachable; retry shortly.', { cause: error, headers: { 'Retry-After': '5' } });
  switch (pgCode(error)) {
    case '23505':
      return new AppError('conflict', describeConstraint(error, 'A record with the same unique value already exists.'), { cause: error });
    case '23503':
      return new AppError('conflict', describeConstraint(error, 'The record refers to, or is referred to by, another record.'), { cause: error });
    case '23514':
    case '22P02':
    case '22007':
    case '22008':
    case '22003':
      return new AppError('bad_request', 'A value is out of range or has the wrong format for storage.', { cause: error });
    case '40001':
    case '40P01':
      return new AppError('conflict', 'A concurrent change conflicted with this one; retry the request.', { cause: error });
    default:
      return error;
  }
}

/**
 * Constraint names in migrations follow `<table>_<columns>_unique`; known ones have a
 * readable sentence so a 409 tells the client which value clashed without leaking SQL.
 */
const constraintMessages: Record<string, string> = {
  tenants_slug_unique: 'A tenant with this slug already exists.',
  users_tenant_id_email_unique: 'A user with this email already exists in this tenant.',
  courses_tenant_id_code_unique: 'A course with this code already exists in this tenant.',
  enrollments_course_id_user_id_unique: 'This user is already enrolled in this course.',
  scores_line_item_id_user_id_unique: 'A score for this user already exists on this line item.',
  api_tokens_user_id_name_unique: 'This user already has a token with this name.',
};

function describeConstraint(error: unknown, fallback: string): string {
  const constraint = (error as { constraint?: unknown }).constraint;
  return typeof constraint === 'string' ? constraintMessages[constraint] ?? fallback : fallback;
}
