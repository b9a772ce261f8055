import fs from 'node:fs/promises';
import path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { buildAll, fixturesDir, importFixtures } from '../../scripts/build-fixtures.js';
import { deflateRle, writeZip } from '../../scripts/zip-writer.js';
import { openZip, scanZip } from '../../src/scorm/packages/zip.js';

describe('fixtures/scorm', () => {
  it('are exactly what scripts/build-fixtures.ts generates (no hand edits, no drift)', async () => {
    const expected = buildAll();
    const zipsOnDisk = (await fs.readdir(fixturesDir)).filter((f) => f.endsWith('.zip')).sort();
    // Every zip here comes from the generator: none was dropped in by hand.
    expect(zipsOnDisk).toEqual([...expected.keys()].filter((f) => f.endsWith('.zip')).sort());
    for (const [name, bytes] of expected) {
      const committed = await fs.readFile(path.join(fixturesDir, name));
      expect(committed.equals(bytes), `${name} differs from its generator; run npx tsx scripts/build-fixtures.ts`).toBe(true);
    }
  });

  it('README lists every import fixture with its expected outcome', async () => {
    const readme = await fs.readFile(path.join(fixturesDir, 'README.md'), 'utf8');
    for (const f of importFixtures) expect(readme).toContain(`| \`${f.file}\` | ${f.expect === 'ready' ? 'ready' : `rejected: \`${f.expect}\``}`);
  });
});

describe('the fixture zip writer', () => {
  it('deflateRle output inflates back to the input (RFC 1951 fixed Huffman) for runs of every length', () => {
    for (let n = 0; n < 700; n++) {
      const data = Buffer.concat([Buffer.from('ab'), Buffer.alloc(n, n % 256), Buffer.from([143, 144, 255, 0])]);
      expect(inflateRawSync(deflateRle(data)).equals(data)).toBe(true);
    }
  });

  it('writes zips an independent reader (yauzl) lists with the names, sizes and modes asked for', async () => {
    const file = path.join(await fs.mkdtemp(path.join((await import('node:os')).tmpdir(), 'zipw-')), 'a.zip');
    await fs.writeFile(file, writeZip([
      { name: 'imsmanifest.xml', data: '<manifest/>' },
      { name: 'dir/b.txt', data: 'x'.repeat(5000), method: 8 },
    ]));
    const zip = await openZip(file);
    const scan = await scanZip(zip, { maxEntries: 10, maxUncompressedBytes: 1e9, maxRatio: 1000, ratioGraceBytes: 0, maxPathBytes: 900 });
    zip.close();
    expect(scan.files.map((f) => [f.path, f.uncompressedSize, f.raw.compressionMethod])).toEqual([['imsmanifest.xml', 11, 0], ['dir/b.txt', 5000, 8]]);
    expect(scan.findings).toEqual([]);
  });
});
