import { execFile } from 'node:child_process';
import { createHash, randomUUID, type Hash } from 'node:crypto';
import type { Stats } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../errors/index.js';
import { contentTypeFor } from './content-types.js';
import {
  assertSafeKey, assertSafePrefix, blobNotFound, compareKeys, isInvalidRange, measure, rangeNotSatisfiable, resolveRange, storeClosed, toSeconds,
  type BlobListEntry, type BlobMetadata, type BlobObject, type BlobStore, type ByteRange, type PutOptions,
} from './blob-store.js';

interface Sidecar {
  readonly contentType: string;
  readonly etag: string;
  /** Inode of the object file this sidecar describes; a mismatch means a writer is between its two renames. */
  readonly ino?: number;
}

const defaultContentType = 'application/octet-stream';

/** Changes with every put: each put renames a new file (new inode) into place. */
function identityEtag(stat: Stats): string {
  return `${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}-${stat.ino.toString(16)}`;
}
/** Leftovers of writes interrupted by a crash; anything this old in tmp/ is garbage. */
const staleTempMs = 24 * 60 * 60 * 1000;

/**
 * Blobs on the local disk: content under `<root>/objects/<key>`, content type and ETag in a
 * JSON sidecar at the same relative path under `<root>/meta/` — only when the content type is
 * not the one the key's extension implies (otherwise the ETag comes from the file's identity).
 * Both are written to `<root>/tmp`,
 * flushed to disk and renamed into place (sidecar, then object): neither a reader nor a crash
 * sees half a file (a crash may lose the rename, leaving the previous version). A reader that
 * catches a writer between the two renames sees the inode mismatch and looks again.
 *
 * One process owns a directory: commits of one key are serialized in-process. Several Cairn
 * nodes need the S3 store (docs/storage.md).
 */
export class LocalBlobStore implements BlobStore {
  readonly kind = 'local' as const;
  private readonly objects: string;
  private readonly meta: string;
  private readonly tmp: string;
  private readonly commits = new Map<string, Promise<unknown>>();
  /** Folders this process created for fresh puts; a delete that prunes one forgets it. */
  private readonly knownDirectories = new Set<string>();
  private closed = false;

  constructor(private readonly root: string) {
    this.objects = path.join(root, 'objects');
    this.meta = path.join(root, 'meta');
    this.tmp = path.join(root, 'tmp');
  }

  /** Creates the directories and clears temporary files a crashed process left behind. */
  async init(): Promise<this> {
    await Promise.all([this.objects, this.meta, this.tmp].map((d) => fs.mkdir(d, { recursive: true })));
    const now = Date.now();
    for (const name of await fs.readdir(this.tmp)) {
      const file = path.join(this.tmp, name);
      const stat = await fs.stat(file).catch(() => undefined);
      if (stat && now - stat.mtimeMs > staleTempMs) await fs.rm(file, { force: true, recursive: true });
    }
    return this;
  }

  async put(key: string, body: Readable | Buffer | string, options: PutOptions = {}): Promise<BlobMetadata> {
    this.assertOpen();
    assertSafeKey(key);
    const contentType = options.contentType ?? defaultContentType;
    // A file whose type is the one its name implies (most package files) needs no sidecar: its
    // ETag comes from the file's identity. That halves the files created per put, which is
    // what bulk extraction pays for on a real disk.
    const needsSidecar = contentType !== contentTypeFor(key);
    if (options.fresh && !needsSidecar) return this.putFresh(key, body, contentType, options);
    const id = randomUUID();
    const tempObject = path.join(this.tmp, id);
    const tempMeta = path.join(this.tmp, `${id}.meta`);
    const hash = needsSidecar ? createHash('md5') : undefined;
    let committed = false;
    try {
      const stat = await writeBody(tempObject, () => fs.open(tempObject, 'wx', 0o640), body, options, hash);
      const sidecar: Sidecar | undefined = hash ? { contentType, etag: hash.digest('hex'), ino: stat.ino } : undefined;
      if (sidecar) await fs.writeFile(tempMeta, JSON.stringify(sidecar), { mode: 0o640, flag: 'wx', flush: options.durable !== false });
      await this.serialized(key, async () => {
        if (sidecar) await this.moveIntoPlace(tempMeta, this.metaPath(key), key);
        await this.moveIntoPlace(tempObject, this.objectPath(key), key);
        // A sidecar of an earlier version would now describe another inode; readers treat it as
        // stale until it is gone.
        if (!sidecar) await removeFile(this.metaPath(key));
        committed = true;
      });
      return { key, size: stat.size, contentType, etag: sidecar?.etag ?? identityEtag(stat), lastModified: toSeconds(stat.mtime) };
    } finally {
      // Both temp files were renamed away on success; removing them again only costs syscalls.
      if (!committed) await Promise.all([fs.rm(tempObject, { force: true }), ...(hash ? [fs.rm(tempMeta, { force: true })] : [])]);
    }
  }

