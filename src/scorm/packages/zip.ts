import fsCallback from 'node:fs';
import { promisify } from 'node:util';
import { crc32, inflateRaw as inflateRawCallback, type ZlibOptions } from 'node:zlib';
import { Transform, type Readable } from 'node:stream';
import yauzl from 'yauzl';
import type { ValidationFinding } from './model.js';

const inflateRaw = promisify<Buffer, ZlibOptions, Buffer>(inflateRawCallback);

/**
 * Reading a package zip without trusting it (docs/decisions/0045). Two passes over one open
 * file: `scanZip` reads only the central directory and judges every entry's name, type,
 * flags and declared sizes; `openEntry` later inflates one entry while counting the bytes it
 * really produces, so a header that lies about its size cannot smuggle a bomb past the scan.
 */

export interface ZipLimits {
  /** Most entries (files and folders). */
  readonly maxEntries: number;
  /** Most bytes all kept entries may inflate to. */
  readonly maxUncompressedBytes: number;
  /** Largest inflated ÷ compressed ratio of one entry past `ratioGraceBytes`. */
  readonly maxRatio: number;
  /** Entries smaller than this may have any ratio: a 1 KB file of spaces is not a bomb. */
  readonly ratioGraceBytes: number;
  /** Longest package-relative path in UTF-8 bytes (the blob key's prefix takes the rest of 1024). */
  readonly maxPathBytes: number;
}

export const defaultRatioGraceBytes = 1024 * 1024;

export interface ZipFileEntry {
  /** Path relative to the package root (after re-rooting), decoded, normalized, `/`-separated. */
  readonly path: string;
  /** The name as stored in the zip (decoded). */
  readonly zipName: string;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly raw: yauzl.Entry;
}

export interface ZipScan {
  readonly findings: ValidationFinding[];
  /** Files to extract, in central-directory order. Folders and skipped entries are not here. */
  readonly files: ZipFileEntry[];
  /** The folder the manifest was found in ('' at the root, or `name/`). */
  readonly root: string;
  readonly manifest: ZipFileEntry | undefined;
  readonly totalUncompressed: number;
  readonly entryCount: number;
}

export class ZipOpenError extends Error {}

/** Opens a zip file on disk for random access. Rejects with ZipOpenError when it is not a readable zip. */
export async function openZip(file: string): Promise<yauzl.ZipFile> {
  const fd = await new Promise<number>((resolve, reject) => fsCallback.open(file, 'r', (error, opened) => (error ? reject(error) : resolve(opened))));
  let size: number;
  try {
    size = (await new Promise<fsCallback.Stats>((resolve, reject) => fsCallback.fstat(fd, (error, stat) => (error ? reject(error) : resolve(stat))))).size;
  } catch (error) {
    fsCallback.close(fd, () => undefined);
    throw error;
  }
  const reader = new WindowedFileReader(fd, size);
  return new Promise((resolve, reject) => {
    yauzl.fromRandomAccessReader(reader, size, { lazyEntries: true, decodeStrings: false, validateEntrySizes: true, autoClose: false, strictFileNames: false }, (error, zip) => {
      if (error || !zip) {
        fsCallback.close(fd, () => undefined);
        reject(new ZipOpenError(error?.message ?? 'unreadable zip'));
      } else {
        readers.set(zip, reader);
        resolve(zip);
      }
    });
  });
}

/** The reader behind each zip `openZip` opened: `readWholeEntry` reads through its descriptor. */
const readers = new WeakMap<yauzl.ZipFile, WindowedFileReader>();

/** Bytes read at once for yauzl's small reads (central directory records, local headers). */
const readWindowBytes = 1024 * 1024;

/**
 * The zip file for yauzl, read through a window: yauzl reads the central directory with two
 * small reads per entry, which for a 2,000-file package is 4,000 trips through the thread pool;
 * served from a 1 MB window, a directory costs a read or two. Entry streams read 256 KB at a
 * time (Node's default is 64 KB; yauzl's own fd reader used 16 KB).
 */
