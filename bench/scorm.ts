/**
 * bench:scorm — the two SCORM figures of issue 4, measured against a real Cairn process on a
 * real PostgreSQL with the local-disk blob store:
 *
 *   1. Import (package half): a generated ~100 MB package of 2,000 files, uploaded through
 *      POST /api/v1/packages and processed by the job until `ready`, beside plain `unzip` of
 *      the same file in the same run. Target: import ≤ 2 × unzip.
 *   2. Runtime commits (runtime half): ~2 KB CMI commits at concurrency 32 → commits/s, p95.
 *
 *   npm run bench:scorm              full: import measured 3 times (median), commits 10 s
 *   npm run bench:scorm -- --quick   one import, short commit run (under a minute)
 *
 * The last line printed is the JSON summary:
 * {"import_s":…,"unzip_s":…,"import_ratio":…,"commits_per_s":…,"commit_p95_ms":…}
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import pg from 'pg';
import { writeZip, type ZipEntrySpec } from '../scripts/zip-writer.js';
import { benchDatabase, cairnCommand, freePort, machine, quick, startServer, type ChildServer } from './support/harness.js';
import { commitBench } from './scorm-commits.js';

const adminEmail = 'bench@cairn.local';
const adminPassword = 'benchmark-password-123';

/** What both parts share: one running Cairn and an admin session. */
export interface BenchContext {
  readonly cairn: ChildServer;
  readonly base: string;
  readonly databaseUrl: string;
  readonly dataDir: string;
  /** Headers of the admin's console session (cookie, origin, JSON). */
  readonly session: Record<string, string>;
  readonly workDir: string;
}

// ── Part 1: import (SCORM package import) ─────────────────────────────────────────────────────

/**
 * A package shaped like real ones: mostly media that does not compress (stored, as packaging
 * tools store already-compressed files), plus many small HTML/JS/CSS/JSON files, deflated.
 */
function generatePackage(): { zip: Buffer; files: number; bytes: number } {
  const entries: ZipEntrySpec[] = [];
  const sco = (n: number) => `sco${String(n).padStart(3, '0')}`;
  const scos = 100;
  const items = Array.from({ length: scos }, (_, i) => `<item identifier="I${i}" identifierref="R${i}"><title>Lesson ${i + 1}</title></item>`).join('');
  const resources = Array.from({ length: scos }, (_, i) => `<resource identifier="R${i}" type="webcontent" adlcp:scormType="sco" href="${sco(i)}/index.html"><file href="${sco(i)}/index.html"/></resource>`).join('');
  entries.push({
    name: 'imsmanifest.xml',
    data: `<?xml version="1.0" encoding="UTF-8"?><manifest identifier="bench" xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3"><metadata><schema>ADL SCORM</schema><schemaversion>2004 4th Edition</schemaversion></metadata><organizations default="O"><organization identifier="O"><title>Benchmark course</title>${items}</organization></organizations><resources>${resources}<resource identifier="ASSETS" type="webcontent" adlcp:scormType="asset"><file href="shared/app.js"/></resource></resources></manifest>`,
  });
  const text = (seed: number, size: number) => {
    const words = ['function', 'return', 'var', 'lesson', 'scorm', 'const', 'value', 'learner', 'score', 'interaction', 'div', 'class', 'span'];
    let out = `/* file ${seed} */\n`;
    let i = seed;
    while (out.length < size) out += `${words[i++ % words.length]} ${words[(i * 7) % words.length]}_${i % 997} = ${i % 113};\n`;
    return Buffer.from(out.slice(0, size));
  };
  let files = 1;
  for (let i = 0; i < scos && files < 2000; i++) {
    for (const [name, size] of [['index.html', 12_000], ['lesson.js', 20_000], ['style.css', 6_000], ['data.json', 8_000]] as const) {
      const data = text(files, size);
      entries.push({ name: `${sco(i)}/${name}`, data, method: 8, deflated: deflateRawSync(data) });
      files++;
    }
  }
  // Media fills the rest: 2,000 files and ~100 MB in all.
  const media = 2000 - files;
  const mediaSize = Math.floor((100 * 1024 * 1024 - 6 * 1024 * 1024) / media);
  for (let i = 0; i < media; i++) {
    entries.push({ name: `media/clip${String(i).padStart(4, '0')}.${i % 3 === 0 ? 'mp4' : i % 3 === 1 ? 'jpg' : 'mp3'}`, data: randomBytes(mediaSize) });
    files++;
  }
  const zip = writeZip(entries);
  return { zip, files, bytes: entries.reduce((n, e) => n + (e.data ? Buffer.byteLength(e.data) : 0), 0) };
}

