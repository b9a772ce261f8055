import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Knex } from 'knex';
import pg from 'pg';

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
 * Runs `work` while holding a PostgreSQL advisory lock, so nodes that start together migrate
 * one after the other. knex's own lock row is not enough: on an empty database every node
 * tries to create knex's tables at once and all but one fail ("duplicate key value violates
 * unique constraint pg_type_typname_nsp_index"). The lock lives on a separate connection so
 * it works with a pool of one.
 */
async function exclusively<T>(db: Knex, work: () => Promise<T>): Promise<T> {
  const client = new pg.Client((db.client as { config: { connection: pg.ClientConfig } }).config.connection);
  await client.connect();
  try {
    await client.query("select pg_advisory_lock(hashtext('cairn:migrations'))");
    return await work();
  } finally {
    // Ending the session releases the lock even if the unlock fails.
    await client.query("select pg_advisory_unlock(hashtext('cairn:migrations'))").catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}

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
