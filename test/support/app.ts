import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import request from 'supertest';
import { pino } from 'pino';
import { inject } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { buildApp } from '../../src/app.js';
import { buildContentApp, type BuiltContentApp } from '../../src/content/app.js';
import { ensureFirstAdmin } from '../../src/bootstrap.js';
import { seedLrsCredential } from '../../src/xapi/auth/service.js';
import type { AppDeps, Clock } from '../../src/deps.js';
import { withDatabase } from './global-setup.js';

let counter = 0;

/** A fresh database cloned from the run's migrated template. */
export async function createTestDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const serverUrl = inject('pgServerUrl');
  const name = `cairn_test_${inject('runId')}_${process.pid}_${++counter}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database ${name} template ${inject('templateDatabase')}`);
  await admin.end();
  return {
    url: withDatabase(serverUrl, name),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

/** A clock tests can move. */
export class TestClock implements Clock {
  private offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export const adminEmail = 'admin@test.example';
export const adminPassword = 'correct horse battery staple';

export interface TestApp {
  readonly deps: AppDeps;
  readonly app: ReturnType<typeof buildApp>['app'];
  readonly openApi: Record<string, unknown>;
  /** The content origin (SCORM player, package files, runtime endpoints), not listening. */
  readonly content: BuiltContentApp;
  readonly clock: TestClock;
  readonly databaseUrl: string;
  /** The environment the app was configured with, so a second instance can share it. */
  readonly env: Readonly<Record<string, string>>;
  readonly runtime: Runtime;
  /** A supertest agent that keeps cookies: one browser. */
  agent(): ReturnType<typeof request.agent>;
  /** Logs in through the API and returns the agent holding the session cookie. */
  login(email?: string, password?: string, tenant?: string): Promise<ReturnType<typeof request.agent>>;
  close(): Promise<void>;
}

/**
 * The whole application on a fresh database: the same runtime main.ts builds, with test
 * settings (generous rate limits unless a test sets them, silent logs, temp data dir).
 */
export async function startTestApp(options: { env?: Record<string, string>; jobs?: boolean; sameDatabaseAs?: TestApp } = {}): Promise<TestApp> {
  // A second instance on the same database is a second Cairn node: same settings and secret
  // key, its own pool, rate limiter and app, and the same (movable) notion of time.
  const shared = options.sameDatabaseAs;
  const database = shared
    ? { url: shared.databaseUrl, drop: async () => undefined }
    : await createTestDatabase();
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-test-'));
  const env: Record<string, string> = shared
    ? { ...shared.env, CAIRN_DATA_DIR: dataDir, ...options.env }
    : {
        DATABASE_URL: database.url,
        CAIRN_SECRET_KEY: randomBytes(32).toString('base64url'),
        CAIRN_DATA_DIR: dataDir,
        CAIRN_LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'silent',
        CAIRN_ADMIN_EMAIL: adminEmail,
        CAIRN_ADMIN_PASSWORD: adminPassword,
        CAIRN_RATE_LIMIT_API_PER_MINUTE: '100000',
        CAIRN_RATE_LIMIT_LOGIN_PER_MINUTE: '100000',
        CAIRN_DB_POOL_MAX: '5',
        ...options.env,
      };
  const config = loadConfig(env);
  const clock = shared?.clock ?? new TestClock();
  const log = pino({ level: config.logLevel });
  const runtime = await startRuntime(config, log, { jobs: options.jobs ?? false, migrate: false, clock });
  await ensureFirstAdmin(runtime.deps.db, config, clock, log);
  await seedLrsCredential(runtime.deps.db, runtime.deps.secrets, config, clock, log);
  const { app, openApi } = buildApp(runtime.deps);
  const content = buildContentApp(runtime.deps);
  return {
    deps: runtime.deps,
    app,
    openApi,
    content,
    clock,
    databaseUrl: database.url,
    env,
    runtime,
    agent: () => request.agent(app),
    async login(email = adminEmail, password = adminPassword, tenant?: string) {
      const agent = request.agent(app);
      const res = await agent.post('/api/v1/auth/login').send({ email, password, ...(tenant ? { tenant } : {}) });
      if (res.status !== 200) throw new Error(`login as ${email} failed: ${res.status} ${JSON.stringify(res.body)}`);
      return agent;
    },
    async close() {
      await runtime.stop();
      await database.drop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}
