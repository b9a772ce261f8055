import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeZip, type ZipEntrySpec } from '../../scripts/zip-writer.js';
import { decodeEntryName, normalizeEntryPath, openEntry, openZip, readWholeEntry, scanZip, type ZipLimits } from '../../src/scorm/packages/zip.js';

/** The zip scanner on zips written byte by byte (scripts/zip-writer.ts), without the HTTP layer. */
let dir: string;
const limits: ZipLimits = { maxEntries: 100, maxUncompressedBytes: 10_000_000, maxRatio: 100, ratioGraceBytes: 1024 * 1024, maxPathBytes: 900 };
const manifest: ZipEntrySpec = { name: 'imsmanifest.xml', data: '<manifest/>' };

async function scan(entries: ZipEntrySpec[], overrides: Partial<ZipLimits> = {}) {
  const file = path.join(dir, `${Math.random().toString(36).slice(2)}.zip`);
  await fs.writeFile(file, writeZip(entries));
  const zip = await openZip(file);
  // Callers close the zip (some read entries first).
  return { zip, file, result: await scanZip(zip, { ...limits, ...overrides }) };
}

beforeAll(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-zip-')); });
afterAll(async () => { await fs.rm(dir, { recursive: true, force: true }); });

describe('zip scan', () => {
  it('a path that is both a file and a folder ("a" and "a/b") is refused', async () => {
    const { zip, result } = await scan([manifest, { name: 'a', data: 'x' }, { name: 'a/b.html', data: 'y' }]);
    zip.close();
    expect(result.findings).toContainEqual(expect.objectContaining({ severity: 'error', code: 'zip_entry_path_conflict', location: 'a' }));
  });

  it('normalizes ./ and empty segments, and folds duplicates that only differ by them', async () => {
    const { zip, result } = await scan([manifest, { name: './css//a.css', data: 'x' }, { name: 'css/a.css', data: 'y' }]);
    zip.close();
    expect(result.findings.map((f) => f.code)).toEqual(['zip_entry_duplicate']);
    expect(result.files.map((f) => f.path)).toEqual(['imsmanifest.xml', 'css/a.css']);
  });

  it('names differing only in case are kept, with a warning', async () => {
    const { zip, result } = await scan([manifest, { name: 'Index.html', data: 'x' }, { name: 'index.html', data: 'y' }]);
    zip.close();
    expect(result.findings).toEqual([expect.objectContaining({ severity: 'warning', code: 'zip_entry_case_duplicate' })]);
    expect(result.files).toHaveLength(3);
  });

  it('the entry count is judged from the end record before the directory is read', async () => {
    const { zip, result } = await scan([manifest, ...Array.from({ length: 10 }, (_, i) => ({ name: `f${i}`, data: '' }))], { maxEntries: 5 });
    zip.close();
    expect(result.findings.map((f) => f.code)).toEqual(['zip_too_many_entries']);
    expect(result.files).toEqual([]);
  });

  it('the actual inflated bytes are counted against the package budget, whatever the headers say', async () => {
    const { zip, result } = await scan([manifest, { name: 'big.bin', data: Buffer.alloc(200_000, 1), method: 8 }]);
    const entry = result.files.find((f) => f.path === 'big.bin')!;
    const budget = { remaining: 100_000 };
    const stream = await openEntry(zip, entry, budget);
    await expect((async () => { for await (const _ of stream) { /* drain */ } })()).rejects.toMatchObject({ finding: { code: 'zip_too_large_uncompressed' } });
    zip.close();
  });
});

describe('whole-entry reads (small entries: one read, one inflate)', () => {
  async function readAll(entries: ZipEntrySpec[], budget = { remaining: 1e9 }) {
    const { zip, result } = await scan([manifest, ...entries]);
    try {
      const out = new Map<string, Buffer>();
      for (const entry of result.files) out.set(entry.path, await readWholeEntry(zip, entry, budget));
      return out;
    } finally {
      zip.close();
    }
  }

  it('gives stored, deflated and empty entries byte for byte, also behind a local extra field longer than the read-ahead', async () => {
    const text = Buffer.from('lesson '.repeat(5000));
    const random = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 251));
    const out = await readAll([
      { name: 'stored.bin', data: random },
      { name: 'deflated.js', data: text, method: 8 },
      { name: 'empty.txt', data: '' },
      { name: 'stamped.css', data: text, method: 8, localExtra: Buffer.alloc(3000, 0x55) },
    ]);
    expect(out.get('stored.bin')).toEqual(random);
    expect(out.get('deflated.js')).toEqual(text);
    expect(out.get('empty.txt')).toEqual(Buffer.alloc(0));
    expect(out.get('stamped.css')).toEqual(text);
  });

  it('a deflated entry that inflates to more or fewer bytes than declared is refused', async () => {
    const data = Buffer.alloc(50_000, 7);
    await expect(readAll([{ name: 'more.bin', data, method: 8, declaredSize: 1000 }])).rejects.toMatchObject({ finding: { code: 'zip_entry_size_mismatch' } });
    await expect(readAll([{ name: 'fewer.bin', data, method: 8, declaredSize: 60_000 }])).rejects.toMatchObject({ finding: { code: 'zip_entry_size_mismatch' } });
  });

  it('counts every entry against the package budget', async () => {
    const data = Buffer.alloc(60_000, 1);
    await expect(readAll([{ name: 'a.bin', data, method: 8 }, { name: 'b.bin', data, method: 8 }], { remaining: 100_000 })).rejects.toMatchObject({ finding: { code: 'zip_too_large_uncompressed' } });
  });

  it('a local header that is not one is a corrupt entry', async () => {
    const { zip, file, result } = await scan([manifest, { name: 'page.html', data: '<p>x</p>' }]);
    const bytes = await fs.readFile(file);
    bytes.writeUInt32LE(0xdeadbeef, 0); // the manifest's local header
    await fs.writeFile(file, bytes); // same file, rewritten in place: the open zip reads the new bytes
    await expect(readWholeEntry(zip, result.files[0]!, { remaining: 1e9 })).rejects.toMatchObject({ finding: { code: 'zip_corrupt' } });
    zip.close();
  });

  it('a central directory larger than the read window is scanned whole', async () => {
    const long = `${'x'.repeat(200)}/${'y'.repeat(200)}/`; // 3,000 × ~450 bytes: a 1.3 MB directory
    const entries = Array.from({ length: 3000 }, (_, i) => ({ name: `d/${long}${i}.txt`, data: String(i) }));
    const { zip, result } = await scan([manifest, ...entries], { maxEntries: 5000 });
    zip.close();
    expect(result.findings).toEqual([]);
    expect(result.files).toHaveLength(3001);
    expect(result.files.at(-1)!.path).toBe(`d/${long}2999.txt`);
  });
});

