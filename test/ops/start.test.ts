import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collect, freePort, runCli, spawnTs } from './support.js';

/**
 * The real `npm start` path: `src/main.ts` as a child process with no DATABASE_URL, so it
 * initialises and runs its own embedded PostgreSQL under CAIRN_DATA_DIR. Slow (initdb, tsx),
 * so one sequence of starts and stops shares a data directory.
 */

interface Started {
  readonly child: ChildProcess;
  readonly baseUrl: string;
  readonly email: string | undefined;
  readonly password: string | undefined;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcess>();
const dataDirs: string[] = [];

async function newDataDir(): Promise<string> {
  // mkdtemp makes it 0700: Cairn (as root) must still let its postgres user reach the cluster.
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-start-'));
  dataDirs.push(dir);
  return dir;
}

async function envFor(dataDir: string, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  return {
    CAIRN_DATA_DIR: dataDir,
    CAIRN_PORT: String(await freePort()),
    CAIRN_CONTENT_PORT: String(await freePort()),
    CAIRN_EMBEDDED_PG_PORT: String(await freePort()),
    CAIRN_LOG_LEVEL: 'info',
    ...extra,
  };
}

/** Spawns Cairn and waits for its start banner. */
async function start(env: Record<string, string>, timeoutMs = 90_000): Promise<Started> {
  const child = spawnTs('src/main.ts', [], env);
  children.add(child);
  let output = '';
  child.stdout!.on('data', (c: Buffer) => { output += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => { output += c.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => { children.delete(child); resolve({ code, signal }); });
  });
  const deadline = Date.now() + timeoutMs;
  let exitedEarly = false;
  void exited.then(() => { exitedEarly = true; });
  while (!/ {2}Files: .*\n/.test(output)) {
    if (exitedEarly) throw new Error(`Cairn exited during start:\n${output}`);
    if (Date.now() > deadline) throw new Error(`no start banner within ${timeoutMs} ms:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 100)); // the rest of the banner, if it came in two chunks
  const url = /Cairn is running: open (\S+)\//.exec(output)?.[1];
  expect(url).toBe(`http://localhost:${env['CAIRN_PORT']}`);
  return {
    child,
    baseUrl: `http://127.0.0.1:${env['CAIRN_PORT']}`,
    email: /^ {4}email: {4}(\S+)$/m.exec(output)?.[1],
    password: /^ {4}password: (\S+)$/m.exec(output)?.[1],
    output: () => output,
    exited,
  };
}

async function login(baseUrl: string, email: string, password: string): Promise<number> {
  const res = await fetch(`${baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
  await res.arrayBuffer();
  return res.status;
}

function errorLines(output: string): string[] {
  return output.split('\n').filter((l) => l.startsWith('{') && (JSON.parse(l) as { level: number }).level >= 50);
}

async function postmasterPid(dataDir: string): Promise<number | undefined> {
  const text = await fs.readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').catch(() => undefined);
  return text ? Number(text.split('\n')[0]) : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  // A failed test may leave an embedded PostgreSQL behind; stop it by its own pid file.
  for (const dir of dataDirs) {
    const pid = await postmasterPid(dir);
    if (pid && alive(pid)) {
      process.kill(pid, 'SIGINT');
      await waitUntil(() => !alive(pid), 20_000, `postgres ${pid} to stop`).catch(() => undefined);
    }
    await fs.rm(dir, { recursive: true, force: true });
  }
});

describe('npm start with the embedded PostgreSQL', { timeout: 300_000 }, () => {
  it('starts, serves, stops on SIGTERM, restarts keeping its admin, and recovers from SIGKILL', async () => {
    const dataDir = await newDataDir();
    const env = await envFor(dataDir);

    // First start: initialises the cluster, creates the first admin with a printed password.
    const first = await start(env);
    expect(first.output()).toContain('First administrator created:');
    expect(first.email).toBe('admin@cairn.local');
    expect(first.password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const password = first.password!;
    expect(first.output()).toContain(`Database:         embedded PostgreSQL in ${dataDir}/pg (port ${env['CAIRN_EMBEDDED_PG_PORT']})`);

    const ready = await fetch(`${first.baseUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { database: { ok: true }, blob_store: { ok: true } } });
    expect(await login(first.baseUrl, 'admin@cairn.local', password)).toBe(200);
    expect(await login(first.baseUrl, 'admin@cairn.local', 'not the password')).toBe(401);

    // The data dir holds what docs/operations.md says it does.
    const entries = await fs.readdir(dataDir);
    expect(entries).toEqual(expect.arrayContaining(['pg', 'pg.log', 'pg-password', 'secret.key', 'blobs', 'cairn.lock']));
    expect((await fs.stat(path.join(dataDir, 'secret.key'))).mode & 0o777).toBe(0o600);
    expect((await fs.stat(path.join(dataDir, 'pg-password'))).mode & 0o777).toBe(0o600);

    // A command-line tool next to the running server shares its database instead of stopping it.
    const pgPid = (await postmasterPid(dataDir))!;
    expect(alive(pgPid)).toBe(true);
    const status = await runCli(['migrate:status'], { CAIRN_DATA_DIR: dataDir, CAIRN_EMBEDDED_PG_PORT: env['CAIRN_EMBEDDED_PG_PORT']! });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('20261121000000_foundation');
    expect(alive(pgPid)).toBe(true);
    expect((await fetch(`${first.baseUrl}/readyz`)).status).toBe(200);

    // SIGTERM: exits 0 within a few seconds, and its PostgreSQL is gone with it.
    const stopAt = Date.now();
    first.child.kill('SIGTERM');
    const exit = await first.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - stopAt).toBeLessThan(10_000);
    expect(alive(pgPid)).toBe(false);
    expect(first.output()).toMatch(/"msg":"stopped"/);
    // A clean start and stop logs nothing at error level (an operator would be paged for it).
    expect(errorLines(first.output())).toEqual([]);
    expect(entries.length).toBeGreaterThan(0);
    await expect(fs.stat(path.join(dataDir, 'cairn.lock'))).rejects.toThrow();

    // Second start on the same data dir: no new admin, no password, the old one still works.
    const second = await start(env);
    expect(second.output()).not.toContain('First administrator created');
    expect(second.password).toBeUndefined();
    expect(await login(second.baseUrl, 'admin@cairn.local', password)).toBe(200);

    // SIGKILL: Cairn dies at once, its detached PostgreSQL survives as an orphan...
    const orphan = (await postmasterPid(dataDir))!;
    expect(orphan).not.toBe(pgPid);
    second.child.kill('SIGKILL');
    expect((await second.exited).signal).toBe('SIGKILL');
    expect(alive(orphan)).toBe(true);

    // ...which the next start finds through postmaster.pid, stops, and replaces.
    const third = await start(env);
    expect(third.output()).toContain('stopping an embedded PostgreSQL left running by an earlier Cairn process');
    expect(alive(orphan)).toBe(false);
    expect((await fetch(`${third.baseUrl}/readyz`)).status).toBe(200);
    expect(await login(third.baseUrl, 'admin@cairn.local', password)).toBe(200);
    const thirdPg = (await postmasterPid(dataDir))!;
    third.child.kill('SIGTERM');
    expect((await third.exited).code).toBe(0);
    expect(errorLines(third.output())).toEqual([]);
    expect(alive(thirdPg)).toBe(false);
  });

