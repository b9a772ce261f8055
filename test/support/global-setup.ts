import net from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { pino } from 'pino';
import type { TestProject } from 'vitest/node';
import { DataDirInUseError, startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded.js';
import { createDb } from '../../src/db/index.js';
import { migrateLatest } from '../../src/db/migrate.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgServerUrl: string;
    templateDatabase: string;
    runId: string;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

export function withDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * Several test runs at once (engineers in parallel, watch mode) each need their own server:
 * each takes the first free cluster `.test-data/slot-<n>` (locked by the run's pid; see
 * src/db/embedded.ts), so clusters are reused across runs but never shared by two at once.
 */
async function startEmbeddedSlot(log: pino.Logger): Promise<EmbeddedDatabase> {
  for (let slot = 0; slot < 16; slot++) {
    try {
      return await startEmbeddedPostgres({ dataDir: path.resolve('.test-data', `slot-${slot}`), port: await freePort(), log });
    } catch (error) {
      if (!(error instanceof DataDirInUseError)) throw error;
    }
  }
  throw new Error('All 16 embedded PostgreSQL slots under .test-data are in use by other test runs');
}

/**
 * Which PostgreSQL the tests use:
 * - TEST_DATABASE_URL when set (any server; databases are created on it);
 * - with CI=true, the machine's PostgreSQL at 127.0.0.1:5432 (never skipped, never embedded);
 * - otherwise an embedded PostgreSQL under .test-data/, so `npm test` works on a fresh machine.
 * One template database is migrated per run; every test file clones it.
 */
export default async function setup(project: TestProject) {
  const log = pino({ level: 'warn' });
  let embedded: EmbeddedDatabase | undefined;
  let serverUrl: string;
  if (process.env['TEST_DATABASE_URL']) {
    serverUrl = process.env['TEST_DATABASE_URL'];
  } else if (process.env['CI'] === 'true') {
    serverUrl = 'postgres://postgres@127.0.0.1:5432/postgres';
  } else {
    embedded = await startEmbeddedSlot(log);
    serverUrl = withDatabase(embedded.url, 'postgres');
  }

  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const templateDatabase = `cairn_test_${runId}_template`;
  const admin = new pg.Client({ connectionString: serverUrl });
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(`Tests need PostgreSQL at ${serverUrl.replace(/:[^:@/]+@/, ':***@')}: ${(error as Error).message}`);
  }
  await admin.query(`create database ${templateDatabase}`);
  const db = createDb({ url: withDatabase(serverUrl, templateDatabase), poolMax: 2 });
  await migrateLatest(db);
  await db.destroy();

  project.provide('pgServerUrl', serverUrl);
  project.provide('templateDatabase', templateDatabase);
  project.provide('runId', runId);

  return async () => {
    const { rows } = await admin.query<{ datname: string }>('select datname from pg_database where datname like $1', [`cairn_test_${runId}_%`]);
    for (const { datname } of rows) await admin.query(`drop database if exists ${datname} with (force)`);
    await admin.end();
    await embedded?.stop();
  };
}
