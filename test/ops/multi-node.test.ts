import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { ensureFirstAdmin } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config/index.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { withDatabase } from '../support/global-setup.js';
import { newSecretKey } from './support.js';

/**
 * A fresh deployment of several replicas: they start at the same moment against one EMPTY
 * database (no template), each migrating, starting pg-boss and bootstrapping the first admin.
 */
const serverUrl = inject('pgServerUrl');
const name = `cairn_test_${inject('runId')}_${process.pid}_nodes`;
const runtimes: Runtime[] = [];
const dirs: string[] = [];

async function admin(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

afterAll(async () => {
  await Promise.all(runtimes.map((r) => r.stop()));
  await admin(`drop database if exists ${name} with (force)`);
  await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
});

describe('several nodes starting together on an empty database', () => {
  it('all start, migrations and the first admin happen once, and every node serves the same data', async () => {
    await admin(`create database ${name}`);
    const secretKey = newSecretKey();
    const nodes = 3;
    const started = await Promise.all(Array.from({ length: nodes }, async () => {
      const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-node-'));
      dirs.push(dataDir);
      const config = loadConfig({
        DATABASE_URL: withDatabase(serverUrl, name), CAIRN_SECRET_KEY: secretKey, CAIRN_DATA_DIR: dataDir,
        CAIRN_ADMIN_EMAIL: 'first@example.edu', CAIRN_LOG_LEVEL: 'silent', CAIRN_DB_POOL_MAX: '3',
      });
      const log = pino({ level: 'silent' });
      const runtime = await startRuntime(config, log, { jobs: true });
      runtimes.push(runtime);
      const firstAdmin = await ensureFirstAdmin(runtime.deps.db, config, runtime.deps.clock, log);
      return { runtime, firstAdmin, app: buildApp(runtime.deps).app };
    }));

    const created = started.filter((s) => s.firstAdmin);
    expect(created).toHaveLength(1);
    const password = created[0]!.firstAdmin!.generatedPassword!;
    const db = started[0]!.runtime.deps.db;
    expect(await db('users').where({ email: 'first@example.edu' }).count<Array<{ count: string }>>('* as count')).toEqual([{ count: '1' }]);
    expect(await db('tenants').count<Array<{ count: string }>>('* as count')).toEqual([{ count: '1' }]);
    const migrations = await db('knex_migrations').pluck('name');
    expect(new Set(migrations).size).toBe(migrations.length);

    // A session made on one node works on every other (sessions live in PostgreSQL).
    const login = await request(started[0]!.app).post('/api/v1/auth/login').send({ email: 'first@example.edu', password });
    expect(login.status).toBe(200);
    const cookie = login.headers['set-cookie']![0]!.split(';')[0]!;
    const course = await request(started[1]!.app).post('/api/v1/courses').set('Cookie', cookie).send({ title: 'Made on node 2' });
    expect(course.status).toBe(201);
    const read = await request(started[2]!.app).get(`/api/v1/courses/${course.body.id}`).set('Cookie', cookie);
    expect(read.status).toBe(200);
    expect(read.body.title).toBe('Made on node 2');

    // One job queue: a job sent from one node is processed by some node.
    const id = await started[2]!.runtime.deps.jobs!.send('housekeeping', {});
    const deadline = Date.now() + 20_000;
    let state: string | undefined;
    while (Date.now() < deadline) {
      state = (await started[0]!.runtime.deps.jobs!.get('housekeeping', id))?.state;
      if (state === 'completed') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(state).toBe('completed');
  });
});
