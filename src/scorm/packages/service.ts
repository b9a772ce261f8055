import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import type yauzl from 'yauzl';
import type { Config } from '../../config/index.js';
import type { Db, Queryable } from '../../db/index.js';
import { withTransaction } from '../../db/index.js';
import type { Clock } from '../../deps.js';
import type { BlobStore } from '../../storage/blob-store.js';
import type { JobDefinition } from '../../jobs/index.js';
import { AppError, isAppError } from '../../errors/index.js';
import { contentTypeFor } from '../../storage/content-types.js';
import { FindingList, parseManifest, validateAgainstFiles } from './manifest.js';
import type { ValidationFinding } from './model.js';
import * as repo from './repository.js';
import { ZipEntryError, ZipOpenError, defaultRatioGraceBytes, fitsWhole, openEntry, openZip, readEntry, readWholeEntry, scanZip, type ZipFileEntry, type ZipLimits } from './zip.js';

export const importJobName = 'scorm-package-import';

export interface ImportDeps {
  readonly db: Db;
  readonly blobs: BlobStore;
  readonly log: Logger;
  readonly clock: Clock;
  readonly config: Pick<Config, 'scorm'>;
}

/** Largest manifest read into memory; real ones are well under 1 MB. */
const maxManifestBytes = 16 * 1024 * 1024;
/** Entries extracted at once: puts overlap their disk flushes or S3 round trips. */
const extractConcurrency = 8;
/** Progress is written at most this often, so a 20,000-file package does not make 20,000 updates. */
const progressIntervalMs = 250;

export function zipLimits(config: Pick<Config, 'scorm'>): ZipLimits {
  return {
    maxEntries: config.scorm.maxEntries,
    maxUncompressedBytes: config.scorm.maxUncompressedBytes,
    maxRatio: config.scorm.maxRatio,
    ratioGraceBytes: defaultRatioGraceBytes,
    // 1024-byte keys minus `scorm/<uuid>/<uuid>/content/`.
    maxPathBytes: 1024 - 'scorm/'.length - 36 - 1 - 36 - '/content/'.length,
  };
}

export function uploadKey(tenantId: string, packageId: string): string {
  return `${repo.packagePrefix(tenantId, packageId)}upload.zip`;
}

/**
 * Where an upload handled by this node leaves its spooled zip, so the job (usually on the same
 * node) can skip downloading it again from an S3 store. Any node can still run the job. With the
 * local store the job opens the stored zip itself and nothing is spooled.
 */
export function localSpoolPath(config: Pick<Config, 'scorm'>, packageId: string): string {
  return path.join(config.scorm.tempDir, `${packageId}.upload.zip`);
}

export function reportOf(findings: readonly ValidationFinding[]): repo.ValidationReport {
  return {
    errors: findings.filter((f) => f.severity === 'error').length,
    warnings: findings.filter((f) => f.severity === 'warning').length,
    findings,
  };
}

class Progress {
  private last = 0;
  constructor(private readonly deps: ImportDeps, private readonly packageId: string) {}

  async phase(phase: repo.PackagePhase, percent = 0, progress: repo.PackageProgress = {}): Promise<void> {
    this.last = Date.now();
    await repo.updateProgress(this.deps.db, this.packageId, { phase, percent, progress }, this.deps.clock.now());
  }

  /** Throttled; never fails the import (progress is a courtesy). */
  tick(percent: number, progress: repo.PackageProgress): void {
    if (Date.now() - this.last < progressIntervalMs) return;
    this.last = Date.now();
    repo.updateProgress(this.deps.db, this.packageId, { percent, progress }, this.deps.clock.now())
      .catch((error: unknown) => this.deps.log.warn({ err: error, packageId: this.packageId }, 'progress update failed'));
  }
}

/** The pg-boss job that turns an uploaded zip into a ready (or failed) package. */
export function scormImportJob(deps: ImportDeps): JobDefinition<{ packageId: string }> {
  return {
    name: importJobName,
    // Bad packages end as `failed` without throwing; a throw means the store or database failed.
    retryLimit: 2,
    retryDelaySeconds: 15,
    expireInSeconds: 2 * 60 * 60,
    concurrency: 2,
    handle: async (data) => processPackage(deps, data.packageId),
  };
}

