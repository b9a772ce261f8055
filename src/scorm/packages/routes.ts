import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { finished } from 'node:stream/promises';
import { Type } from 'typebox';
import { defineEndpoint, type AnyEndpoint, type HandlerContext } from '../../http/endpoint.js';
import { Uuid } from '../../http/schemas.js';
import { paginationQuery, pageSchema } from '../../db/pagination.js';
import { AppError, notFound } from '../../errors/index.js';
import type { AppDeps } from '../../deps.js';
import type { Principal } from '../../auth/principal.js';
import * as repo from './repository.js';
import { importJobName, localSpoolPath, reportOf, resolveLineage, uploadKey } from './service.js';
import { limitBytes, openUpload, payloadTooLarge } from './upload.js';
import { Accepted, PackageDetail, PackageStatusSchema, PackageStatusView, PackageSummary, ValidationReportView, detailView, statusView, summaryView } from './schemas.js';

const PackageParams = Type.Object({ packageId: Uuid() });
const tags = ['SCORM packages'];
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Spool files older than this were left by uploads whose job ran on another node. */
const staleSpoolMs = 24 * 60 * 60 * 1000;

async function findOr404(deps: AppDeps, principal: Principal, id: string): Promise<repo.PackageRow> {
  const row = await repo.findPackage(deps.db, principal.tenantId, id);
  if (!row) throw notFound('Package');
  return row;
}

function accepted(row: repo.PackageRow) {
  return {
    id: row.id, lineage_id: row.lineage_id, version: row.version, status: row.status, phase: row.phase,
    status_url: `/api/v1/packages/${row.id}/status`, report_url: `/api/v1/packages/${row.id}/report`,
  };
}

async function enqueue(deps: AppDeps, row: repo.PackageRow): Promise<repo.PackageRow> {
  const jobId = await deps.jobs!.send(importJobName, { packageId: row.id });
  await repo.updatePackage(deps.db, row.id, { job_id: jobId }, deps.clock.now());
  return { ...row, job_id: jobId };
}

async function sweepSpool(dir: string): Promise<void> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const now = Date.now();
  for (const name of names) {
    const file = path.join(dir, name);
    const stat = await fs.stat(file).catch(() => undefined);
    if (stat && now - stat.mtimeMs > staleSpoolMs) await fs.rm(file, { force: true });
  }
}

/**
 * The upload itself: the body streams through a byte limit into the blob store and, when this
 * node runs import jobs, into a local spool file the job can open without downloading it again.
 * Nothing is buffered. If anything fails, the row, the blob and the spool file are removed.
 */
