/**
 * A small raw zip writer for test fixtures and benchmarks. A zip library would refuse to write
 * most of what the hostile fixtures need (lying sizes, `../` names, symlink attributes, the
 * encryption flag without encryption, names in a legacy code page), and its output could change
 * between versions; this one writes exactly the bytes asked for, the same on every machine.
 *
 * Deflated entries use `deflateRle`, a deterministic fixed-Huffman encoder of literals and
 * distance-1 runs (RFC 1951 §3.2.6): zlib's output can differ between builds and CPUs, which
 * would make "regenerate and compare" fail for no reason.
 */
import { crc32 } from 'node:zlib';

export interface ZipEntrySpec {
  /** The name bytes as written (a string is written as UTF-8). */
  readonly name: string | Buffer;
  readonly data?: Buffer | string;
  /** 0 = stored (default), 8 = deflated with `deflateRle` (or `deflated` when given). */
  readonly method?: 0 | 8;
  /** Raw-deflate bytes of `data` made elsewhere (benchmarks use zlib for realistic sizes). */
  readonly deflated?: Buffer;
  /** Written in the header instead of the real method (the data is stored as is). */
  readonly fakeMethod?: number;
  /** General-purpose bit 11; default: set when the name is a string with non-ASCII characters. */
  readonly utf8Flag?: boolean;
  /** Sets general-purpose bit 0 (the data is not actually encrypted). */
  readonly encryptedFlag?: boolean;
  /** Unix mode in the external attributes (e.g. 0o120777 for a symlink); made-by host becomes Unix. */
  readonly unixMode?: number;
  /** Declared uncompressed size, when it should lie. */
  readonly declaredSize?: number;
  readonly extra?: Buffer;
  /** Extra field of the local header only (default: `extra`); tools add timestamps there. */
  readonly localExtra?: Buffer;
}

class BitWriter {
  private readonly bytes: number[] = [];
  private current = 0;
  private count = 0;

  /** `value`'s low `length` bits, least significant first (header fields and extra bits). */
  bits(value: number, length: number): void {
    for (let i = 0; i < length; i++) this.bit((value >>> i) & 1);
  }

  /** A Huffman code, most significant bit first. */
  code(value: number, length: number): void {
    for (let i = length - 1; i >= 0; i--) this.bit((value >>> i) & 1);
  }

  private bit(b: number): void {
    this.current |= b << this.count;
    if (++this.count === 8) {
      this.bytes.push(this.current);
      this.current = 0;
      this.count = 0;
    }
  }

  finish(): Buffer {
    if (this.count > 0) this.bytes.push(this.current);
    return Buffer.from(this.bytes);
  }
}

function literal(w: BitWriter, symbol: number): void {
  if (symbol < 144) w.code(0x30 + symbol, 8);
  else if (symbol < 256) w.code(0x190 + symbol - 144, 9);
  else if (symbol < 280) w.code(symbol - 256, 7);
  else w.code(0xc0 + symbol - 280, 8);
}

const lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];

function match(w: BitWriter, length: number): void {
  let i = lengthBase.length - 1;
  while (lengthBase[i]! > length) i--;
  literal(w, 257 + i);
  w.bits(length - lengthBase[i]!, lengthExtra[i]!);
  w.code(0, 5); // distance code 0 = distance 1
}

/** Raw deflate (one fixed-Huffman block): literals, and runs of one byte as distance-1 matches. */
export function deflateRle(data: Buffer): Buffer {
  const w = new BitWriter();
  w.bits(1, 1); // BFINAL
  w.bits(1, 2); // BTYPE = fixed Huffman
  let i = 0;
  while (i < data.length) {
    const byte = data[i]!;
    let run = 1;
    while (i + run < data.length && data[i + run] === byte) run++;
    literal(w, byte);
    let left = run - 1;
    while (left >= 3) {
      const n = Math.min(left, 258);
      // Never leave 1–2 bytes that cannot form a match unless they are the true end of the run.
      const take = left - n > 0 && left - n < 3 ? n - 3 : n;
      match(w, take);
      left -= take;
    }
    for (; left > 0; left--) literal(w, byte);
    i += run;
  }
  literal(w, 256);
  return w.finish();
}

// 1980-01-01 00:00:00, the DOS epoch: fixtures carry no build time.
const dosTime = 0;
const dosDate = (0 << 9) | (1 << 5) | 1;

export function writeZip(entries: readonly ZipEntrySpec[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = typeof e.name === 'string' ? Buffer.from(e.name, 'utf8') : e.name;
    const data = e.data === undefined ? Buffer.alloc(0) : typeof e.data === 'string' ? Buffer.from(e.data, 'utf8') : e.data;
    const method = e.method ?? 0;
    const packed = method === 8 ? e.deflated ?? deflateRle(data) : data;
    // Traditional PKWARE encryption puts a 12-byte header before the data; readers check for it.
    const body = e.encryptedFlag ? Buffer.concat([Buffer.alloc(12), packed]) : packed;
    const utf8 = e.utf8Flag ?? (typeof e.name === 'string' && /[^\x00-\x7f]/.test(e.name));
    const flags = (utf8 ? 0x0800 : 0) | (e.encryptedFlag ? 0x0001 : 0);
    const crc = crc32(data);
    const size = e.declaredSize ?? data.length;
    const extra = e.extra ?? Buffer.alloc(0);
    const localExtra = e.localExtra ?? extra;
    const headerMethod = e.fakeMethod ?? method;

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(headerMethod, 8);
    local.writeUInt16LE(dosTime, 10);
    local.writeUInt16LE(dosDate, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(localExtra.length, 28);
    locals.push(local, name, localExtra, body);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(e.unixMode !== undefined ? (3 << 8) | 20 : 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(headerMethod, 10);
    central.writeUInt16LE(dosTime, 12);
    central.writeUInt16LE(dosDate, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(extra.length, 30);
    central.writeUInt16LE(0, 32);
    central.writeUInt16LE(0, 34);
    central.writeUInt16LE(0, 36);
    central.writeUInt32LE(e.unixMode !== undefined ? (e.unixMode << 16) >>> 0 : 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name, extra);
    offset += 30 + name.length + localExtra.length + body.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}