/**
 * Spool → scan → parse → validate → extract → ready. Every blocking problem ends the package as
 * `failed` with its report and nothing left in the store but the row. Safe to run again after
 * a crash: extraction starts from an empty prefix and the items are replaced.
 */
export async function processPackage(deps: ImportDeps, packageId: string): Promise<{ status: repo.PackageStatus; errors: number; warnings: number }> {
  const row = await repo.findPackageById(deps.db, packageId);
  if (!row || row.status !== 'processing' || !row.upload_blob_key) return { status: row?.status ?? 'failed', errors: 0, warnings: 0 };
  const progress = new Progress(deps, packageId);
  // Where the time went, in the completion log line: operators size workers and disks by it.
  const timings: Record<string, number> = {};
  let mark = Date.now();
  const lap = (name: string) => {
    timings[name] = Date.now() - mark;
    mark = Date.now();
  };
  const findings = new FindingList();
  const log = deps.log.child({ packageId });
  await fs.mkdir(deps.config.scorm.tempDir, { recursive: true });
  const spooled = localSpoolPath(deps.config, packageId);
  // Files this run must remove: the spool and any download, never the blob store's own file.
  const temporary = [spooled];
  let zip: yauzl.ZipFile | undefined;

  const fail = async (): Promise<{ status: 'failed'; errors: number; warnings: number }> => {
    await deps.blobs.deletePrefix(repo.contentPrefix(row.tenant_id, packageId));
    // A rejected upload keeps nothing; an import from the caller's own object leaves it alone.
    if (row.source === 'upload') await deps.blobs.delete(row.upload_blob_key!);
    const report = reportOf(findings.list());
    await repo.updatePackage(deps.db, packageId, { status: 'failed', phase: 'failed', percent: 100, report, processed_at: deps.clock.now(), ...(row.source === 'upload' ? { upload_blob_key: null } : {}) }, deps.clock.now());
    log.info({ errors: report.errors, warnings: report.warnings }, 'package rejected');
    return { status: 'failed', errors: report.errors, warnings: report.warnings };
  };

  try {
    // Where the zip is on this node's disk: the local store's own file, the upload's spool, or a
    // download of the object (S3, or an upload spooled on another node).
    const inStore = deps.blobs.localPath?.(row.upload_blob_key);
    let file = inStore && (await fs.stat(inStore).catch(() => undefined)) ? inStore : spooled;
    if (!(await fs.stat(file).catch(() => undefined))) {
      file = path.join(deps.config.scorm.tempDir, `${packageId}-${randomUUID()}.zip`);
      temporary.push(file);
      const blob = await deps.blobs.get(row.upload_blob_key).catch((error: unknown) => {
        if (isAppError(error) && error.code === 'not_found') return undefined;
        throw error;
      });
      if (!blob) {
        findings.add({ severity: 'error', code: 'upload_missing', message: `The uploaded zip (${row.upload_blob_key}) is no longer in the blob store.` });
        return await fail();
      }
      await pipeline(blob.body, createWriteStream(file));
    }

    lap('spool_ms');
    await progress.phase('parsing');
    try {
      zip = await openZip(file);
    } catch (error) {
      if (!(error instanceof ZipOpenError)) throw error;
      findings.add({ severity: 'error', code: 'zip_corrupt', message: `The upload is not a readable zip file (${error.message}).` });
      return await fail();
    }
    let scan;
    try {
      scan = await scanZip(zip, zipLimits(deps.config));
    } catch (error) {
      if (!(error instanceof ZipOpenError)) throw error;
      findings.add({ severity: 'error', code: 'zip_corrupt', message: `The zip's central directory is damaged (${error.message}).` });
      return await fail();
    }
    findings.addAll(scan.findings);
    lap('scan_ms');
    let model;
    if (scan.manifest) {
      let bytes: Buffer | undefined;
      try {
        bytes = await readEntry(zip, scan.manifest, maxManifestBytes);
      } catch (error) {
        if (!(error instanceof ZipEntryError)) throw error;
        findings.add(error.finding);
      }
      if (bytes) {
        const parsed = await parseManifest(bytes);
        findings.addAll(parsed.findings.list());
        model = parsed.model;
      }
    }
    await progress.phase('validating');
    if (model) validateAgainstFiles(model, new Set(scan.files.map((f) => f.path)), findings);
    lap('manifest_ms');
    if (findings.hasErrors() || !model) return await fail();

    await progress.phase('extracting', 0, { files_done: 0, files_total: scan.files.length, bytes_done: 0, bytes_total: scan.totalUncompressed });
    const prefix = repo.contentPrefix(row.tenant_id, packageId);
    await deps.blobs.deletePrefix(prefix);
    try {
      await extractAll(deps, zip, scan.files, prefix, scan.totalUncompressed, progress);
    } catch (error) {
      if (!(error instanceof ZipEntryError)) {
        await deps.blobs.deletePrefix(prefix).catch(() => undefined);
        throw error;
      }
      findings.add(error.finding);
      return await fail();
    }

    lap('extract_ms');
    // One flush for every extracted file, before the row says `ready` (decision 0046).
    await deps.blobs.sync();
    lap('sync_ms');
    const report = reportOf(findings.list());
    await withTransaction(deps.db, async (tx) => {
      await repo.replaceItems(tx, row.tenant_id, packageId, model);
      await repo.updatePackage(tx, packageId, {
        status: 'ready', phase: 'ready', percent: 100, progress: { files_done: scan.files.length, files_total: scan.files.length, bytes_done: scan.totalUncompressed, bytes_total: scan.totalUncompressed },
        title: model.title || row.title, scorm_version: model.version, manifest_identifier: model.identifier || null, model, report,
        file_count: scan.files.length, byte_size: String(scan.totalUncompressed), processed_at: deps.clock.now(),
      }, deps.clock.now());
    });
    lap('commit_ms');
    log.info({ files: scan.files.length, bytes: scan.totalUncompressed, warnings: report.warnings, ...timings }, 'package ready');
    return { status: 'ready', errors: 0, warnings: report.warnings };
  } finally {
    zip?.close();
    await Promise.all(temporary.map((f) => fs.rm(f, { force: true })));
  }
}