class WindowedFileReader extends yauzl.RandomAccessReader {
  private window = Buffer.alloc(0);
  private windowStart = 0;
  // yauzl's reference count (the zip and each open entry stream hold one); @types/yauzl omits them.
  declare ref: () => void;
  declare unref: () => void;

  constructor(private readonly fd: number, private readonly size: number) {
    super();
  }

  override read(buffer: Buffer, offset: number, length: number, position: number, callback: (error: Error | null) => void): void {
    const from = position - this.windowStart;
    if (from >= 0 && from + length <= this.window.length) {
      this.window.copy(buffer, offset, from, from + length);
      // Asynchronous like a real read: yauzl's entry loop would otherwise recurse once per entry.
      process.nextTick(callback, null);
      return;
    }
    if (length > readWindowBytes) {
      readFully(this.fd, buffer, offset, length, position, (error, read) => callback(error ?? (read < length ? new Error('unexpected EOF') : null)));
      return;
    }
    const window = Buffer.allocUnsafe(Math.max(length, Math.min(readWindowBytes, this.size - position)));
    readFully(this.fd, window, 0, window.length, position, (error, read) => {
      if (error) return callback(error);
      if (read < length) return callback(new Error('unexpected EOF'));
      this.window = window.subarray(0, read);
      this.windowStart = position;
      window.copy(buffer, offset, 0, length);
      callback(null);
    });
  }

  override _readStreamForRange(start: number, end: number): Readable {
    // The descriptor is shared by every stream and closed by `close()`; a ReadStream closes its
    // fd when destroyed even with autoClose: false, so its close is a no-op here.
    return fsCallback.createReadStream('', { fd: this.fd, start, end: end - 1, autoClose: false, highWaterMark: 256 * 1024, fs: keepOpen });
  }

  override close(callback: (error: Error | null) => void): void {
    fsCallback.close(this.fd, (error) => callback(error ?? null));
  }

  /** `length` bytes at `position` (fewer at the end of the file), past the window. */
  async readAt(position: number, length: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(length);
    // Held like an entry stream, so closing the zip waits for the read.
    this.ref();
    try {
      const read = await new Promise<number>((resolve, reject) => readFully(this.fd, buffer, 0, length, position, (error, bytes) => (error ? reject(error) : resolve(bytes))));
      return buffer.subarray(0, read);
    } finally {
      this.unref();
    }
  }
}

