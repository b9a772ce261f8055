import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { S3Config } from '../../src/config/index.js';
import { AppError } from '../../src/errors/index.js';
import { S3BlobStore } from '../../src/storage/s3.js';

/**
 * How the S3 adapter behaves towards servers that fail or differ from AWS. These need no real
 * S3 server: the point is what goes over the wire and how long Cairn waits.
 */

const config = (endpoint: string): S3Config => ({
  endpoint,
  region: 'us-east-1',
  bucket: 'cairn',
  accessKeyId: 'key',
  secretAccessKey: 'secret',
  forcePathStyle: true,
  prefix: '',
  multipartThresholdBytes: 5 * 1024 * 1024,
});

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function failure(promise: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  const error = await promise.then(() => undefined, (e: unknown) => e);
  return { error, ms: Date.now() - started };
}

describe('S3BlobStore when the endpoint is down', () => {
  it('fails every call with service_unavailable within a few seconds when nothing listens', async () => {
    const store = new S3BlobStore(config(`http://127.0.0.1:${await closedPort()}`));
    try {
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['check', () => store.check()],
        ['put', () => store.put('a', 'b')],
        ['get', () => store.get('a')],
        ['head', () => store.head('a')],
        ['delete', () => store.delete('a')],
        ['list', async () => { for await (const entry of store.list('')) void entry; }],
      ];
      for (const [name, call] of calls) {
        const { error, ms } = await failure(call());
        expect(error, name).toBeInstanceOf(AppError);
        expect((error as AppError).code, name).toBe('service_unavailable');
        expect(ms, name).toBeLessThan(3_000);
      }
    } finally {
      store.close();
    }
  });

  it('check() gives up within about two seconds on a server that accepts connections and never answers', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const store = new S3BlobStore(config(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`));
    try {
      const { error, ms } = await failure(store.check());
      expect((error as AppError).code).toBe('service_unavailable');
      expect(ms).toBeGreaterThan(1_000);
      expect(ms).toBeLessThan(3_000);
    } finally {
      store.close();
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});

describe('S3BlobStore DeleteObjects on the wire', () => {
  const deletes: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];
  let reportErrors = false;
  let server: http.Server;
  let endpoint = '';

  // Answers just the two calls deletePrefix makes, the way S3 does.
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://x');
        res.setHeader('content-type', 'application/xml');
        if (req.method === 'GET' && url.searchParams.get('list-type') === '2') {
          res.end(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>cairn</Name><Prefix>${url.searchParams.get('prefix') ?? ''}</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>`
            + '<Contents><Key>pkg/a.html</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>"1"</ETag><Size>1</Size></Contents>'
            + '<Contents><Key>pkg/b.js</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>"2"</ETag><Size>2</Size></Contents></ListBucketResult>');
          return;
        }
        if (req.method === 'POST' && url.searchParams.has('delete')) {
          deletes.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
          res.end(reportErrors
            ? '<?xml version="1.0" encoding="UTF-8"?><DeleteResult><Error><Key>pkg/b.js</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>'
            : '<?xml version="1.0" encoding="UTF-8"?><DeleteResult></DeleteResult>');
          return;
        }
        res.statusCode = 400;
        res.end('<Error><Code>NotImplemented</Code></Error>');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.close();
  });

  it('sends Content-MD5 of the body (what MinIO and older Ceph require) instead of the SDK CRC32 header', async () => {
    const store = new S3BlobStore(config(endpoint));
    try {
      expect(await store.deletePrefix('pkg/')).toBe(2);
    } finally {
      store.close();
    }
    const sent = deletes.at(-1)!;
    expect(sent.body).toContain('<Key>pkg/a.html</Key>');
    expect(sent.body).toContain('<Key>pkg/b.js</Key>');
    expect(sent.headers['content-md5']).toBe(createHash('md5').update(sent.body).digest('base64'));
    expect(Object.keys(sent.headers).filter((h) => h.startsWith('x-amz-checksum-'))).toEqual([]);
  });

  it('fails when the server reports per-key errors inside a 200 response', async () => {
    reportErrors = true;
    const store = new S3BlobStore(config(endpoint));
    try {
      const { error } = await failure(store.deletePrefix('pkg/'));
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).message).toContain('AccessDenied for pkg/b.js');
    } finally {
      store.close();
      reportErrors = false;
    }
  });
});