  /** `put` with `fresh: true`: straight into place, as `unzip` writes (see PutOptions.fresh). */
  private async putFresh(key: string, body: Readable | Buffer | string, contentType: string, options: PutOptions): Promise<BlobMetadata> {
    const target = this.objectPath(key);
    const dir = path.dirname(target);
    let opened = false;
    const open = async () => {
      // A bulk extraction writes thousands of files into a few folders: create each folder once.
      if (!this.knownDirectories.has(dir)) {
        await fs.mkdir(dir, { recursive: true });
        this.knownDirectories.add(dir);
      }
      const file = await fs.open(target, 'wx', 0o640).catch(async (error: unknown) => {
        // Another process (or a prefix delete) removed the folder since this one remembered it.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        await fs.mkdir(dir, { recursive: true });
        return fs.open(target, 'wx', 0o640);
      });
      opened = true;
      return file;
    };
    try {
      const stat = await writeBody(target, open, body, options, undefined);
      return { key, size: stat.size, contentType, etag: identityEtag(stat), lastModified: toSeconds(stat.mtime) };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (!opened && (code === 'EEXIST' || code === 'ENOTDIR' || code === 'EISDIR')) {
        throw new AppError('conflict', `Cannot store "${key}" as a fresh key: it (or a key on its path) already exists.`, { cause: error });
      }
      // A failed body (wrong length, broken stream) must not leave half a file under the key.
      if (opened) await fs.rm(target, { force: true });
      throw error;
    }
  }

  async get(key: string, options: { range?: ByteRange } = {}): Promise<BlobObject> {
    this.assertOpen();
    assertSafeKey(key);
    for (let attempt = 0; ; attempt++) {
      let handle: fs.FileHandle;
      try {
        handle = await fs.open(this.objectPath(key), 'r');
      } catch (error) {
        if (isMissing(error)) throw blobNotFound(key);
        throw error;
      }
      try {
        // Size and content come from the open file, so a concurrent replace cannot mix two versions.
        const stat = await handle.stat();
        if (!stat.isFile()) throw blobNotFound(key);
        const sidecar = await this.readSidecar(key, stat);
        if (sidecar === 'stale' && attempt < 3) {
          await handle.close();
          await delay(5);
          continue;
        }
        const meta = this.describe(key, stat, sidecar === 'stale' ? undefined : sidecar);
        if (!options.range) return { ...meta, body: handle.createReadStream() };
        if (isInvalidRange(options.range)) throw rangeNotSatisfiable(stat.size);
        const range = resolveRange(options.range, stat.size);
        return { ...meta, range, body: handle.createReadStream({ start: range.start, end: range.end }) };
      } catch (error) {
        await handle.close();
        throw error;
      }
    }
  }

  async head(key: string): Promise<BlobMetadata | undefined> {
    this.assertOpen();
    assertSafeKey(key);
    return this.stat(key);
  }