const keepOpen = { open: fsCallback.open, read: fsCallback.read, close: (_fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => callback(null) };

function readFully(fd: number, buffer: Buffer, offset: number, length: number, position: number, done: (error: Error | null, read: number) => void, read = 0): void {
  fsCallback.read(fd, buffer, offset + read, length - read, position + read, (error, bytes) => {
    if (error) return done(error, read);
    if (bytes === 0 || read + bytes >= length) return done(null, read + bytes);
    readFully(fd, buffer, offset, length, position, done, read + bytes);
  });
}

/** Every central-directory entry, or ZipOpenError when the directory is damaged part-way. */
async function readEntries(zip: yauzl.ZipFile, maxEntries: number): Promise<{ entries: yauzl.Entry[]; total: number }> {
  const total = zip.entryCount;
  // The count comes from the end record; refuse before reading a directory of millions.
  if (total > maxEntries) return { entries: [], total };
  return new Promise((resolve, reject) => {
    const entries: yauzl.Entry[] = [];
    const onEntry = (entry: yauzl.Entry) => {
      entries.push(entry);
      zip.readEntry();
    };
    const onEnd = () => {
      cleanup();
      resolve({ entries, total });
    };
    const onError = (error: Error) => {
      cleanup();
      reject(new ZipOpenError(error.message));
    };
    const cleanup = () => {
      zip.off('entry', onEntry);
      zip.off('end', onEnd);
      zip.off('error', onError);
    };
    zip.on('entry', onEntry);
    zip.on('end', onEnd);
    zip.on('error', onError);
    zip.readEntry();
  });
}

const utf8Flag = 0x0800;
const encryptedFlag = 0x0001;
const unixHost = 3;
const fileTypeMask = 0o170000;
const symlinkType = 0o120000;
const infoZipUnicodePath = 0x7075;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const manifestName = 'imsmanifest.xml';

type NameResult = { ok: true; name: string; unflaggedUtf8: boolean } | { ok: false; finding: ValidationFinding };

/**
 * The entry's name as text. APPNOTE says names are CP437 unless bit 11 says UTF-8, but tools
 * (macOS Archive Utility, many libraries) write UTF-8 without the flag, and Windows Explorer
 * writes the local OEM code page; which one a byte string is cannot be known. Valid UTF-8 is
 * taken as UTF-8 (pure ASCII reads the same everywhere); anything else is refused rather than
 * guessed, because a wrong guess silently breaks every manifest href to that file.
 */
export function decodeEntryName(entry: Pick<yauzl.Entry, 'fileNameRaw' | 'generalPurposeBitFlag' | 'extraFields'>): NameResult {
  const raw = entry.fileNameRaw;
  const flagged = (entry.generalPurposeBitFlag & utf8Flag) !== 0;
  // Info-ZIP's Unicode Path extra field carries a UTF-8 name for a legacy-encoded one; it counts
  // only while its CRC still matches the legacy name (a later rename would leave it stale).
  const unicode = entry.extraFields.find((f) => f.id === infoZipUnicodePath);
  if (unicode && unicode.data.length > 5 && unicode.data[0] === 1 && unicode.data.readUInt32LE(1) === crc32(raw)) {
    try {
      return { ok: true, name: strictUtf8.decode(unicode.data.subarray(5)), unflaggedUtf8: false };
    } catch {
      // fall through to the header name
    }
  }
  try {
    const name = strictUtf8.decode(raw);
    const ascii = raw.every((b) => b < 0x80);
    return { ok: true, name, unflaggedUtf8: !flagged && !ascii };
  } catch {
    const shown = printableBytes(raw);
    return {
      ok: false,
      finding: flagged
        ? { severity: 'error', code: 'zip_entry_name_invalid_utf8', message: `The entry name ${shown} is flagged as UTF-8 but is not valid UTF-8.`, location: shown }
        : {
            severity: 'error', code: 'zip_entry_name_not_utf8', location: shown,
            message: `The entry name ${shown} is not UTF-8 and the zip does not say which code page it uses, so the manifest's links to it cannot be matched reliably. Re-create the zip with UTF-8 file names (Info-ZIP zip 3, 7-Zip with -mcu=on, or any current packaging tool).`,
          },
    };
  }
}

function printableBytes(raw: Buffer): string {
  const latin = raw.toString('latin1').replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return JSON.stringify(latin.slice(0, 200));
}

type PathResult = { ok: true; path: string; directory: boolean } | { ok: false; finding: ValidationFinding };

/** Judges a decoded name: what could escape the package folder, or could not be stored, is refused. */
export function normalizeEntryPath(name: string, maxPathBytes: number): PathResult {
  const at = JSON.stringify(name.slice(0, 300));
  const fail = (code: string, message: string): PathResult => ({ ok: false, finding: { severity: 'error', code, message, location: name.slice(0, 300) } });
  if (/[\u0000-\u001f\u007f]/.test(name)) return fail('zip_entry_name_invalid', `The entry name ${at} contains control characters.`);
  if (name.includes('\\')) {
    return fail('zip_entry_backslash', `The entry name ${at} uses backslashes; zip names must use "/" as the separator (APPNOTE 4.4.17), and a backslash is also how Windows paths escape a folder. Re-create the zip with a tool that writes "/".`);
  }
  if (/^[A-Za-z]:/.test(name)) return fail('zip_entry_drive_letter', `The entry name ${at} starts with a drive letter; entries must be relative paths.`);
  if (name.startsWith('/')) return fail('zip_entry_absolute_path', `The entry name ${at} is an absolute path; entries must be relative to the package root.`);
  const segments = name.split('/');
  if (segments.includes('..')) return fail('zip_entry_escapes_root', `The entry name ${at} contains "..", which would place it outside the package folder.`);
  const directory = name.endsWith('/');
  const clean = segments.filter((s) => s !== '' && s !== '.');
  if (clean.length === 0) {
    return directory || name === '' ? { ok: true, path: '', directory: true } : fail('zip_entry_name_invalid', `The entry name ${at} names no file.`);
  }
  const path = clean.join('/');
  if (clean.some((s) => Buffer.byteLength(s) > 255)) return fail('zip_entry_name_too_long', `A folder or file name in ${at} is longer than 255 bytes.`);
  if (Buffer.byteLength(path) > maxPathBytes) return fail('zip_entry_name_too_long', `The entry name ${at} is longer than ${maxPathBytes} bytes.`);
  return { ok: true, path, directory };
}

/** True for Unix symlink entries (made on a Unix host with S_IFLNK in the external attributes). */
export function isSymlink(entry: Pick<yauzl.Entry, 'versionMadeBy' | 'externalFileAttributes'>): boolean {
  return entry.versionMadeBy >> 8 === unixHost && ((entry.externalFileAttributes >>> 16) & fileTypeMask) === symlinkType;
}

const compressionNames: Record<number, string> = { 1: 'Shrink', 6: 'Implode', 9: 'Deflate64', 12: 'bzip2', 14: 'LZMA', 93: 'Zstandard', 95: 'XZ', 98: 'PPMd', 99: 'AES encryption' };

/**
 * Judges every entry from the central directory alone, before a byte is inflated. Entries are
 * reported all at once (not only the first problem), so a vendor fixes a package in one pass.
 */
export async function scanZip(zip: yauzl.ZipFile, limits: ZipLimits): Promise<ZipScan> {
  const findings: ValidationFinding[] = [];
  const { entries, total } = await readEntries(zip, limits.maxEntries);
  if (total > limits.maxEntries) {
    findings.push({ severity: 'error', code: 'zip_too_many_entries', message: `The zip holds ${total} entries; at most ${limits.maxEntries} are accepted.` });
    return { findings, files: [], root: '', manifest: undefined, totalUncompressed: 0, entryCount: total };
  }

  interface Candidate { readonly path: string; readonly zipName: string; readonly raw: yauzl.Entry }
  const candidates: Candidate[] = [];
  const seen = new Map<string, string>();
  const seenFolded = new Map<string, string>();
  let unflagged = 0;
  let macMetadata = 0;
  for (const entry of entries) {
    const decoded = decodeEntryName(entry);
    if (!decoded.ok) {
      findings.push(decoded.finding);
      continue;
    }
    if (decoded.unflaggedUtf8) unflagged++;
    const normalized = normalizeEntryPath(decoded.name, limits.maxPathBytes);
    if (!normalized.ok) {
      findings.push(normalized.finding);
      continue;
    }
    if (isSymlink(entry)) {
      findings.push({ severity: 'error', code: 'zip_entry_symlink', location: decoded.name, message: `The entry "${decoded.name}" is a symbolic link; links could point outside the package and are not accepted. Replace it with the file itself.` });
      continue;
    }
    if (normalized.directory) continue;
    // Finder's resource forks: never content, and their names collide with the real files'.
    if (normalized.path === '__MACOSX' || normalized.path.startsWith('__MACOSX/')) {
      macMetadata++;
      continue;
    }
    if ((entry.generalPurposeBitFlag & encryptedFlag) !== 0) {
      findings.push({ severity: 'error', code: 'zip_entry_encrypted', location: decoded.name, message: `The entry "${decoded.name}" is encrypted; packages must be zipped without a password.` });
      continue;
    }
    if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
      const method = compressionNames[entry.compressionMethod] ?? `method ${entry.compressionMethod}`;
      findings.push({ severity: 'error', code: 'zip_entry_unsupported_compression', location: decoded.name, message: `The entry "${decoded.name}" is compressed with ${method}; only Store and Deflate are accepted (what every SCORM tool and LMS reads).` });
      continue;
    }
    const previous = seen.get(normalized.path);
    if (previous !== undefined) {
      findings.push({ severity: 'error', code: 'zip_entry_duplicate', location: decoded.name, message: `The zip holds "${normalized.path}" more than once; which copy is meant cannot be known.` });
      continue;
    }
    seen.set(normalized.path, decoded.name);
    const folded = normalized.path.toLowerCase();
    const clash = seenFolded.get(folded);
    if (clash !== undefined) {
      findings.push({ severity: 'warning', code: 'zip_entry_case_duplicate', location: normalized.path, message: `"${normalized.path}" and "${clash}" differ only in letter case; both are kept, but they collide when the package is unzipped on Windows or macOS.` });
    } else {
      seenFolded.set(folded, normalized.path);
    }
    candidates.push({ path: normalized.path, zipName: decoded.name, raw: entry });
  }
  if (unflagged > 0) {
    findings.push({ severity: 'warning', code: 'zip_names_unflagged_utf8', message: `${unflagged} entry name(s) are UTF-8 without the zip's UTF-8 flag; they were read as UTF-8.` });
  }
  if (macMetadata > 0) {
    findings.push({ severity: 'warning', code: 'zip_macos_metadata_skipped', message: `${macMetadata} macOS metadata entr${macMetadata === 1 ? 'y' : 'ies'} (__MACOSX/) were skipped.` });
  }

  // The manifest at the root, or one folder down (zipping the folder rather than its contents).
  let root = '';
  let manifestCandidate = candidates.find((c) => c.path === manifestName);
  if (!manifestCandidate) {
    const nested = candidates.filter((c) => /^[^/]+\/imsmanifest\.xml$/.test(c.path));
    if (nested.length === 1) {
      manifestCandidate = nested[0]!;
      root = manifestCandidate.path.slice(0, -manifestName.length);
      findings.push({ severity: 'warning', code: 'manifest_nested', location: manifestCandidate.path, message: `imsmanifest.xml is in the folder "${root}" rather than at the root of the zip (the folder was zipped instead of its contents); the package was read from that folder.` });
    } else if (nested.length > 1) {
      findings.push({ severity: 'error', code: 'manifest_ambiguous', message: `There is no imsmanifest.xml at the root of the zip but several one folder down (${nested.map((c) => c.path).join(', ')}); zip one package at a time with its imsmanifest.xml at the root.` });
    } else {
      const wrongCase = candidates.find((c) => c.path.split('/').pop()!.toLowerCase() === manifestName);
      findings.push({
        severity: 'error', code: 'manifest_missing',
        message: wrongCase
          ? `No imsmanifest.xml at the root of the zip; found "${wrongCase.path}" — the name must be exactly imsmanifest.xml (lower case) and sit at the root of the zip.`
          : 'No imsmanifest.xml at the root of the zip: this is not a SCORM package (or the files were zipped from the wrong folder).',
      });
    }
  }

  const files: ZipFileEntry[] = [];
  let outside = 0;
  let totalUncompressed = 0;
  for (const c of candidates) {
    if (root && !c.path.startsWith(root)) {
      outside++;
      continue;
    }
    const path = c.path.slice(root.length);
    const { compressedSize, uncompressedSize } = c.raw;
    if (uncompressedSize > limits.ratioGraceBytes && uncompressedSize / Math.max(compressedSize, 1) > limits.maxRatio) {
      findings.push({ severity: 'error', code: 'zip_entry_ratio_exceeded', location: c.zipName, message: `The entry "${c.zipName}" inflates ${compressedSize} bytes to ${uncompressedSize} (ratio ${Math.round(uncompressedSize / Math.max(compressedSize, 1))}:1, limit ${limits.maxRatio}:1): rejected as a likely zip bomb.` });
      continue;
    }
    totalUncompressed += uncompressedSize;
    files.push({ path, zipName: c.zipName, compressedSize, uncompressedSize, raw: c.raw });
  }
  // A name that is a file and also a folder of another file ("a" and "a/b") cannot be stored
  // as both on a disk, and which one the package means is unknowable.
  const folders = new Set<string>();
  for (const f of files) {
    for (let at = f.path.indexOf('/'); at > 0; at = f.path.indexOf('/', at + 1)) folders.add(f.path.slice(0, at));
  }
  for (const f of files) {
    if (folders.has(f.path)) findings.push({ severity: 'error', code: 'zip_entry_path_conflict', location: f.zipName, message: `"${f.path}" is a file and also the folder of other entries.` });
  }
  if (outside > 0) {
    findings.push({ severity: 'warning', code: 'zip_entries_outside_root', message: `${outside} entr${outside === 1 ? 'y lies' : 'ies lie'} outside the folder "${root}" that holds the manifest and were skipped.` });
  }
  if (totalUncompressed > limits.maxUncompressedBytes) {
    findings.push({ severity: 'error', code: 'zip_too_large_uncompressed', message: `The zip's files add up to ${totalUncompressed} bytes inflated; at most ${limits.maxUncompressedBytes} are accepted.` });
  }
  const manifest = manifestCandidate ? files.find((f) => f.raw === manifestCandidate.raw) : undefined;
  return { findings, files, root, manifest, totalUncompressed, entryCount: total };
}