async function handleUpload(ctx: HandlerContext<Record<string, never>, { lineage?: string; filename?: string }, Record<string, never>>) {
  const { deps, principal, query, req, res } = ctx;
  if (!deps.jobs) throw new AppError('service_unavailable', 'This Cairn process runs no job queue, so it cannot import packages.');
  const limit = deps.config.scorm.maxUploadBytes;
  let upload;
  try {
    upload = await openUpload(req, limit);
  } catch (error) {
    res.setHeader('Connection', 'close');
    throw error;
  }
  const id = randomUUID();
  const key = uploadKey(principal.tenantId, id);
  const spool = deps.config.jobsEnabled && !deps.blobs.localPath ? localSpoolPath(deps.config, id) : undefined;
  let row: repo.PackageRow | undefined;
  try {
    const lineageText = query.lineage ?? upload.fieldsBeforeFile['lineage'];
    if (lineageText !== undefined && !uuidPattern.test(lineageText)) {
      throw new AppError('validation_failed', 'lineage must be a package id.', { errors: [{ pointer: '/query/lineage', message: 'must be a uuid' }] });
    }
    const lineageId = await resolveLineage(deps.db, principal.tenantId, lineageText);
    const filename = (query.filename ?? upload.filename ?? upload.fieldsBeforeFile['filename'])?.slice(0, 255);
    row = await repo.insertPackage(deps.db, {
      id, tenantId: principal.tenantId, lineageId, title: filename?.replace(/\.zip$/i, '') || 'Untitled package', source: 'upload', phase: 'uploading',
      uploadBlobKey: key, originalFilename: filename ?? null, createdBy: principal.userId, now: deps.clock.now(),
    });

    const declared = Number(req.headers['content-length']);
    let lastTick = 0;
    const counter = limitBytes(limit, (bytes) => {
      if (!Number.isFinite(declared) || declared <= 0 || Date.now() - lastTick < 250) return;
      lastTick = Date.now();
      repo.updateProgress(deps.db, id, { percent: (bytes / declared) * 100, progress: { bytes_done: bytes, bytes_total: declared } }, deps.clock.now()).catch(() => undefined);
    });
    const toBlob = new PassThrough();
    upload.stream.on('error', (error) => counter.destroy(error));
    counter.on('error', (error) => {
      toBlob.destroy(error);
      spoolStream?.destroy(error);
    });
    let spoolStream: ReturnType<typeof createWriteStream> | undefined;
    if (spool) {
      await fs.mkdir(deps.config.scorm.tempDir, { recursive: true });
      void sweepSpool(deps.config.scorm.tempDir);
      spoolStream = createWriteStream(spool);
      counter.pipe(spoolStream);
    }
    counter.pipe(toBlob);
    upload.stream.pipe(counter);
    const [stored] = await Promise.all([
      deps.blobs.put(key, toBlob, { contentType: 'application/zip' }),
      spoolStream ? finished(spoolStream) : Promise.resolve(),
    ]);
    const fields = await upload.fields;
    if (fields['lineage'] !== undefined && upload.fieldsBeforeFile['lineage'] === undefined) {
      throw new AppError('validation_failed', 'Send the lineage field before the file part (or as ?lineage=).', { errors: [{ pointer: '/body/lineage', message: 'must precede the file part' }] });
    }
    if (stored.size === 0) throw new AppError('validation_failed', 'The upload is empty.', { errors: [{ pointer: '/body/file', message: 'is empty' }] });
    await repo.updatePackage(deps.db, id, { phase: 'queued', percent: 0, progress: {}, upload_size: String(stored.size) }, deps.clock.now());
    row = await enqueue(deps, { ...row, phase: 'queued', upload_size: String(stored.size) });
  } catch (error) {
    res.setHeader('Connection', 'close');
    req.unpipe();
    req.resume();
    if (row) await repo.deletePackageRow(deps.db, principal.tenantId, id).catch(() => undefined);
    await deps.blobs.delete(key).catch(() => undefined);
    if (spool) await fs.rm(spool, { force: true });
    throw error;
  }
  ctx.audit({ action: 'package.upload', targetType: 'scorm_package', targetId: id, details: { lineage_id: row.lineage_id, version: row.version, filename: row.original_filename, size: Number(row.upload_size) } });
  ctx.reply.status(202);
  ctx.reply.header('Location', `/api/v1/packages/${id}`);
  return accepted(row);
}

