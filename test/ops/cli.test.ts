import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/app.js';
import { appOnDatabase, newSecretKey, runCli } from './support.js';

/**
 * The operator's command line, run as a child process exactly as `npx tsx src/cli.ts` would
 * be, against a real database; its effects are checked through the real API.
 */
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let env: Record<string, string>;
let api: Awaited<ReturnType<typeof appOnDatabase>>;
const email = 'ops@example.edu';

beforeAll(async () => {
  database = await createTestDatabase();
  env = { DATABASE_URL: database.url, CAIRN_SECRET_KEY: newSecretKey(), CAIRN_LOG_LEVEL: 'warn' };
  api = await appOnDatabase(database.url, { CAIRN_LOGIN_MAX_FAILURES: '3' });
});
afterAll(async () => {
  await api?.close();
  await database?.drop();
});

const generatedPassword = (stdout: string) => /^Password \(shown once\): (\S+)$/m.exec(stdout)?.[1];
const login = (password: string) => request(api.app).post('/api/v1/auth/login').send({ email, password, tenant: 'default' });

describe('cairn create-admin', () => {
  let firstPassword: string;

  it('creates an admin with a generated password that logs in through the API', async () => {
    const run = await runCli(['create-admin', '--email', 'Ops@Example.edu', '--tenant', 'default'], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    // A fresh install has no system administrator yet, so the first one made here becomes it.
    expect(run.stdout).toContain(`Created system administrator ${email} in tenant default.`);
    firstPassword = generatedPassword(run.stdout)!;
    expect(firstPassword).toMatch(/^[A-Za-z0-9_-]{24}$/);

    const res = await login(firstPassword);
    expect(res.status).toBe(200);
    const me = await request(api.app).get('/api/v1/me').set('Cookie', res.headers['set-cookie']!);
    expect(me.status).toBe(200);
    expect(JSON.stringify(me.body)).toContain(email);
  });

  it('run again: resets the password, clears a lockout and ends old sessions', async () => {
    const session = await login(firstPassword);
    expect(session.status).toBe(200);
    const cookie = session.headers['set-cookie']!;
    for (let i = 0; i < 3; i++) await login('wrong password, clearly');
    const locked = await login(firstPassword);
    expect(locked.status).toBe(423);
    expect(locked.body.code).toBe('account_locked');

    const run = await runCli(['create-admin', '--email', email], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Reset system administrator ${email} in tenant default (password replaced, lockout cleared, sessions ended).`);
    const second = generatedPassword(run.stdout)!;
    expect(second).toBeDefined();
    expect(second).not.toBe(firstPassword);

    expect((await login(firstPassword)).status).toBe(401);
    expect((await login(second)).status).toBe(200);
    expect((await request(api.app).get('/api/v1/me').set('Cookie', cookie)).status).toBe(401);
  });

  it('takes a given password and prints none', async () => {
    const run = await runCli(['create-admin', '--email', email, '--password', 'a chosen passphrase 42'], env);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain('Password');
    expect((await login('a chosen passphrase 42')).status).toBe(200);
  });

  it('refuses bad arguments with exit 64 and the usage, before touching the database', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['create-admin'], /create-admin needs --email <address>/],
      [['create-admin', '--email', 'not-an-email'], /create-admin needs --email <address>/],
      [['create-admin', '--email', email, '--colour', 'red'], /create-admin: Unknown option '--colour'/],
      [['create-admin', '--email', email, '--password', 'short'], /The password must be at least 12 characters/],
      [['frobnicate'], /Unknown command "frobnicate"/],
      [[], /No command given/],
      [['migrate:rollback-all'], /add --yes to confirm/],
    ];
    // An unreachable database proves the arguments are checked first.
    const offline = { ...env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' };
    const runs = await Promise.all(cases.map(([args]) => runCli(args, offline)));
    runs.forEach((run, i) => {
      const [args, message] = cases[i]!;
      expect(run.code, args.join(' ')).toBe(64);
      expect(run.stderr, args.join(' ')).toMatch(message);
      expect(run.stderr, args.join(' ')).toContain('Usage: npm run cairn -- <command> [options]');
    });
  });

  it('refuses an unknown tenant with exit 1 and a clear message', async () => {
    const run = await runCli(['create-admin', '--email', email, '--tenant', 'no-such-tenant'], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('No tenant with slug "no-such-tenant"');
  });

  it('exits 78 listing the problems when the configuration is invalid', async () => {
    const run = await runCli(['migrate:status'], { DATABASE_URL: database.url, CAIRN_PORT: 'abc' });
    expect(run.code).toBe(78);
    expect(run.stderr).toContain('CAIRN_PORT must be an integer, got "abc"');
    expect(run.stderr).toContain('CAIRN_SECRET_KEY is required when DATABASE_URL is set');
  });

  it('help prints the usage and exits 0', async () => {
    const run = await runCli(['help'], {});
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('create-admin --email <email>');
  });
});

describe('cairn migrate:status', () => {
  it('lists the foundation migration as applied and nothing pending', async () => {
    const run = await runCli(['migrate:status'], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Applied \(\d+\):\n {2}20261121000000_foundation\n/);
    expect(run.stdout).toMatch(/Pending \(0\):\n {2}-/);
  });

  it('migrate reports there is nothing to do on a migrated database', async () => {
    const run = await runCli(['migrate'], env);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe('Already up to date.');
  });
});