/** Raised while inflating when the bytes contradict the header or pass a limit. */
export class ZipEntryError extends Error {
  constructor(readonly finding: ValidationFinding) {
    super(finding.message);
  }
}

const unreadable = (entry: ZipFileEntry, why: string): ValidationFinding => ({ severity: 'error', code: 'zip_corrupt', location: entry.zipName, message: `The entry "${entry.zipName}" cannot be read: ${why}.` });
const inflatesPastHeader = (entry: ZipFileEntry): ValidationFinding => ({ severity: 'error', code: 'zip_entry_size_mismatch', location: entry.zipName, message: `The entry "${entry.zipName}" inflates to more than the ${entry.uncompressedSize} bytes its header declares: rejected as a zip bomb.` });
const inflatesShort = (entry: ZipFileEntry, detail: string): ValidationFinding => ({ severity: 'error', code: 'zip_entry_size_mismatch', location: entry.zipName, message: `The entry "${entry.zipName}" does not inflate to the ${entry.uncompressedSize} bytes its header declares (${detail}).` });
const pastBudget = (entry: ZipFileEntry): ValidationFinding => ({ severity: 'error', code: 'zip_too_large_uncompressed', location: entry.zipName, message: 'The package inflates to more bytes than the configured limit: rejected as a zip bomb.' });

