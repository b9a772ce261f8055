import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors/index.js';
import { LocalBlobStore } from '../../src/storage/index.js';
import { blobStoreContract, readAll } from './contract.js';

const roots: string[] = [];
async function freshRoot(): Promise<string> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-blobs-'));
  roots.push(root);
  return root;
}
afterAll(async () => {
  await Promise.all(roots.map((root) => fs.rm(root, { recursive: true, force: true })));
});

describe('LocalBlobStore', () => {
  blobStoreContract({
    multipartThreshold: 5 * 1024 * 1024,
    multipartEtags: false,
    open: async () => new LocalBlobStore(await freshRoot()).init(),
    async openBroken() {
      const removedRoot = await freshRoot();
      const removed = await new LocalBlobStore(removedRoot).init();
      await fs.rm(removedRoot, { recursive: true });
      // Running as root, permission bits do not stop us; a file where the directory should be does.
      const replacedRoot = await freshRoot();
      const replaced = await new LocalBlobStore(replacedRoot).init();
      await fs.rm(path.join(replacedRoot, 'objects'), { recursive: true });
      await fs.writeFile(path.join(replacedRoot, 'objects'), 'not a directory');
      const readOnlyRoot = await freshRoot();
      const readOnly = await new LocalBlobStore(readOnlyRoot).init();
      await fs.rm(path.join(readOnlyRoot, 'tmp'), { recursive: true });
      await fs.writeFile(path.join(readOnlyRoot, 'tmp'), 'writes cannot land here');
      return [
        { why: 'root directory removed', store: removed },
        { why: 'objects/ is a file', store: replaced },
        { why: 'tmp/ is not writable', store: readOnly },
      ];
    },
  });

  describe('disk layout', () => {
    it('cannot hold both a/b and a/b/c, and says so with conflict rather than an I/O error', async () => {
      const store = await new LocalBlobStore(await freshRoot()).init();
      await store.put('a/b', 'file');
      const nested = await store.put('a/b/c', 'inside').then(() => undefined, (e: unknown) => e);
      expect(nested).toBeInstanceOf(AppError);
      expect((nested as AppError).code).toBe('conflict');
      await store.put('x/y/z', 'deep');
      const parent = await store.put('x/y', 'parent').then(() => undefined, (e: unknown) => e);
      expect((parent as AppError).code).toBe('conflict');
      expect((await readAll((await store.get('a/b')).body)).toString()).toBe('file');
      expect((await readAll((await store.get('x/y/z')).body)).toString()).toBe('deep');
    });

    it('keeps objects as plain files under objects/ and metadata under meta/, leaving no temp files', async () => {
      const root = await freshRoot();
      const store = await new LocalBlobStore(root).init();
      await store.put('course/7/index.html', '<h1>hi</h1>', { contentType: 'text/html' });
      expect(await fs.readFile(path.join(root, 'objects', 'course', '7', 'index.html'), 'utf8')).toBe('<h1>hi</h1>');
      const sidecar = JSON.parse(await fs.readFile(path.join(root, 'meta', 'course', '7', 'index.html'), 'utf8')) as Record<string, unknown>;
      expect(sidecar['contentType']).toBe('text/html');
      expect(await fs.readdir(path.join(root, 'tmp'))).toEqual([]);
      await store.delete('course/7/index.html');
      // Empty directories go with the last file, in both trees.
      expect(await fs.readdir(path.join(root, 'objects'))).toEqual([]);
      expect(await fs.readdir(path.join(root, 'meta'))).toEqual([]);
    });

    it('serves a file placed by hand (no sidecar) with the type its name implies and a stable ETag', async () => {
      const root = await freshRoot();
      const store = await new LocalBlobStore(root).init();
      await fs.mkdir(path.join(root, 'objects', 'manual'), { recursive: true });
      await fs.writeFile(path.join(root, 'objects', 'manual', 'readme.txt'), 'hello');
      const first = await store.head('manual/readme.txt');
      expect(first).toMatchObject({ size: 5, contentType: 'text/plain; charset=utf-8' });
      expect((await store.head('manual/readme.txt'))?.etag).toBe(first?.etag);
      expect((await readAll((await store.get('manual/readme.txt')).body)).toString()).toBe('hello');
    });

    it('init() clears temporary files a crashed writer left a day ago, and only those', async () => {
      const root = await freshRoot();
      await new LocalBlobStore(root).init();
      const stale = path.join(root, 'tmp', 'stale-upload');
      const fresh = path.join(root, 'tmp', 'fresh-upload');
      await fs.writeFile(stale, 'partial');
      await fs.writeFile(fresh, 'in progress');
      const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000);
      await fs.utimes(stale, twoDaysAgo, twoDaysAgo);
      await new LocalBlobStore(root).init();
      expect(await fs.readdir(path.join(root, 'tmp'))).toEqual(['fresh-upload']);
    });

    it('does not follow a symbolic link out of the store when listing', async () => {
      const root = await freshRoot();
      const outside = await freshRoot();
      await fs.writeFile(path.join(outside, 'secret'), 'do not list');
      const store = await new LocalBlobStore(root).init();
      await store.put('inside/file', 'ok');
      await fs.symlink(outside, path.join(root, 'objects', 'inside', 'link'));
      const keys: string[] = [];
      for await (const entry of store.list('')) keys.push(entry.key);
      expect(keys).toEqual(['inside/file']);
    });
  });
});