export const packageEndpoints: AnyEndpoint[] = [
  defineEndpoint({
    method: 'post', path: '/packages', operationId: 'uploadPackage', tags,
    summary: 'Upload a SCORM package',
    description: 'The zip as multipart/form-data (field `file`; an optional `lineage` field before it) or as the raw body (`Content-Type: application/zip`). '
      + 'Streams to storage (limit CAIRN_SCORM_MAX_UPLOAD → 413) and answers 202; a background job then checks, parses and extracts the package — poll `status_url`. '
      + 'With `lineage` (any version\'s id) the upload becomes the next version of that package; registrations keep the version they started with.',
    auth: { scope: 'packages:write', roles: ['admin', 'instructor'] },
    query: Type.Object({
      lineage: Type.Optional(Uuid('Add a new version to the package with this id')),
      filename: Type.Optional(Type.String({ maxLength: 255, description: 'Original file name, for raw uploads' })),
    }, { additionalProperties: false }),
    requestContent: {
      'multipart/form-data': {
        schema: Type.Object({
          lineage: Type.Optional(Uuid('Add a new version to the package with this id (must come before the file part)')),
          file: Type.String({ contentMediaType: 'application/zip', description: 'The package zip' }),
        }, { required: ['file'] }),
      },
      'application/zip': { schema: Type.String({ contentMediaType: 'application/zip', description: 'The package zip as the whole body' }) },
    },
    transactional: false,
    status: 202,
    responses: { 202: { description: 'Accepted; processing', schema: Accepted }, 413: { description: 'Larger than CAIRN_SCORM_MAX_UPLOAD' } },
    handler: (ctx) => handleUpload(ctx as never),
  }),

  defineEndpoint({
    method: 'post', path: '/packages/import', operationId: 'importPackage', tags,
    summary: 'Import a package zip already in the blob store',
    description: 'For zips too large to send through HTTP: put the object in the blob store (tenant admins and instructors under `imports/<tenant id>/`; system administrators anywhere outside `scorm/`), then import it. The object is read, never moved or deleted.',
    auth: { scope: 'packages:write', roles: ['admin', 'instructor'] },
    body: Type.Object({
      blob_key: Type.String({ minLength: 1, maxLength: 1024 }),
      lineage: Type.Optional(Uuid()),
      title: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })),
    }, { additionalProperties: false }),
    transactional: false,
    status: 202,
    responses: { 202: { description: 'Accepted; processing', schema: Accepted } },
    async handler({ deps, principal, body, audit, reply }) {
      if (!deps.jobs) throw new AppError('service_unavailable', 'This Cairn process runs no job queue, so it cannot import packages.');
      const allowedPrefix = `imports/${principal.tenantId}/`;
      const allowed = principal.isSystemAdmin ? !body.blob_key.startsWith('scorm/') : body.blob_key.startsWith(allowedPrefix);
      if (!allowed) {
        throw new AppError('forbidden', principal.isSystemAdmin
          ? 'Objects under scorm/ belong to imported packages and cannot be imported again.'
          : `Only objects under ${allowedPrefix} can be imported by this tenant.`);
      }
      let head;
      try {
        head = await deps.blobs.head(body.blob_key);
      } catch (error) {
        if (error instanceof AppError && error.code === 'bad_request') throw new AppError('validation_failed', error.message, { errors: [{ pointer: '/body/blob_key', message: 'is not a valid key' }] });
        throw error;
      }
      if (!head) throw new AppError('validation_failed', 'No object with this key in the blob store.', { errors: [{ pointer: '/body/blob_key', message: 'does not exist' }] });
      if (head.size > deps.config.scorm.maxUploadBytes) throw payloadTooLarge(deps.config.scorm.maxUploadBytes);
      const lineageId = await resolveLineage(deps.db, principal.tenantId, body.lineage);
      const id = randomUUID();
      const filename = body.blob_key.split('/').pop() ?? null;
      let row = await repo.insertPackage(deps.db, {
        id, tenantId: principal.tenantId, lineageId, title: body.title ?? filename?.replace(/\.zip$/i, '') ?? 'Untitled package', source: 'blob', phase: 'queued',
        uploadBlobKey: body.blob_key, originalFilename: filename, createdBy: principal.userId, now: deps.clock.now(),
      });
      await repo.updatePackage(deps.db, id, { upload_size: String(head.size) }, deps.clock.now());
      try {
        row = await enqueue(deps, row);
      } catch (error) {
        await repo.deletePackageRow(deps.db, principal.tenantId, id);
        throw error;
      }
      audit({ action: 'package.import', targetType: 'scorm_package', targetId: id, details: { blob_key: body.blob_key, lineage_id: row.lineage_id, version: row.version, size: head.size } });
      reply.status(202);
      reply.header('Location', `/api/v1/packages/${id}`);
      return accepted(row);
    },
  }),

  defineEndpoint({
    method: 'get', path: '/packages', operationId: 'listPackages', tags,
    summary: 'List SCORM packages',
    description: 'The newest version of each package, newest first; `all_versions=true` lists every version.',
    auth: { scope: 'packages:read', roles: ['admin', 'instructor'] },
    query: Type.Object({
      ...paginationQuery,
      status: Type.Optional(PackageStatusSchema),
      q: Type.Optional(Type.String({ maxLength: 200, description: 'Substring of the title' })),
      all_versions: Type.Optional(Type.Boolean({ default: false })),
    }, { additionalProperties: false }),
    responses: { 200: { description: 'A page of packages', schema: pageSchema(PackageSummary) } },
    async handler({ deps, principal, query }) {
      const page = await repo.listPackages(deps.db, {
        tenantId: principal.tenantId, allVersions: query.all_versions ?? false, status: query.status, q: query.q, limit: query.limit ?? 50, cursor: query.cursor,
      });
      return { data: page.rows.map(summaryView), next_cursor: page.nextCursor };
    },
  }),

  defineEndpoint({
    method: 'get', path: '/packages/:packageId', operationId: 'getPackage', tags,
    summary: 'Get a package version with its lineage\'s versions and parsed manifest',
    auth: { scope: 'packages:read', roles: ['admin', 'instructor'] },
    params: PackageParams,
    responses: { 200: { description: 'The package', schema: PackageDetail } },
    async handler({ deps, principal, params }) {
      const row = await refreshed(deps, await findOr404(deps, principal, params.packageId));
      return detailView(row, await repo.listVersions(deps.db, principal.tenantId, row.lineage_id));
    },
  }),

  defineEndpoint({
    method: 'get', path: '/packages/:packageId/status', operationId: 'getPackageStatus', tags,
    summary: 'Processing phase and progress of a package',
    auth: { scope: 'packages:read', roles: ['admin', 'instructor'] },
    params: PackageParams,
    responses: { 200: { description: 'Status', schema: PackageStatusView } },
    async handler({ deps, principal, params }) {
      return statusView(await refreshed(deps, await findOr404(deps, principal, params.packageId)));
    },
  }),

  defineEndpoint({
    method: 'get', path: '/packages/:packageId/report', operationId: 'getPackageReport', tags,
    summary: 'Validation report of a package',
    description: 'Errors blocked the import; warnings did not. Empty while the package is still processing.',
    auth: { scope: 'packages:read', roles: ['admin', 'instructor'] },
    params: PackageParams,
    responses: { 200: { description: 'The report', schema: ValidationReportView } },
    async handler({ deps, principal, params }) {
      const row = await refreshed(deps, await findOr404(deps, principal, params.packageId));
      const report = row.report ?? reportOf([]);
      return { package_id: row.id, status: row.status, errors: report.errors, warnings: report.warnings, findings: report.findings };
    },
  }),

  defineEndpoint({
    method: 'delete', path: '/packages/:packageId', operationId: 'deletePackage', tags,
    summary: 'Delete a package version and its files',
    description: '409 while registrations use this version, while it is processing, or when it is the last version of a package that course items launch.',
    auth: { scope: 'packages:write', roles: ['admin', 'instructor'] },
    params: PackageParams,
    transactional: false,
    responses: { 204: { description: 'Deleted' } },
    async handler({ deps, principal, params, audit }) {
      const row = await findOr404(deps, principal, params.packageId);
      if (row.status === 'processing') throw new AppError('conflict', 'The package is still being processed; delete it once it is ready or failed.');
      const registrations = await repo.countRegistrations(deps.db, row.id);
      if (registrations > 0) throw new AppError('conflict', `${registrations} registration(s) use this version; it cannot be deleted while learners may resume it.`, { extensions: { registrations } });
      const versions = await repo.listVersions(deps.db, principal.tenantId, row.lineage_id);
      if (versions.every((v) => v.id === row.id || v.status !== 'ready') && row.status === 'ready') {
        const items = await repo.countCourseItems(deps.db, principal.tenantId, row.lineage_id);
        if (items > 0) throw new AppError('conflict', `${items} course item(s) launch this package and no other ready version would remain; remove them first.`, { extensions: { course_items: items } });
      }
      await repo.deletePackageRow(deps.db, principal.tenantId, row.id);
      // After the row: a failure here leaves unreachable files (logged), never a row without files.
      await deps.blobs.deletePrefix(repo.packagePrefix(principal.tenantId, row.id)).catch((error: unknown) => deps.log.warn({ err: error, packageId: row.id }, 'package files not deleted'));
      audit({ action: 'package.delete', targetType: 'scorm_package', targetId: row.id, details: { lineage_id: row.lineage_id, version: row.version, title: row.title } });
      return undefined;
    },
  }),
];

/**
 * A package still `processing` whose job pg-boss has given up on (retries exhausted) will never
 * finish: record it as failed so clients stop polling.
 */
async function refreshed(deps: AppDeps, row: repo.PackageRow): Promise<repo.PackageRow> {
  if (row.status !== 'processing' || !row.job_id || !deps.jobs) return row;
  const job = await deps.jobs.get(importJobName, row.job_id).catch(() => null);
  if (!job || (job.state !== 'failed' && job.state !== 'cancelled')) return row;
  const report = reportOf([{ severity: 'error', code: 'processing_failed', message: 'Processing failed repeatedly (storage or database errors; see the server log). Upload the package again.' }]);
  await repo.updatePackage(deps.db, row.id, { status: 'failed', phase: 'failed', percent: 100, report, processed_at: deps.clock.now() }, deps.clock.now());
  if (row.source === 'upload' && row.upload_blob_key) await deps.blobs.deletePrefix(repo.packagePrefix(row.tenant_id, row.id)).catch(() => undefined);
  return { ...row, status: 'failed', phase: 'failed', percent: 100, report };
}
