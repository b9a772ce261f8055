import type { Knex } from 'knex';
import { Type } from 'typebox';
import { AppError } from '../errors/index.js';
import { pgCode } from './index.js';

/**
 * Keyset (cursor) pagination over `(sort column, id)`. Cursors are opaque base64url JSON
 * so clients cannot depend on their shape; a tampered cursor is a 400, never a 500.
 */
export interface Page<T> {
  readonly data: T[];
  readonly next_cursor: string | null;
}

export const paginationQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50, description: 'Page size (1–200, default 50).' })),
  cursor: Type.Optional(Type.String({ maxLength: 512, description: 'Opaque `next_cursor` from the previous page.' })),
};

export const pageSchema = (item: ReturnType<typeof Type.Object>) =>
  Type.Object({
    data: Type.Array(item),
    next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` to get the next page; null on the last page.' }),
  });

interface CursorValue {
  readonly k: string | number;
  readonly id: string | number;
}

function decodeCursor(cursor: string): CursorValue {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (typeof value === 'object' && value !== null && 'k' in value && 'id' in value) {
      const { k, id } = value as { k: unknown; id: unknown };
      if ((typeof k === 'string' || typeof k === 'number') && (typeof id === 'string' || typeof id === 'number')) return { k, id };
    }
  } catch {
    // fall through
  }
  throw new AppError('invalid_cursor', 'The cursor is not one this endpoint produced.', { errors: [{ pointer: '/query/cursor', message: 'is not a valid cursor' }] });
}

/** invalid_text_representation, invalid_datetime_format, datetime_field_overflow, numeric_value_out_of_range, undefined_function, datatype_mismatch. */
const cursorTypeErrors = new Set(['22P02', '22007', '22008', '22003', '42883', '42804']);

function encodeCursor(value: CursorValue): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export interface PaginateOptions {
  readonly limit: number;
  readonly cursor?: string | undefined;
  /** Column to sort on (qualified if the query joins), and the id column that breaks ties. */
  readonly sortColumn: string;
  readonly idColumn: string;
  readonly direction?: 'asc' | 'desc';
}

/**
 * Runs `query` one page at a time. Reads `limit + 1` rows to know whether another page
 * exists without a count query.
 */
export async function paginate<Row extends object>(query: Knex.QueryBuilder, options: PaginateOptions): Promise<{ rows: Row[]; nextCursor: string | null }> {
  const direction = options.direction ?? 'asc';
  const { sortColumn, idColumn } = options;
  if (options.cursor) {
    const { k, id } = decodeCursor(options.cursor);
    const sortKey = typeof k === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(k) ? new Date(k) : k;
    if (sortKey instanceof Date && Number.isNaN(sortKey.getTime())) throw new AppError('invalid_cursor', 'The cursor is not one this endpoint produced.');
    const op = direction === 'asc' ? '>' : '<';
    query.whereRaw(`(${sortColumn}, ${idColumn}) ${op} (?, ?)`, [sortKey, id]);
  }
  query.orderBy([{ column: sortColumn, order: direction }, { column: idColumn, order: direction }]).limit(options.limit + 1);
  let rows: Row[];
  try {
    rows = (await query) as Row[];
  } catch (error) {
    // The query is known good without a cursor, so a type error now means the cursor's values
    // do not fit the columns (hand-made, or taken from another endpoint).
    if (options.cursor && cursorTypeErrors.has(pgCode(error) ?? '')) {
      throw new AppError('invalid_cursor', 'The cursor is not one this endpoint produced.', { errors: [{ pointer: '/query/cursor', message: 'is not a valid cursor' }] });
    }
    throw error;
  }
  let nextCursor: string | null = null;
  if (rows.length > options.limit) {
    rows.length = options.limit;
    const last = rows[rows.length - 1] as Record<string, unknown>;
    const column = (c: string) => c.split('.').pop()!;
    const k = last[column(sortColumn)];
    nextCursor = encodeCursor({ k: k instanceof Date ? k.toISOString() : (k as string | number), id: last[column(idColumn)] as string | number });
  }
  return { rows, nextCursor };
}
