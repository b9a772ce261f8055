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

    it('serves a file placed by hand (no sidecar) as application/octet-stream with a stable ETag', async () => {
      const root = await freshRoot();
      const store = await new LocalBlobStore(root).init();
      await fs.mkdir(path.join(root, 'objects', 'manual'), { recursive: true });
      await fs.writeFile(path.join(root, 'objects', 'manual', 'readme.txt'), 'hello');
      const first = await store.head('manual/readme.txt');
      expect(first).toMatchObject({ size: 5, contentType: 'application/octet-stream' });
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
