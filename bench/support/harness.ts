import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import autocannon from 'autocannon';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded.js';

/** Shared pieces of the benchmarks: a PostgreSQL to run against, child servers, load, RSS. */

export const quick = process.argv.includes('--quick');

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

export interface BenchDatabase {
  readonly url: string;
  readonly serverUrl: string;
  readonly label: string;
  drop(): Promise<void>;
}

function withDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * A fresh database for one benchmark run on: BENCH_DATABASE_URL's server if set, else the
 * machine's PostgreSQL at 127.0.0.1:5432 if it answers, else an embedded PostgreSQL.
 */
export async function benchDatabase(): Promise<BenchDatabase> {
  let serverUrl = process.env['BENCH_DATABASE_URL'];
  let embedded: EmbeddedDatabase | undefined;
  let label = 'BENCH_DATABASE_URL';
  if (!serverUrl) {
    // The machine's PostgreSQL through its Unix socket when there is one (how an application on
    // the database host connects; cheaper than loopback TCP), else 127.0.0.1:5432.
    const socket = '/var/run/postgresql/.s.PGSQL.5432';
    const local = existsSync(socket) ? 'postgres://postgres@localhost:5432/postgres?host=%2Fvar%2Frun%2Fpostgresql' : 'postgres://postgres@127.0.0.1:5432/postgres';
    const probe = new pg.Client({ connectionString: local, connectionTimeoutMillis: 1000 });
    try {
      await probe.connect();
      await probe.end();
      serverUrl = local;
      label = local.includes('host=') ? 'the machine\'s PostgreSQL (Unix socket /var/run/postgresql)' : 'PostgreSQL at 127.0.0.1:5432';
    } catch {
      embedded = await startEmbeddedPostgres({ dataDir: path.resolve('.bench-data'), port: await freePort(), log: pino({ level: 'warn' }) });
      serverUrl = withDatabase(embedded.url, 'postgres');
      label = 'embedded PostgreSQL';
    }
  }
  const name = `cairn_bench_${Date.now().toString(36)}_${randomBytes(2).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  return {
    url: withDatabase(serverUrl, name),
    serverUrl,
    label,
    async drop() {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
      await embedded?.stop();
    },
  };
}

/**
 * How every benchmark starts Cairn: the way `npm start` does (compiled, with the Node.js flags
 * of the `start` script), so the figures describe what users run. CAIRN_BENCH_NODE_FLAGS
 * replaces the flags; BENCH_CPU_PROF=<dir> adds a CPU profile of the server. If the tree does
 * not compile, the same sources run through tsx rather than not at all, and the bench says so.
 */
export function cairnCommand(): { command: string; args: string[] } {
  const override = process.env['CAIRN_BENCH_NODE_FLAGS'];
  const start = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts['start'] ?? '';
  const flags = override !== undefined
    ? override.split(' ').filter(Boolean)
    : /node ((?:--\S+ )*)dist\/src\/main\.js/.exec(start)?.[1]?.split(' ').filter(Boolean) ?? [];
  const profile = process.env['BENCH_CPU_PROF'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['BENCH_CPU_PROF']}`] : [];
  const build = spawnSync('npm', ['run', 'build', '--silent'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (build.status !== 0) {
    console.log('warning: npm run build failed; running src/main.ts through tsx');
    return { command: process.execPath, args: [...profile, ...flags, '--import', 'tsx', path.resolve('src/main.ts')] };
  }
  return { command: process.execPath, args: [...profile, ...flags, path.resolve('dist/src/main.js')] };
}

export interface ChildServer {
  readonly url: string;
  readonly pid: number;
  readonly output: () => string;
  stop(): Promise<void>;
}

/** Starts a server process and waits until `readyPath` answers. */
export async function startServer(command: string, args: string[], env: Record<string, string>, port: number, readyPath: string): Promise<ChildServer> {
  const child: ChildProcess = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => { output += c.toString(); if (output.length > 200_000) output = output.slice(-100_000); });
  child.stderr?.on('data', (c: Buffer) => { output += c.toString(); });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${command} exited early:\n${output}`);
    try {
      const res = await fetch(url + readyPath);
      if (res.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${command} did not become ready:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    pid: child.pid!,
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Resident set size of one process (not its children), in MB. */
export async function rssMb(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round((kb / 1024) * 10) / 10;
}

export interface LoadResult {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  readonly non2xx: number;
}

export async function load(options: { url: string; connections: number; seconds: number; headers?: Record<string, string>; method?: 'GET' | 'POST'; body?: string }): Promise<LoadResult> {
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.seconds,
    headers: options.headers ?? {},
    method: options.method ?? 'GET',
    ...(options.body ? { body: options.body } : {}),
  });
  return {
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
  };
}

export function machine(): string {
  return `${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'cpu'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}