/**
 * Inflates one entry, counting the bytes that actually come out: more than the header declared,
 * or more than the package's remaining budget, fails the stream at once (yauzl checks the
 * declared size too; the count here does not depend on it). `budget` is shared by all entries.
 */
export async function openEntry(zip: yauzl.ZipFile, entry: ZipFileEntry, budget: { remaining: number }): Promise<Readable> {
  const source = await new Promise<Readable>((resolve, reject) => {
    zip.openReadStream(entry.raw, (error, stream) => {
      if (error || !stream) reject(new ZipEntryError(unreadable(entry, error?.message ?? 'no data')));
      else resolve(stream);
    });
  });
  let produced = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      produced += chunk.length;
      budget.remaining -= chunk.length;
      if (produced > entry.uncompressedSize) {
        done(new ZipEntryError(inflatesPastHeader(entry)));
        return;
      }
      if (budget.remaining < 0) {
        done(new ZipEntryError(pastBudget(entry)));
        return;
      }
      done(null, chunk);
    },
  });
  source.on('error', (error: Error) => {
    counter.destroy(error instanceof ZipEntryError ? error : new ZipEntryError(translateInflateError(entry, error)));
  });
  return source.pipe(counter);
}

/** Entries up to this size (inflated and stored) are read with one read and inflated whole. */
export const wholeEntryMaxBytes = 4 * 1024 * 1024;
/** Room for a local extra field longer than the central one (zip64, timestamps) in the same read. */
const localHeaderSlack = 1024;