  async delete(key: string): Promise<void> {
    this.assertOpen();
    assertSafeKey(key);
    await this.serialized(key, async () => {
      // Object first: from here on readers see the key as missing, whatever the sidecar says.
      await removeFile(this.objectPath(key));
      await removeFile(this.metaPath(key));
    });
    await Promise.all([this.pruneEmptyParents(this.objectPath(key), this.objects), this.pruneEmptyParents(this.metaPath(key), this.meta)]);
  }

  async *list(prefix: string): AsyncIterable<BlobListEntry> {
    this.assertOpen();
    assertSafePrefix(prefix);
    const cut = prefix.lastIndexOf('/');
    const baseDir = cut === -1 ? '' : prefix.slice(0, cut);
    const partial = prefix.slice(cut + 1);
    const keys: string[] = [];
    await this.walk(baseDir, partial, keys);
    keys.sort(compareKeys);
    for (const key of keys) {
      if (!key.startsWith(prefix)) continue;
      const meta = await this.stat(key);
      if (meta) yield { key: meta.key, size: meta.size, etag: meta.etag, lastModified: meta.lastModified };
    }
  }

  async deletePrefix(prefix: string): Promise<number> {
    this.assertOpen();
    assertSafePrefix(prefix);
    if (prefix === '') throw new AppError('bad_request', 'deletePrefix needs a non-empty prefix.');
    const keys: string[] = [];
    for await (const blob of this.list(prefix)) keys.push(blob.key);
    for (const key of keys) await this.delete(key);
    return keys.length;
  }

  localPath(key: string): string {
    this.assertOpen();
    assertSafeKey(key);
    return this.objectPath(key);
  }

  /**
   * One syncfs(2) of the blob directory's file system (coreutils `sync -f`): a single flush for
   * a batch of non-durable puts costs about what one per-file fsync does, not thousands of them.
   */
  async sync(): Promise<void> {
    this.assertOpen();
    await new Promise<void>((resolve, reject) => {
      execFile('sync', ['-f', this.objects], (error) => {
        if (!error) return resolve();
        // Without `sync -f` (BusyBox, old coreutils), flush everything.
        execFile('sync', [], (fallbackError) => (fallbackError ? reject(new AppError('service_unavailable', 'Could not flush the blob directory to disk.', { cause: fallbackError })) : resolve()));
      });
    });
  }

  async check(): Promise<void> {
    this.assertOpen();
    try {
      const stat = await fs.stat(this.objects);
      if (!stat.isDirectory()) throw new Error(`${this.objects} is not a directory`);
      await fs.readdir(this.objects);
      const probe = path.join(this.tmp, `check-${randomUUID()}`);
      await fs.writeFile(probe, '');
      await fs.rm(probe);
    } catch (error) {
      throw new AppError('service_unavailable', `The blob directory ${this.root} is not usable.`, { cause: error });
    }
  }

  close(): void {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw storeClosed();
  }

  private async stat(key: string): Promise<BlobMetadata | undefined> {
    for (let attempt = 0; ; attempt++) {
      let stat: Stats;
      try {
        stat = await fs.stat(this.objectPath(key));
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw error;
      }
      if (!stat.isFile()) return undefined;
      const sidecar = await this.readSidecar(key, stat);
      if (sidecar === 'stale' && attempt < 3) {
        await delay(5);
        continue;
      }
      return this.describe(key, stat, sidecar === 'stale' ? undefined : sidecar);
    }
  }

  private describe(key: string, stat: Stats, sidecar: Sidecar | undefined): BlobMetadata {
    return {
      key,
      size: stat.size,
      // No sidecar: the type the name implies (the put skipped the sidecar, or the file was placed by hand).
      contentType: sidecar?.contentType ?? contentTypeFor(key),
      etag: sidecar?.etag ?? identityEtag(stat),
      lastModified: toSeconds(stat.mtime),
    };
  }

  /** The sidecar, `undefined` when there is none (or it is unreadable), `'stale'` when it describes another version. */
  private async readSidecar(key: string, stat: Stats): Promise<Sidecar | undefined | 'stale'> {
    let sidecar: Sidecar;
    try {
      sidecar = JSON.parse(await fs.readFile(this.metaPath(key), 'utf8')) as Sidecar;
    } catch {
      return undefined;
    }
    return sidecar.ino === undefined || sidecar.ino === stat.ino ? sidecar : 'stale';
  }