async function extractAll(deps: ImportDeps, zip: yauzl.ZipFile, files: readonly ZipFileEntry[], prefix: string, totalBytes: number, progress: Progress): Promise<void> {
  const budget = { remaining: deps.config.scorm.maxUncompressedBytes };
  let next = 0;
  let filesDone = 0;
  let bytesDone = 0;
  let failed: unknown;
  const worker = async () => {
    while (failed === undefined && next < files.length) {
      const entry = files[next++]!;
      try {
        const body = fitsWhole(entry) ? await readWholeEntry(zip, entry, budget) : await openEntry(zip, entry, budget);
        // Fresh keys: the prefix was emptied above and the scan refused duplicate names.
        await deps.blobs.put(prefix + entry.path, body, { contentType: contentTypeFor(entry.path), contentLength: entry.uncompressedSize, durable: false, fresh: true });
      } catch (error) {
        // The blob store reports a stream error as its own; the zip's finding is the real cause.
        const cause = findZipError(error);
        failed ??= cause ?? error;
        return;
      }
      filesDone++;
      bytesDone += entry.uncompressedSize;
      progress.tick(totalBytes > 0 ? (bytesDone / totalBytes) * 100 : (filesDone / files.length) * 100, { files_done: filesDone, files_total: files.length, bytes_done: bytesDone, bytes_total: totalBytes });
    }
  };
  await Promise.all(Array.from({ length: Math.min(extractConcurrency, Math.max(files.length, 1)) }, worker));
  if (failed !== undefined) throw failed;
}

function findZipError(error: unknown): ZipEntryError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth++) {
    if (current instanceof ZipEntryError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

// Requests ---------------------------------------------------------------------------------------

/** A lineage the caller may add a version to: any package of the tenant names its lineage. */
export async function resolveLineage(db: Queryable, tenantId: string, packageId: string | undefined): Promise<string | undefined> {
  if (packageId === undefined) return undefined;
  const row = await repo.findPackage(db, tenantId, packageId);
  if (!row) throw new AppError('validation_failed', 'lineage names no package of this tenant.', { errors: [{ pointer: '/query/lineage', message: 'is not a package of this tenant' }] });
  return row.lineage_id;
}