  it('refuses a second server on a data dir that is in use', async () => {
    const dataDir = await newDataDir();
    const env = await envFor(dataDir);
    const running = await start(env);
    const second = spawnTs('src/main.ts', [], { ...env, CAIRN_PORT: String(await freePort()), CAIRN_CONTENT_PORT: String(await freePort()) });
    const result = await collect(second, 60_000);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`The data directory ${dataDir} is in use by another Cairn process (pid ${running.child.pid})`);
    // ...and the first one is unharmed.
    expect((await fetch(`${running.baseUrl}/readyz`)).status).toBe(200);
    running.child.kill('SIGTERM');
    expect((await running.exited).code).toBe(0);
  });

  it('uses CAIRN_ADMIN_EMAIL and CAIRN_ADMIN_PASSWORD for the first admin and prints no password', async () => {
    const dataDir = await newDataDir();
    const started = await start(await envFor(dataDir, { CAIRN_ADMIN_EMAIL: 'Root@Example.org', CAIRN_ADMIN_PASSWORD: 'a configured passphrase' }));
    expect(started.email).toBe('root@example.org');
    expect(started.password).toBeUndefined();
    expect(started.output()).not.toContain('a configured passphrase');
    expect(await login(started.baseUrl, 'root@example.org', 'a configured passphrase')).toBe(200);
    started.child.kill('SIGTERM');
    expect((await started.exited).code).toBe(0);
  });

  it('exits 78 listing every problem when the configuration is invalid, touching nothing', async () => {
    const dataDir = path.join(await newDataDir(), 'never-created');
    const child = spawnTs('src/main.ts', [], { CAIRN_DATA_DIR: dataDir, CAIRN_PORT: 'abc', CAIRN_LOG_LEVEL: 'loud' });
    const result = await collect(child, 60_000);
    expect(result.code).toBe(78);
    expect(result.stderr).toContain('Invalid configuration:');
    expect(result.stderr).toContain('CAIRN_PORT must be an integer, got "abc"');
    expect(result.stderr).toContain('CAIRN_LOG_LEVEL must be one of');
    await expect(fs.stat(dataDir)).rejects.toThrow();
  });
});
