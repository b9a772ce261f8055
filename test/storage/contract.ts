import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors/index.js';
import type { BlobListEntry, BlobStore } from '../../src/storage/index.js';

/**
 * What a test needs from one adapter. The contract below is the same `describe` body for every
 * adapter; only these hooks differ.
 */
export interface ContractHarness {
  /** A fresh, empty, working store (closed by the contract after each test). */
  open(): Promise<BlobStore>;
  /** Stores of the same kind whose backing is missing or unusable, each with why. */
  openBroken(): Promise<ReadonlyArray<{ readonly why: string; readonly store: BlobStore }>>;
  /** The multipart threshold `open()` configures (5 MB, the S3 minimum part size). */
  readonly multipartThreshold: number;
  /** Whether a multipart upload shows in the ETag as `<hash>-<parts>` (S3 does). */
  readonly multipartEtags: boolean;
}

const MB = 1024 * 1024;

export async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

async function sha256Of(body: Readable): Promise<{ hex: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of body) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { hex: hash.digest('hex'), bytes };
}

/**
 * A stream of random bytes produced on demand, 64 KB at a time: at most a few chunks exist at
 * once however large `total` is. `sha256()` is valid once the stream has ended.
 */
export function generatedBody(total: number, options: { failAfter?: number } = {}): { stream: Readable; sha256(): string } {
  const hash = createHash('sha256');
  let produced = 0;
  const stream = new Readable({
    read() {
      if (options.failAfter !== undefined && produced >= options.failAfter) {
        this.destroy(new Error('producer failed'));
        return;
      }
      if (produced >= total) {
        this.push(null);
        return;
      }
      const chunk = randomBytes(Math.min(64 * 1024, total - produced));
      produced += chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, sha256: () => hash.digest('hex') };
}

async function collect(iterable: AsyncIterable<BlobListEntry>): Promise<BlobListEntry[]> {
  const out: BlobListEntry[] = [];
  for await (const entry of iterable) out.push(entry);
  return out;
}

/** Runs `work` over `items` with at most `limit` in flight. */
async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

function byteOrder(keys: readonly string[]): string[] {
  return [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

async function expectAppError(promise: Promise<unknown>, code: string): Promise<AppError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error, `expected AppError ${code}`).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe(code);
  return error as AppError;
}

/** The BlobStore contract (see docs/storage.md). Call it inside a `describe` per adapter. */
export function blobStoreContract(harness: ContractHarness): void {
  const opened: BlobStore[] = [];
  const open = async () => {
    const store = await harness.open();
    opened.push(store);
    return store;
  };
  afterEach(() => {
    for (const store of opened.splice(0)) store.close();
  });

  describe('put and get', () => {
    it('round-trips a Buffer with its content type, and head/get/put agree on the metadata', async () => {
      const store = await open();
      const body = randomBytes(3000);
      const before = Date.now();
      const put = await store.put('course/1/file.bin', body, { contentType: 'application/zip' });
      expect(put).toMatchObject({ key: 'course/1/file.bin', size: 3000, contentType: 'application/zip' });
      expect(put.etag).toMatch(/^[^"]+$/);

      const head = await store.head('course/1/file.bin');
      expect(head).toEqual(put);
      expect(Math.abs(head!.lastModified.getTime() - before)).toBeLessThan(60_000);
      expect(head!.lastModified.getMilliseconds()).toBe(0);

      const got = await store.get('course/1/file.bin');
      expect(got).toMatchObject({ key: 'course/1/file.bin', size: 3000, contentType: 'application/zip', etag: put.etag });
      expect(got.range).toBeUndefined();
      expect((await readAll(got.body)).equals(body)).toBe(true);
    });

    it('a put with durable: false is readable at once, in a new folder too, and sync() then resolves (bulk writes)', async () => {
      const store = await open();
      const bodies = Array.from({ length: 20 }, (_, i) => randomBytes(100 + i));
      await Promise.all(bodies.map((b, i) => store.put(`bulk/${i % 3}/f${i}.bin`, b, { durable: false, contentType: 'text/plain' })));
      for (const [i, b] of bodies.entries()) {
        const got = await store.get(`bulk/${i % 3}/f${i}.bin`);
        expect(got.contentType).toBe('text/plain');
        expect((await readAll(got.body)).equals(b)).toBe(true);
      }
      await expect(store.sync()).resolves.toBeUndefined();
    });

    it('stores a string as its UTF-8 bytes', async () => {
      const store = await open();
      const text = 'Grüße aus Köln — 学习 ✓\n';
      const put = await store.put('text/hello.txt', text, { contentType: 'text/plain; charset=utf-8' });
      expect(put.size).toBe(Buffer.byteLength(text));
      const got = await store.get('text/hello.txt');
      expect(got.contentType).toBe('text/plain; charset=utf-8');
      expect((await readAll(got.body)).toString('utf8')).toBe(text);
    });

    it('stores a stream and defaults the content type to application/octet-stream', async () => {
      const store = await open();
      const parts = [Buffer.from('first,'), Buffer.from('second,'), Buffer.from('third')];
      const put = await store.put('streams/a', Readable.from(parts));
      expect(put.size).toBe(18);
      expect(put.contentType).toBe('application/octet-stream');
      expect((await store.head('streams/a'))?.contentType).toBe('application/octet-stream');
      expect((await readAll((await store.get('streams/a')).body)).toString()).toBe('first,second,third');
    });

    it('stores an empty body', async () => {
      const store = await open();
      await store.put('empty', Buffer.alloc(0), { contentType: 'text/plain' });
      expect(await store.head('empty')).toMatchObject({ size: 0, contentType: 'text/plain' });
      expect((await readAll((await store.get('empty')).body)).length).toBe(0);
    });

    it('replaces an object: new bytes, new content type, new ETag', async () => {
      const store = await open();
      const first = await store.put('doc', 'version one', { contentType: 'text/plain' });
      const second = await store.put('doc', '<p>version two</p>', { contentType: 'text/html' });
      expect(second.etag).not.toBe(first.etag);
      const got = await store.get('doc');
      expect(got).toMatchObject({ contentType: 'text/html', etag: second.etag, size: 18 });
      expect((await readAll(got.body)).toString()).toBe('<p>version two</p>');
    });

    it('keeps keys with spaces, punctuation and non-ASCII characters exactly', async () => {
      const store = await open();
      const keys = ['odd/a b+c%20d=e&f?g#h', 'odd/ünïcødé/文件.html', "odd/it's (1) [2] {3} ~!@$^*,;"];
      for (const key of keys) await store.put(key, key);
      for (const key of keys) expect((await readAll((await store.get(key)).body)).toString()).toBe(key);
      expect((await collect(store.list('odd/'))).map((e) => e.key)).toEqual(byteOrder(keys));
    });

    it(`streams a ~40 MB generated body through multipart upload (threshold 5 MB) and reads back the same SHA-256`, { timeout: 240_000 }, async () => {
      const store = await open();
      expect(harness.multipartThreshold).toBe(5 * MB);
      const total = 40 * MB + 12_345;
      const generated = generatedBody(total);
      const put = await store.put('big/package.zip', generated.stream, { contentType: 'application/zip', contentLength: total });
      const expected = generated.sha256();
      expect(put.size).toBe(total);
      if (harness.multipartEtags) {
        // 40 MB + a bit in 5 MB parts: nine parts, and S3 says so in the ETag.
        expect(put.etag).toMatch(/-9$/);
      }
      const got = await store.get('big/package.zip');
      expect(got).toMatchObject({ size: total, contentType: 'application/zip', etag: put.etag });
      expect(await sha256Of(got.body)).toEqual({ hex: expected, bytes: total });

      const tail = await store.get('big/package.zip', { range: { start: total - 100_000 } });
      expect(tail.range).toEqual({ start: total - 100_000, end: total - 1 });
      expect((await readAll(tail.body)).length).toBe(100_000);
    });

    it('refuses a body whose length differs from the declared contentLength, keeping the previous object', async () => {
      const store = await open();
      await store.put('sized', 'the good version');
      await expectAppError(store.put('sized', Readable.from([Buffer.from('short')]), { contentLength: 10 }), 'bad_request');
      await expectAppError(store.put('sized', Readable.from([Buffer.from('far too long for it')]), { contentLength: 10 }), 'bad_request');
      await expectAppError(store.put('sized', Buffer.from('abc'), { contentLength: 4 }), 'bad_request');
      await expectAppError(store.put('never', Readable.from([Buffer.from('short')]), { contentLength: 6 }), 'bad_request');
      expect((await readAll((await store.get('sized')).body)).toString()).toBe('the good version');
      expect(await store.head('never')).toBeUndefined();
    });

    it('keeps the previous object when the body stream fails part-way, even past the multipart threshold', { timeout: 120_000 }, async () => {
      const store = await open();
      await store.put('fragile', 'intact', { contentType: 'text/plain' });
      for (const failAfter of [100_000, harness.multipartThreshold + 1024 * 1024]) {
        const failing = generatedBody(harness.multipartThreshold * 3, { failAfter });
        const error = await store.put('fragile', failing.stream).then(() => undefined, (e: unknown) => e);
        expect((error as Error | undefined)?.message).toBe('producer failed');
        const got = await store.get('fragile');
        expect(got.contentType).toBe('text/plain');
        expect((await readAll(got.body)).toString()).toBe('intact');
      }
      await expectAppError(store.get('never-written'), 'not_found');
    });
  });

  describe('byte ranges', () => {
    const content = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
    const openWithObject = async () => {
      const store = await open();
      await store.put('r/data.bin', content, { contentType: 'application/x-test' });
      return store;
    };

    it('returns start-end inclusive, with the total size and content type', async () => {
      const store = await openWithObject();
      const got = await store.get('r/data.bin', { range: { start: 10, end: 19 } });
      expect(got).toMatchObject({ size: 100, contentType: 'application/x-test', range: { start: 10, end: 19 } });
      expect((await readAll(got.body)).equals(content.subarray(10, 20))).toBe(true);
      const first = await store.get('r/data.bin', { range: { start: 0, end: 0 } });
      expect([...(await readAll(first.body))]).toEqual([0]);
    });

    it('returns an open-ended range to the end, and clamps an end past the last byte', async () => {
      const store = await openWithObject();
      const open = await store.get('r/data.bin', { range: { start: 90 } });
      expect(open.range).toEqual({ start: 90, end: 99 });
      expect((await readAll(open.body)).equals(content.subarray(90))).toBe(true);
      const clamped = await store.get('r/data.bin', { range: { start: 95, end: 5000 } });
      expect(clamped.range).toEqual({ start: 95, end: 99 });
      expect((await readAll(clamped.body)).equals(content.subarray(95))).toBe(true);
    });

    it('returns the single last byte', async () => {
      const store = await openWithObject();
      const got = await store.get('r/data.bin', { range: { start: 99, end: 99 } });
      expect(got.range).toEqual({ start: 99, end: 99 });
      expect([...(await readAll(got.body))]).toEqual([99]);
      const openEnded = await store.get('r/data.bin', { range: { start: 99 } });
      expect([...(await readAll(openEnded.body))]).toEqual([99]);
    });

    it('refuses a range starting at or past the end with range_not_satisfiable and Content-Range bytes */size', async () => {
      const store = await openWithObject();
      for (const range of [{ start: 100 }, { start: 100, end: 200 }, { start: 5000 }]) {
        const error = await expectAppError(store.get('r/data.bin', { range }), 'range_not_satisfiable');
        expect(error.status).toBe(416);
        expect(error.headers['Content-Range']).toBe('bytes */100');
      }
    });

    it('refuses inverted and negative ranges with range_not_satisfiable', async () => {
      const store = await openWithObject();
      await expectAppError(store.get('r/data.bin', { range: { start: 20, end: 10 } }), 'range_not_satisfiable');
      await expectAppError(store.get('r/data.bin', { range: { start: -1 } }), 'range_not_satisfiable');
    });

    it('refuses any range of an empty object, and answers not_found for a range of a missing one', async () => {
      const store = await openWithObject();
      await store.put('r/empty', '');
      const error = await expectAppError(store.get('r/empty', { range: { start: 0 } }), 'range_not_satisfiable');
      expect(error.headers['Content-Range']).toBe('bytes */0');
      await expectAppError(store.get('r/missing', { range: { start: 0, end: 5 } }), 'not_found');
      await expectAppError(store.get('r/missing', { range: { start: 9, end: 5 } }), 'not_found');
    });
  });

  describe('missing keys and delete', () => {
    it('head of a missing key is undefined; get is not_found', async () => {
      const store = await open();
      await store.put('present/file', 'x');
      expect(await store.head('present/other')).toBeUndefined();
      expect(await store.head('present')).toBeUndefined(); // a "directory" is not an object
      const error = await expectAppError(store.get('present/other'), 'not_found');
      expect(error.status).toBe(404);
      await expectAppError(store.get('present'), 'not_found');
    });

    it('delete is idempotent and makes the key missing', async () => {
      const store = await open();
      await store.delete('never/existed');
      await store.put('d/file', 'x');
      await store.put('d/sibling', 'y');
      await store.delete('d/file');
      await store.delete('d/file');
      expect(await store.head('d/file')).toBeUndefined();
      await expectAppError(store.get('d/file'), 'not_found');
      expect((await collect(store.list('d/'))).map((e) => e.key)).toEqual(['d/sibling']);
    });

    it('after deleting the only key under a path, that path can be a key itself', async () => {
      const store = await open();
      await store.put('p/q/r', 'deep');
      await store.delete('p/q/r');
      await store.put('p/q', 'now a file');
      expect((await readAll((await store.get('p/q')).body)).toString()).toBe('now a file');
      expect((await collect(store.list(''))).map((e) => e.key)).toEqual(['p/q']);
    });
  });

  describe('list and deletePrefix', () => {
    // Byte order differs from JavaScript's string order for 'ｚ' (U+FF5A) and '😀' (a surrogate
    // pair), and from a per-directory walk for 'x-1' < 'x/y' < 'x0'.
    const keys = ['p/X', 'p/x-1', 'p/x/y', 'p/x0', 'p/z', 'p/é', 'p/ｚ', 'p/😀', 'q/outside'];

    const openWithKeys = async () => {
      const store = await open();
      await Promise.all(keys.map((key, i) => store.put(key, `body ${i}`)));
      return store;
    };

    it('lists by prefix in UTF-8 byte order, with the same size and ETag head reports', async () => {
      const store = await openWithKeys();
      const listed = await collect(store.list('p/'));
      expect(listed.map((e) => e.key)).toEqual(byteOrder(keys.filter((k) => k.startsWith('p/'))));
      expect(listed.map((e) => e.key)).toEqual(['p/X', 'p/x-1', 'p/x/y', 'p/x0', 'p/z', 'p/é', 'p/ｚ', 'p/😀']);
      for (const entry of listed) {
        const head = await store.head(entry.key);
        expect(entry).toEqual({ key: head!.key, size: head!.size, etag: head!.etag, lastModified: head!.lastModified });
      }
      expect((await collect(store.list(''))).map((e) => e.key)).toEqual(byteOrder(keys));
    });

    it('matches a prefix that ends mid-name, a folder prefix, and nothing for an absent prefix', async () => {
      const store = await openWithKeys();
      expect((await collect(store.list('p/x'))).map((e) => e.key)).toEqual(['p/x-1', 'p/x/y', 'p/x0']);
      expect((await collect(store.list('p/x/'))).map((e) => e.key)).toEqual(['p/x/y']);
      expect((await collect(store.list('p/x/y'))).map((e) => e.key)).toEqual(['p/x/y']);
      expect(await collect(store.list('p/zz'))).toEqual([]);
      expect(await collect(store.list('nothing/here/'))).toEqual([]);
    });

    it('deletePrefix deletes exactly the matching keys and says how many', async () => {
      const store = await openWithKeys();
      expect(await store.deletePrefix('p/x/')).toBe(1);
      expect(await store.deletePrefix('p/x')).toBe(2);
      expect(await store.deletePrefix('p/nothing')).toBe(0);
      expect((await collect(store.list(''))).map((e) => e.key)).toEqual(['p/X', 'p/z', 'p/é', 'p/ｚ', 'p/😀', 'q/outside']);
      expect(await store.head('p/x0')).toBeUndefined();
      await expectAppError(store.deletePrefix(''), 'bad_request');
    });

    it('lists and deletes more than 1000 keys (S3 pages of 1000 with continuation tokens)', { timeout: 240_000 }, async () => {
      const store = await open();
      const many = Array.from({ length: 1105 }, (_, i) => `many/${String(i).padStart(4, '0')}.json`);
      await inParallel(many, 24, (key) => store.put(key, key, { contentType: 'application/json' }));
      await store.put('manyother', 'not under many/');
      const listed = await collect(store.list('many/'));
      expect(listed.length).toBe(1105);
      expect(listed.map((e) => e.key)).toEqual(many);
      expect(new Set(listed.map((e) => e.key)).size).toBe(1105);
      expect(await store.deletePrefix('many/')).toBe(1105);
      expect(await collect(store.list('many'))).toEqual([expect.objectContaining({ key: 'manyother' })]);
    });
  });

  describe('unsafe keys', () => {
    const unsafe = ['../x', 'a/../../x', 'a/..', '..', '.', './a', '/abs', 'a//b', 'a/./b', 'a\\b', '..\\x', 'a\0b', 'a\nb', 'a/', '', 'x'.repeat(256), `${'d/'.repeat(520)}x`];

    it.each(unsafe.map((key) => [JSON.stringify(key).slice(0, 40), key]))('rejects %s for put, get, head and delete', async (_label, key) => {
      const store = await open();
      await expectAppError(store.put(key, 'evil'), 'bad_request');
      await expectAppError(store.get(key), 'bad_request');
      await expectAppError(store.head(key), 'bad_request');
      await expectAppError(store.delete(key), 'bad_request');
      expect(await collect(store.list(''))).toEqual([]);
    });

    it('rejects unsafe list and deletePrefix prefixes but accepts partial last segments', async () => {
      const store = await open();
      for (const prefix of ['../', '/abs', 'a//', 'a/../', 'a\\', 'a\0']) {
        await expectAppError(collect(store.list(prefix)), 'bad_request');
        await expectAppError(store.deletePrefix(prefix), 'bad_request');
      }
      await store.put('a/.hidden', 'dot file');
      await store.put('a/..twice', 'two dots');
      expect((await collect(store.list('a/.'))).map((e) => e.key)).toEqual(['a/..twice', 'a/.hidden']);
    });
  });

  describe('check and close', () => {
    it('check() resolves for a working store', async () => {
      const store = await open();
      await expect(store.check()).resolves.toBeUndefined();
    });

    it('check() rejects when the backing store is missing or unusable', async () => {
      const broken = await harness.openBroken();
      expect(broken.length).toBeGreaterThan(0);
      for (const { why, store } of broken) {
        opened.push(store);
        const error = await store.check().then(() => undefined, (e: unknown) => e);
        expect(error, why).toBeInstanceOf(AppError);
        expect((error as AppError).code, why).toBe('service_unavailable');
      }
    });

    it('after close() every call fails with service_unavailable, and close() can be repeated', async () => {
      const store = await open();
      await store.put('k', 'v');
      store.close();
      store.close();
      await expectAppError(store.put('k', 'w'), 'service_unavailable');
      await expectAppError(store.get('k'), 'service_unavailable');
      await expectAppError(store.head('k'), 'service_unavailable');
      await expectAppError(store.delete('k'), 'service_unavailable');
      await expectAppError(collect(store.list('')), 'service_unavailable');
      await expectAppError(store.deletePrefix('k'), 'service_unavailable');
      await expectAppError(store.check(), 'service_unavailable');
    });
  });

  describe('concurrency', () => {
    it('concurrent puts of one key leave one whole object whose metadata matches its bytes', { timeout: 120_000 }, async () => {
      const store = await open();
      const bodies = Array.from({ length: 6 }, (_, i) => randomBytes(256 * 1024 + i * 1000));
      // Small chunks with pauses between them interleave the writers.
      const trickle = (body: Buffer) => Readable.from((async function* () {
        for (let offset = 0; offset < body.length; offset += 16 * 1024) {
          await new Promise((resolve) => setImmediate(resolve));
          yield body.subarray(offset, offset + 16 * 1024);
        }
      })());
      for (let round = 0; round < 3; round++) {
        await Promise.all(bodies.map((body, i) => store.put('race/target', i % 2 === 0 ? trickle(body) : body, { contentType: `application/x-writer-${i}` })));
        const got = await store.get('race/target');
        const bytes = await readAll(got.body);
        const winner = bodies.findIndex((b) => b.equals(bytes));
        expect(winner, 'the stored bytes are exactly one of the bodies').toBeGreaterThanOrEqual(0);
        expect(got.size).toBe(bodies[winner]!.length);
        expect(got.contentType).toBe(`application/x-writer-${winner}`);
        const head = await store.head('race/target');
        expect(head).toMatchObject({ size: got.size, contentType: got.contentType, etag: got.etag });
        expect((await collect(store.list('race/'))).map((e) => e.key)).toEqual(['race/target']);
      }
    });
  });
}