function time(command: string, args: string[]): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr?.toString()}`);
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** Plain unzip of the same file to the same disk; Debian's unzip, else Python's zipfile (said so). */
function baseline(zipFile: string, workDir: string): { seconds: number; tool: string } {
  let tool = 'unzip';
  if (spawnSync('unzip', ['-v'], { stdio: 'ignore' }).status !== 0 && process.getuid?.() === 0) {
    spawnSync('apt-get', ['install', '-y', '-q', 'unzip'], { stdio: 'ignore' });
  }
  const out = path.join(workDir, `unzipped-${randomBytes(3).toString('hex')}`);
  let seconds: number;
  if (spawnSync('unzip', ['-v'], { stdio: 'ignore' }).status === 0) {
    seconds = time('unzip', ['-q', '-o', zipFile, '-d', out]);
  } else {
    tool = 'python3 -m zipfile -e (unzip not installed)';
    seconds = time('python3', ['-m', 'zipfile', '-e', zipFile, out]);
  }
  spawnSync('rm', ['-rf', out]);
  return { seconds, tool };
}

interface ImportTiming { readonly total: number; readonly upload: number; readonly processing: number; readonly queueWait: number }

/**
 * One import: the upload request (streamed from disk) plus the job's processing time as pg-boss
 * recorded it (started → completed). The wait for a worker to pick the job up (pg-boss polls
 * every second) is reported apart: it is queue latency, not import work.
 */
async function importOnce(ctx: BenchContext, zipFile: string, size: number): Promise<ImportTiming> {
  const started = process.hrtime.bigint();
  // node:http with the file piped in 1 MB reads, as curl -T would send it: fetch's web-stream
  // body costs the client ~0.3 s more per 100 MB here, which is not Cairn's time.
  const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(`${ctx.base}/api/v1/packages?filename=bench.zip`, {
      method: 'POST',
      headers: { ...ctx.session, 'content-type': 'application/zip', 'content-length': String(size) },
    }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', reject);
    });
    req.on('error', reject);
    createReadStream(zipFile, { highWaterMark: 1024 * 1024 }).pipe(req);
  });
  const uploaded = process.hrtime.bigint();
  const accepted = JSON.parse(res.body) as { id: string; status_url: string };
  if (res.status !== 202) throw new Error(`upload failed: ${res.status} ${res.body}`);
  for (;;) {
    const status = (await (await fetch(`${ctx.base}${accepted.status_url}`, { headers: ctx.session })).json()) as { status: string };
    if (status.status === 'ready') break;
    if (status.status === 'failed') {
      const report = await (await fetch(`${ctx.base}/api/v1/packages/${accepted.id}/report`, { headers: ctx.session })).json();
      throw new Error(`import failed: ${JSON.stringify(report)}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  const done = process.hrtime.bigint();
  const db = new pg.Client({ connectionString: ctx.databaseUrl });
  await db.connect();
  const job = (await db.query<{ created_on: Date; started_on: Date; completed_on: Date | null }>(
    'select j.created_on, j.started_on, j.completed_on from pgboss.job j join scorm_packages p on p.job_id = j.id::text where p.id = $1',
    [accepted.id],
  )).rows[0];
  const row = (await db.query<{ processed_at: Date }>('select processed_at from scorm_packages where id = $1', [accepted.id])).rows[0];
  await db.end();
  if (!job || !row) throw new Error('job or package row not found');
  const upload = Number(uploaded - started) / 1e9;
  // processed_at is written by the job as its last step; completed_on may lag (archiving).
  const processing = (row.processed_at.getTime() - job.started_on.getTime()) / 1000;
  const total = Number(done - started) / 1e9;
  return { total, upload, processing, queueWait: Math.max(0, total - upload - processing) };
}