describe('entry names', () => {
  it('Info-ZIP Unicode Path extra field (0x7075) gives the UTF-8 name when its CRC matches the header name', () => {
    const legacy = Buffer.from('r\x82sum\x82.html', 'latin1'); // CP437 é = 0x82
    const utf8 = Buffer.from('résumé.html');
    const data = Buffer.concat([Buffer.from([1]), Buffer.alloc(4), utf8]);
    data.writeUInt32LE(crc32(legacy), 1);
    expect(decodeEntryName({ fileNameRaw: legacy, generalPurposeBitFlag: 0, extraFields: [{ id: 0x7075, data }] })).toEqual({ ok: true, name: 'résumé.html', unflaggedUtf8: false });
    data.writeUInt32LE(crc32(Buffer.from('stale')), 1);
    expect(decodeEntryName({ fileNameRaw: legacy, generalPurposeBitFlag: 0, extraFields: [{ id: 0x7075, data }] })).toMatchObject({ ok: false, finding: { code: 'zip_entry_name_not_utf8' } });
  });

  it.each([
    ['../x', 'zip_entry_escapes_root'],
    ['a/../../x', 'zip_entry_escapes_root'],
    ['/etc/x', 'zip_entry_absolute_path'],
    ['C:/x', 'zip_entry_drive_letter'],
    ['c:x', 'zip_entry_drive_letter'],
    ['a\\b', 'zip_entry_backslash'],
    ['a\u0000b', 'zip_entry_name_invalid'],
    [`${'x'.repeat(256)}/a`, 'zip_entry_name_too_long'],
  ])('%j is refused with %s', (name, code) => {
    expect(normalizeEntryPath(name, 900)).toMatchObject({ ok: false, finding: { code } });
  });

  it('a folder named "..." or "a..b" is an ordinary name', () => {
    expect(normalizeEntryPath('.../a..b.html', 900)).toEqual({ ok: true, path: '.../a..b.html', directory: false });
  });
});