/** Whether `readWholeEntry` takes this entry; larger ones go through `openEntry`. */
export function fitsWhole(entry: ZipFileEntry): boolean {
  return entry.uncompressedSize <= wholeEntryMaxBytes && entry.compressedSize <= wholeEntryMaxBytes;
}

/**
 * Reads a small entry whole: one positioned read of the local header and the data, then one
 * inflate bounded by the declared size. A package is mostly small files, and a stream per file
 * (reads of 16 KB, a transform, a write stream) costs several times the bytes' own I/O; this is
 * what keeps extraction near `unzip`'s speed. The same checks as `openEntry`: the local header's
 * signature, data inside the file, exactly the declared number of bytes out, the shared budget.
 * `zip` must come from `openZip`.
 */
export async function readWholeEntry(zip: yauzl.ZipFile, entry: ZipFileEntry, budget: { remaining: number }): Promise<Buffer> {
  const reader = readers.get(zip);
  if (!reader) throw new Error('readWholeEntry needs a zip opened by openZip');
  const raw = entry.raw;
  const corrupt = (why: string) => new ZipEntryError(unreadable(entry, why));
  const at = raw.relativeOffsetOfLocalHeader;
  const guess = Math.min(30 + raw.fileNameLength + raw.extraFieldLength + localHeaderSlack + entry.compressedSize, zip.fileSize - at);
  if (guess < 30) throw corrupt('its local header lies past the end of the zip');
  const buffer = await reader.readAt(at, guess);
  if (buffer.length < 30) throw corrupt('the zip ends inside its local header');
  if (buffer.readUInt32LE(0) !== 0x04034b50) throw corrupt(`invalid local file header signature 0x${buffer.readUInt32LE(0).toString(16)}`);
  const start = 30 + buffer.readUInt16LE(26) + buffer.readUInt16LE(28);
  if (at + start + entry.compressedSize > zip.fileSize) throw corrupt('its data runs past the end of the zip');
  // A local extra field longer than the slack: read the data on its own.
  const data = start + entry.compressedSize <= buffer.length ? buffer.subarray(start, start + entry.compressedSize) : await reader.readAt(at + start, entry.compressedSize);
  if (data.length !== entry.compressedSize) throw corrupt('the zip ends inside its data');
  budget.remaining -= entry.uncompressedSize;
  if (budget.remaining < 0) throw new ZipEntryError(pastBudget(entry));
  let out = data;
  if (raw.compressionMethod !== 0) {
    try {
      out = await inflateRaw(data, { maxOutputLength: Math.max(entry.uncompressedSize, 1) });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new ZipEntryError(inflatesPastHeader(entry));
      throw new ZipEntryError(translateInflateError(entry, error as Error));
    }
  }
  if (out.length !== entry.uncompressedSize) throw new ZipEntryError(inflatesShort(entry, `${out.length} bytes`));
  return out;
}

function translateInflateError(entry: ZipFileEntry, error: Error): ValidationFinding {
  if (/too many bytes|not enough bytes/i.test(error.message)) {
    return inflatesShort(entry, error.message);
  }
  return { severity: 'error', code: 'zip_corrupt', location: entry.zipName, message: `The entry "${entry.zipName}" is damaged: ${error.message}.` };
}

/** Reads a small entry (the manifest) whole, refusing anything past `maxBytes`. */
export async function readEntry(zip: yauzl.ZipFile, entry: ZipFileEntry, maxBytes: number): Promise<Buffer> {
  if (entry.uncompressedSize > maxBytes) {
    throw new ZipEntryError({ severity: 'error', code: 'manifest_too_large', location: entry.zipName, message: `"${entry.zipName}" is ${entry.uncompressedSize} bytes; at most ${maxBytes} are read.` });
  }
  const stream = await openEntry(zip, entry, { remaining: maxBytes });
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
