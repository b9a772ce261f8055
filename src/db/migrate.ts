import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Knex } from 'knex';
import { connectionOf, withSessionLock } from './index.js';

/**
 * knex's migrator, fed from the `migrations/` folder next to this build: TypeScript files under
 * vitest/tsx, compiled JavaScript under `dist/`. Names drop the extension so both runs agree
 * on what has been applied.
 */
const migrationsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');

interface MigrationModule {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
  config?: { transaction?: boolean };
}

const migrationSource: Knex.MigrationSource<string> = {
  async getMigrations() {
    const files = await fs.readdir(migrationsDir);
    return files
      .filter((f) => /^\d{14}_[a-z0-9_]+\.(ts|js)$/.test(f))
      .sort();
  },
  getMigrationName(file) {
    return file.replace(/\.(ts|js)$/, '');
  },
  async getMigration(file) {
    return (await import(path.join(migrationsDir, file))) as MigrationModule;
  },
};

const migratorConfig: Knex.MigratorConfig = { migrationSource, tableName: 'knex_migrations' };

/**
 * Nodes that start together migrate one after the other (decision 0026). knex's own lock row
 * is not enough: on an empty database every node tries to create knex's tables at once and
 * all but one fail ("duplicate key value violates unique constraint pg_type_typname_nsp_index").
 */
const exclusively = <T>(db: Knex, work: () => Promise<T>): Promise<T> => withSessionLock(connectionOf(db), 'cairn:migrations', work);

export async function migrateLatest(db: Knex): Promise<string[]> {
  return exclusively(db, async () => {
    const [, applied] = (await db.migrate.latest(migratorConfig)) as [number, string[]];
    return applied;
  });
}

export async function rollbackAll(db: Knex): Promise<string[]> {
  return exclusively(db, async () => {
    const [, reverted] = (await db.migrate.rollback(migratorConfig, true)) as [number, string[]];
    return reverted;
  });
}

export async function migrationStatus(db: Knex): Promise<{ applied: string[]; pending: string[] }> {
  // knex hands back pending migrations as our source returned them (file names), applied ones as rows.
  const [applied, pending] = (await db.migrate.list(migratorConfig)) as [Array<{ name: string }>, string[]];
  return { applied: applied.map((m) => m.name), pending: pending.map((file) => migrationSource.getMigrationName(file)) };
}
