import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { loadConfig } from '../../src/config/index.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { buildApp } from '../../src/app.js';
import { ensureFirstAdmin } from '../../src/bootstrap.js';
import { adminEmail, adminPassword } from '../support/app.js';

export const repoRoot = path.resolve(import.meta.dirname, '../..');
/**
 * `npx tsx <file>` without its wrapper process: the tsx CLI runs the script in a second Node
 * process, so a SIGKILL aimed at the pid a test holds would miss Cairn. Loading tsx as an
 * import hook gives one process, exactly as `node dist/src/main.js` would be.
 */
export function spawnTs(file: string, args: readonly string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', file, ...args], { cwd: repoRoot, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

export const newSecretKey = () => randomBytes(32).toString('base64url');

/** A child's environment: only what the test sets, so the developer's shell cannot leak in. */
export function childEnv(env: Record<string, string>): Record<string, string> {
  return { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp', ...env };
}

export interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `npx tsx src/cli.ts <args>` to completion. */
export async function runCli(args: readonly string[], env: Record<string, string>, timeoutMs = 60_000): Promise<Finished> {
  return collect(spawnTs('src/cli.ts', args, env), timeoutMs);
}

export async function collect(child: ChildProcess, timeoutMs: number): Promise<Finished> {
  let stdout = '', stderr = '';
  child.stdout?.on('data', (c: Buffer) => { stdout += c.toString(); });
  child.stderr?.on('data', (c: Buffer) => { stderr += c.toString(); });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`child did not finish in ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`)); }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}

/** JSON log lines captured in memory: what an operator's log shipper would receive. */
export class LogCapture {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly raw: string[] = [];
  readonly logger: Logger;
  constructor(level = 'debug', build?: (stream: Writable) => Logger) {
    const stream = new Writable({
      write: (chunk: Buffer, _enc, done) => {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          this.raw.push(line);
          this.lines.push(JSON.parse(line) as Record<string, unknown>);
        }
        done();
      },
    });
    this.logger = build ? build(stream) : pino({ level }, stream);
  }
  text(): string {
    return this.raw.join('\n');
  }
}

/** The real runtime and app on an existing database (the tests' own startTestApp makes a new one). */
export async function appOnDatabase(databaseUrl: string, env: Record<string, string> = {}, log: Logger = pino({ level: 'silent' }), options: { jobs?: boolean; firstAdmin?: boolean } = {}): Promise<{ runtime: Runtime; app: ReturnType<typeof buildApp>['app']; close(): Promise<void> }> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-ops-'));
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    CAIRN_SECRET_KEY: newSecretKey(),
    CAIRN_DATA_DIR: dataDir,
    CAIRN_RATE_LIMIT_LOGIN_PER_MINUTE: '100000',
    CAIRN_RATE_LIMIT_API_PER_MINUTE: '100000',
    CAIRN_DB_POOL_MAX: '3',
    CAIRN_ADMIN_EMAIL: adminEmail,
    CAIRN_ADMIN_PASSWORD: adminPassword,
    ...env,
  });
  const runtime = await startRuntime(config, log, { jobs: options.jobs ?? false, migrate: false });
  if (options.firstAdmin) await ensureFirstAdmin(runtime.deps.db, config, runtime.deps.clock, log);
  const { app } = buildApp(runtime.deps);
  return {
    runtime,
    app,
    async close() {
      await runtime.stop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}
