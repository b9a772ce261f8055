import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createDb, type Db } from '../../src/db/index.js';
import { migrateLatest, migrationStatus, rollbackAll } from '../../src/db/migrate.js';
import { withDatabase } from '../support/global-setup.js';

/**
 * The migrations on a real, EMPTY PostgreSQL database (not the migrated template the other
 * tests clone): up, all the way down, and up again must give the same schema.
 */
const serverUrl = inject('pgServerUrl');
const name = `cairn_test_${inject('runId')}_${process.pid}_migrations`;
let db: Db;

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  await adminQuery(`create database ${name}`);
  db = createDb({ url: withDatabase(serverUrl, name), poolMax: 2 });
});
afterAll(async () => {
  await db?.destroy();
  await adminQuery(`drop database if exists ${name} with (force)`);
});

const knexOwnTables = ['knex_migrations', 'knex_migrations_lock'];

async function migrationFiles(): Promise<string[]> {
  const files = await fs.readdir(path.resolve(import.meta.dirname, '../../migrations'));
  return files.filter((f) => /^\d{14}_.+\.ts$/.test(f)).map((f) => f.replace(/\.ts$/, '')).sort();
}

async function tables(): Promise<string[]> {
  const rows = await db('information_schema.tables').where({ table_schema: 'public' }).pluck('table_name');
  return (rows as string[]).sort();
}

/** Everything a migration can create in `public`, as sorted text lines: a diff names what changed. */
async function schemaSnapshot(): Promise<Record<string, string[]>> {
  const lines = async (sql: string) => ((await db.raw(sql)).rows as Array<{ line: string }>).map((r) => r.line).sort();
  return {
    columns: await lines(`select concat_ws(' ', table_name, column_name, data_type, coalesce(character_maximum_length::text, ''), coalesce(numeric_precision::text, ''), coalesce(datetime_precision::text, ''), is_nullable, coalesce(column_default, '')) as line
      from information_schema.columns where table_schema = 'public'`),
    indexes: await lines(`select concat_ws(' ', tablename, indexname, indexdef) as line from pg_indexes where schemaname = 'public'`),
    constraints: await lines(`select concat_ws(' ', conrelid::regclass::text, conname, pg_get_constraintdef(oid)) as line
      from pg_constraint where connamespace = 'public'::regnamespace`),
    types: await lines(`select concat_ws(' ', t.typname, string_agg(e.enumlabel, ',' order by e.enumsortorder)) as line
      from pg_type t left join pg_enum e on e.enumtypid = t.oid
      where t.typnamespace = 'public'::regnamespace and t.typtype in ('e', 'd', 'c') and t.typrelid = 0 group by t.typname`),
    functions: await lines(`select concat_ws(' ', p.proname, pg_get_function_identity_arguments(p.oid)) as line from pg_proc p where p.pronamespace = 'public'::regnamespace`),
    triggers: await lines(`select concat_ws(' ', event_object_table, trigger_name, event_manipulation, action_timing) as line from information_schema.triggers where trigger_schema = 'public'`),
    sequences: await lines(`select sequence_name as line from information_schema.sequences where sequence_schema = 'public'`),
  };
}

describe('migrations on an empty database', () => {
  let first: Record<string, string[]>;

  it('lists every migration as pending before the first run', async () => {
    const files = await migrationFiles();
    expect(files).toContain('20261121000000_foundation');
    // On a database that has never seen knex, status must not fail or create anything but its own tables.
    const status = await migrationStatus(db);
    expect(status).toEqual({ applied: [], pending: files });
  });

  it('latest applies every migration in order and builds the schema', async () => {
    const files = await migrationFiles();
    const applied = await migrateLatest(db);
    expect(applied).toEqual(files);
    expect(await migrationStatus(db)).toEqual({ applied: files, pending: [] });
    expect(await tables()).toEqual(expect.arrayContaining(['tenants', 'users', 'sessions', 'api_tokens', 'courses', 'enrollments', 'audit_log', ...knexOwnTables]));
    first = await schemaSnapshot();
    expect(first['columns']!.length).toBeGreaterThan(50);
    expect(first['indexes']!.some((l) => l.includes('users_tenant_id_email_unique'))).toBe(true);
  });

  it('latest again is a no-op', async () => {
    expect(await migrateLatest(db)).toEqual([]);
  });

  it('rolling back everything leaves only knex’s own tables, nothing else in public', async () => {
    const files = await migrationFiles();
    const reverted = await rollbackAll(db);
    expect([...reverted].sort()).toEqual(files);
    expect(await tables()).toEqual(knexOwnTables);
    const left = await schemaSnapshot();
    const own = (l: string) => knexOwnTables.some((t) => l.startsWith(`${t} `) || l.startsWith(`${t}_`));
    for (const [kind, lines] of Object.entries(left)) {
      expect(lines.filter((l) => !own(l)), `${kind} left behind by the down migrations`).toEqual([]);
    }
    expect(await migrationStatus(db)).toEqual({ applied: [], pending: files });
  });

  it('latest after a full rollback gives exactly the first run’s schema', async () => {
    const files = await migrationFiles();
    expect(await migrateLatest(db)).toEqual(files);
    const second = await schemaSnapshot();
    for (const kind of Object.keys(first)) expect(second[kind], kind).toEqual(first[kind]);
  });
});

describe('migrations from several nodes at once', () => {
  it('two processes migrating one empty database together both succeed, and each migration runs once', async () => {
    const other = `cairn_test_${inject('runId')}_${process.pid}_migrations_race`;
    await adminQuery(`create database ${other}`);
    const a = createDb({ url: withDatabase(serverUrl, other), poolMax: 2 });
    const b = createDb({ url: withDatabase(serverUrl, other), poolMax: 2 });
    try {
      const files = await migrationFiles();
      const [fromA, fromB] = await Promise.all([migrateLatest(a), migrateLatest(b)]);
      expect([...fromA, ...fromB].sort()).toEqual(files);
      expect(await migrationStatus(a)).toEqual({ applied: files, pending: [] });
      const rows = await a('knex_migrations').pluck('name');
      expect(rows.sort()).toEqual(files);
    } finally {
      await a.destroy();
      await b.destroy();
      await adminQuery(`drop database if exists ${other} with (force)`);
    }
  });
});