async function importBench(ctx: BenchContext): Promise<{ import_s: number; unzip_s: number; import_ratio: number }> {
  const generated = generatePackage();
  const zipFile = path.join(ctx.workDir, 'bench-package.zip');
  await fs.writeFile(zipFile, generated.zip);
  console.log(`package: ${generated.files} files, ${(generated.bytes / 1e6).toFixed(1)} MB inflated, ${(generated.zip.length / 1e6).toFixed(1)} MB zipped`);
  const runs = quick ? 1 : 3;
  const imports: ImportTiming[] = [];
  const unzips: number[] = [];
  let tool = '';
  await importOnce(ctx, zipFile, generated.zip.length); // warm-up: JIT, page cache, pool
  for (let i = 0; i < runs; i++) {
    const b = baseline(zipFile, ctx.workDir);
    tool = b.tool;
    unzips.push(b.seconds);
    imports.push(await importOnce(ctx, zipFile, generated.zip.length));
  }
  const median = <T>(xs: T[], key: (x: T) => number) => xs.map(key).sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const importS = median(imports, (x) => x.upload + x.processing);
  const unzipS = median(unzips, (x) => x);
  for (const [i, run] of imports.entries()) {
    console.log(`import ${i + 1}: upload ${run.upload.toFixed(2)} s + processing ${run.processing.toFixed(2)} s = ${(run.upload + run.processing).toFixed(2)} s (end to end ${run.total.toFixed(2)} s incl. ${run.queueWait.toFixed(2)} s waiting for a worker to poll); ${tool}: ${unzips[i]!.toFixed(2)} s`);
  }
  const ratio = Math.round((importS / unzipS) * 100) / 100;
  const phases = ctx.cairn.output().split('\n').filter((l) => l.includes('"package ready"')).pop();
  if (phases) {
    const t = JSON.parse(phases) as Record<string, number>;
    console.log(`last import's job phases (ms): spool ${t['spool_ms']}, scan ${t['scan_ms']}, manifest ${t['manifest_ms']}, extract ${t['extract_ms']}, sync ${t['sync_ms']}, commit ${t['commit_ms']}`);
  }
  console.log(`import ${importS.toFixed(2)} s vs ${tool} ${unzipS.toFixed(2)} s → ${ratio}× (target ≤ 2×)`);
  return { import_s: Math.round(importS * 1000) / 1000, unzip_s: Math.round(unzipS * 1000) / 1000, import_ratio: ratio };
}

// ── Part 2: runtime commits (SCORM runtime) ───────────────────────────────────────────────────
// Written by the runtime half in bench/scorm-commits.ts: ~2 KB CMI commits at concurrency 32
// against the content origin's commit endpoint → commits/s and p95 in ms.

// ── Driver ─────────────────────────────────────────────────────────────────────────────────────

async function main(): Promise<void> {
  console.log(`bench:scorm on ${machine()}${quick ? ' (quick)' : ''}`);
  const server = cairnCommand();
  const db = await benchDatabase();
  console.log(`database: ${db.label}`);
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-bench-scorm-'));
  const dataDir = path.join(workDir, 'data');
  const port = await freePort();
  const cairn = await startServer(server.command, server.args, {
    DATABASE_URL: db.url,
    CAIRN_SECRET_KEY: randomBytes(32).toString('base64url'),
    CAIRN_PORT: String(port),
    CAIRN_CONTENT_PORT: String(await freePort()),
    CAIRN_PUBLIC_URL: `http://localhost:${port}`,
    CAIRN_DATA_DIR: dataDir,
    CAIRN_ADMIN_EMAIL: adminEmail,
    CAIRN_ADMIN_PASSWORD: adminPassword,
    CAIRN_RATE_LIMIT_API_PER_MINUTE: '1000000000',
    // info: the job's completion line carries its phase timings (a few hundred request lines too).
    CAIRN_LOG_LEVEL: 'info',
  }, port, '/readyz');
  let summary: Record<string, number | null> = { import_s: null, unzip_s: null, import_ratio: null, commits_per_s: null, commit_p95_ms: null };
  try {
    const login = await fetch(`${cairn.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: adminEmail, password: adminPassword }) });
    const cookie = login.headers.get('set-cookie')?.split(';')[0];
    if (!login.ok || !cookie) throw new Error(`login failed: ${login.status}`);
    const ctx: BenchContext = { cairn, base: cairn.url, databaseUrl: db.url, dataDir, session: { cookie, origin: `http://localhost:${port}` }, workDir };
    summary = { ...summary, ...(await importBench(ctx)) };
    summary = { ...summary, ...(await commitBench(ctx)) };
  } finally {
    await cairn.stop();
    await db.drop();
    await fs.rm(workDir, { recursive: true, force: true });
  }
  console.log(JSON.stringify(summary));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