describe('LocalBlobStore metadata files', () => {
  it('writes a sidecar only when the content type is not the one the name implies, and drops it when it becomes so', async () => {
    const root = await freshRoot();
    const store = await new LocalBlobStore(root).init();
    const sidecar = path.join(root, 'meta', 'pkg', 'index.html');
    const exists = (file: string) => fs.access(file).then(() => true, () => false);

    const plain = await store.put('pkg/index.html', '<p>one</p>', { contentType: 'text/html; charset=utf-8' });
    expect(await exists(sidecar)).toBe(false);
    expect(await store.head('pkg/index.html')).toMatchObject({ contentType: 'text/html; charset=utf-8', etag: plain.etag, size: 10 });

    const unusual = await store.put('pkg/index.html', '<p>two</p>', { contentType: 'text/plain' });
    expect(await exists(sidecar)).toBe(true);
    expect(unusual.etag).not.toBe(plain.etag);
    expect(await store.head('pkg/index.html')).toMatchObject({ contentType: 'text/plain', etag: unusual.etag });

    const back = await store.put('pkg/index.html', '<p>three</p>', { contentType: 'text/html; charset=utf-8' });
    expect(await exists(sidecar)).toBe(false);
    expect(back.etag).not.toBe(unusual.etag);
    const got = await store.get('pkg/index.html');
    expect(got).toMatchObject({ contentType: 'text/html; charset=utf-8', etag: back.etag });
    expect((await readAll(got.body)).toString()).toBe('<p>three</p>');
  });
});

describe('LocalBlobStore fresh puts', () => {
  it('writes a fresh key in place, refuses an existing one without touching it, and leaves nothing after a short body', async () => {
    const root = await freshRoot();
    const store = await new LocalBlobStore(root).init();
    const put = await store.put('pkg/new/page.html', '<p>fresh</p>', { contentType: 'text/html; charset=utf-8', fresh: true });
    expect(await store.head('pkg/new/page.html')).toMatchObject({ size: 12, contentType: 'text/html; charset=utf-8', etag: put.etag });
    expect(await fs.readdir(path.join(root, 'tmp'))).toEqual([]);

    const again = store.put('pkg/new/page.html', 'other', { contentType: 'text/html; charset=utf-8', fresh: true });
    await expect(again).rejects.toMatchObject({ code: 'conflict' });
    expect((await readAll((await store.get('pkg/new/page.html')).body)).toString()).toBe('<p>fresh</p>');

    const short = store.put('pkg/new/short.html', 'abc', { contentType: 'text/html; charset=utf-8', contentLength: 10, fresh: true });
    await expect(short).rejects.toBeInstanceOf(AppError);
    expect(await store.head('pkg/new/short.html')).toBeUndefined();

    // After the folder is pruned by deletes, a fresh put recreates it.
    await store.deletePrefix('pkg/new/');
    await store.put('pkg/new/page.html', 'back', { contentType: 'text/html; charset=utf-8', fresh: true });
    expect((await readAll((await store.get('pkg/new/page.html')).body)).toString()).toBe('back');

    // Another process (a second node sharing the disk) removed the folder behind this store's back.
    await fs.rm(path.join(root, 'objects', 'pkg', 'new'), { recursive: true });
    await store.put('pkg/new/other.html', 'again', { contentType: 'text/html; charset=utf-8', fresh: true });
    expect((await readAll((await store.get('pkg/new/other.html')).body)).toString()).toBe('again');
  });
});
