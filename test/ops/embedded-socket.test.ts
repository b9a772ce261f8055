import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address() as net.AddressInfo; s.close(() => resolve(port)); });
  });
}

async function clientAddress(url: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ addr: string | null }>('select inet_client_addr()::text as addr')).rows[0]!.addr;
  } finally {
    await client.end();
  }
}

describe('embedded PostgreSQL connection', () => {
  it('connects Cairn over a Unix socket in the data directory when the path fits, TCP on 127.0.0.1 otherwise', async () => {
    const short = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-sock-'));
    const long = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-sock-')), 'a-directory-name-long-enough-that-the-socket-path-passes-the-kernel-limit-of-sockets');
    await fs.mkdir(long, { recursive: true });
    for (const dir of [short, path.dirname(long), long]) await fs.chmod(dir, 0o755);
    const log = pino({ level: 'silent' });
    for (const [dataDir, expected] of [[short, null], [long, '127.0.0.1/32']] as const) {
      const db = await startEmbeddedPostgres({ dataDir, port: await freePort(), log });
      try {
        expect(await clientAddress(db.url)).toBe(expected);
      } finally {
        await db.stop();
      }
    }
    await fs.rm(short, { recursive: true, force: true });
    await fs.rm(path.dirname(long), { recursive: true, force: true });
  }, 120_000);
});
