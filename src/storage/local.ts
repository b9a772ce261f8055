import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  assertSafeKey, blobNotFound, resolveRange,
  type BlobMetadata, type BlobObject, type BlobStore, type ByteRange, type PutOptions,
} from './blob-store.js';

interface Sidecar {
  readonly contentType: string;
  readonly etag: string;
}

/**
 * Blobs on the local disk: content under `<root>/objects/<key>`, content type and ETag in a
 * JSON sidecar under `<root>/meta/<key>.json`. Writes go to `<root>/tmp` first and are renamed
 * into place, so readers never see half a file.
 */
export class LocalBlobStore implements BlobStore {
  readonly kind = 'local' as const;
  private readonly objects: string;
  private readonly meta: string;
  private readonly tmp: string;

  constructor(private readonly root: string) {
    this.objects = path.join(root, 'objects');
    this.meta = path.join(root, 'meta');
    this.tmp = path.join(root, 'tmp');
  }

  async init(): Promise<this> {
    await Promise.all([this.objects, this.meta, this.tmp].map((d) => fs.mkdir(d, { recursive: true })));
    return this;
  }

  async put(key: string, body: Readable | Buffer | string, options: PutOptions = {}): Promise<BlobMetadata> {
    assertSafeKey(key);
    const target = this.objectPath(key);
    const temp = path.join(this.tmp, randomUUID());
    const hash = createHash('md5');
    let size = 0;
    const source = typeof body === 'string' || Buffer.isBuffer(body) ? Readable.from([Buffer.from(body)]) : body;
    const measure = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    try {
      await pipeline(source, measure, createWriteStream(temp, { mode: 0o640 }));
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fs.rename(temp, target);
    } catch (error) {
      await fs.rm(temp, { force: true });
      throw error;
    }
    const sidecar: Sidecar = { contentType: options.contentType ?? 'application/octet-stream', etag: hash.digest('hex') };
    const metaPath = this.metaPath(key);
    await fs.mkdir(path.dirname(metaPath), { recursive: true });
    await fs.writeFile(metaPath, JSON.stringify(sidecar));
    const stat = await fs.stat(target);
    return { key, size, contentType: sidecar.contentType, etag: sidecar.etag, lastModified: stat.mtime };
  }

  async get(key: string, options: { range?: ByteRange } = {}): Promise<BlobObject> {
    const meta = await this.head(key);
    if (!meta) throw blobNotFound(key);
    if (options.range) {
      const range = resolveRange(options.range, meta.size);
      return { ...meta, range, body: createReadStream(this.objectPath(key), range) };
    }
    return { ...meta, body: createReadStream(this.objectPath(key)) };
  }

  async head(key: string): Promise<BlobMetadata | undefined> {
    assertSafeKey(key);
    let stat;
    try {
      stat = await fs.stat(this.objectPath(key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
      throw error;
    }
    if (!stat.isFile()) return undefined;
    const sidecar = await this.readSidecar(key);
    return {
      key,
      size: stat.size,
      contentType: sidecar?.contentType ?? 'application/octet-stream',
      etag: sidecar?.etag ?? `${stat.size.toString(16)}-${stat.mtimeMs.toString(16)}`,
      lastModified: stat.mtime,
    };
  }

  async delete(key: string): Promise<void> {
    assertSafeKey(key);
    await fs.rm(this.objectPath(key), { force: true });
    await fs.rm(this.metaPath(key), { force: true });
  }

  async *list(prefix: string): AsyncIterable<BlobMetadata> {
    if (prefix !== '') assertSafeKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
    const baseDir = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const keys: string[] = [];
    await this.walk(baseDir, keys);
    keys.sort();
    for (const key of keys) {
      if (!key.startsWith(prefix)) continue;
      const meta = await this.head(key);
      if (meta) yield meta;
    }
  }

  async deletePrefix(prefix: string): Promise<number> {
    let count = 0;
    for await (const blob of this.list(prefix)) {
      await this.delete(blob.key);
      count++;
    }
    return count;
  }

  async check(): Promise<void> {
    await fs.access(this.objects, fs.constants.R_OK | fs.constants.W_OK);
  }

  close(): void {
    // nothing to release
  }

  private async walk(relativeDir: string, out: string[]): Promise<void> {
    let entries;
    try {
      entries = await fs.readdir(path.join(this.objects, relativeDir), { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw error;
    }
    for (const entry of entries) {
      const key = relativeDir ? `${relativeDir}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await this.walk(key, out);
      else if (entry.isFile()) out.push(key);
    }
  }

  private async readSidecar(key: string): Promise<Sidecar | undefined> {
    try {
      return JSON.parse(await fs.readFile(this.metaPath(key), 'utf8')) as Sidecar;
    } catch {
      return undefined;
    }
  }

  private objectPath(key: string): string {
    return path.join(this.objects, ...key.split('/'));
  }

  private metaPath(key: string): string {
    return `${path.join(this.meta, ...key.split('/'))}.json`;
  }
}