  /** Runs commits of one key one after another, so its sidecar and object always come from the same put. */
  private async serialized<T>(key: string, commit: () => Promise<T>): Promise<T> {
    const previous = this.commits.get(key) ?? Promise.resolve();
    const run = previous.then(commit, commit);
    const tail = run.catch(() => undefined);
    this.commits.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.commits.get(key) === tail) this.commits.delete(key);
    }
  }

  private async moveIntoPlace(temp: string, target: string, key: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        // The parent usually exists (bulk writes fill one folder with many files): rename first,
        // and create the folder only when the rename says it is missing.
        if (attempt > 0) await fs.mkdir(path.dirname(target), { recursive: true });
        await fs.rename(temp, target);
        return;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        // The parent is missing, or a concurrent delete pruned it between mkdir and rename.
        if (code === 'ENOENT' && attempt < 5) continue;
        if (code === 'ENOTDIR' || code === 'EEXIST' || code === 'EISDIR' || code === 'ENOTEMPTY') {
          throw new AppError('conflict', `Cannot store "${key}": the local blob store cannot hold a key and another key inside it (like "a/b" and "a/b/c").`, { cause: error });
        }
        throw error;
      }
    }
  }

  /** Removes directories left empty by a delete, so the same path can later be a file again. */
  private async pruneEmptyParents(file: string, root: string): Promise<void> {
    for (let dir = path.dirname(file); dir.length > root.length && dir.startsWith(root); dir = path.dirname(dir)) {
      try {
        await fs.rmdir(dir);
        this.knownDirectories.delete(dir);
      } catch {
        return;
      }
    }
  }

  private async walk(relativeDir: string, partialName: string, out: string[]): Promise<void> {
    let entries;
    try {
      entries = await fs.readdir(path.join(this.objects, ...relativeDir.split('/')), { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    for (const entry of entries) {
      if (!entry.name.startsWith(partialName)) continue;
      const key = relativeDir ? `${relativeDir}/${entry.name}` : entry.name;
      // Symbolic links are never followed: the tree under objects/ is all the store exposes.
      if (entry.isDirectory()) await this.walk(key, '', out);
      else if (entry.isFile()) out.push(key);
    }
  }

  private objectPath(key: string): string {
    return path.join(this.objects, ...key.split('/'));
  }

  private metaPath(key: string): string {
    return path.join(this.meta, ...key.split('/'));
  }
}

/**
 * Writes a body into the file `open` creates and returns the written file's stat. A buffer is
 * written with one call on the file handle: a stream pipeline per small file costs more than the
 * write itself, which is what extracting thousands of package files pays for.
 */
async function writeBody(target: string, open: () => Promise<FileHandle>, body: Readable | Buffer | string, options: PutOptions, hash: Hash | undefined): Promise<Stats> {
  const durable = options.durable !== false;
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    if (options.contentLength !== undefined && bytes.length !== options.contentLength) {
      throw new AppError('bad_request', `The body is not the declared ${options.contentLength} bytes long.`);
    }
    hash?.update(bytes);
    const file = await open();
    try {
      await file.writeFile(bytes);
      if (durable) await file.sync();
      return await file.stat();
    } finally {
      await file.close();
    }
  }
  const file = await open();
  const sink = file.createWriteStream({ flush: durable });
  await pipeline(body, measure(options.contentLength, (chunk) => hash?.update(chunk)), sink);
  return fs.stat(target);
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

async function removeFile(file: string): Promise<void> {
  try {
    await fs.unlink(file);
  } catch (error) {
    // A directory at that path is another key's parent, not this key.
    if (isMissing(error) || (error as NodeJS.ErrnoException).code === 'EISDIR' || (error as NodeJS.ErrnoException).code === 'EPERM') return;
    throw error;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
