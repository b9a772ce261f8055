import { Type } from 'typebox';
import { DateTime, NullableDateTime, Uuid, iso } from '../../http/schemas.js';
import type { PackageRow, PackageSummaryRow } from './repository.js';

export const PackageStatusSchema = Type.Union([Type.Literal('processing'), Type.Literal('ready'), Type.Literal('failed')]);
const Phase = Type.Union(['uploading', 'queued', 'parsing', 'validating', 'extracting', 'ready', 'failed'].map((p) => Type.Literal(p)));
const Progress = Type.Object({
  files_done: Type.Optional(Type.Integer()), files_total: Type.Optional(Type.Integer()),
  bytes_done: Type.Optional(Type.Integer()), bytes_total: Type.Optional(Type.Integer()),
});
const Finding = Type.Object({
  severity: Type.Union([Type.Literal('error'), Type.Literal('warning')]),
  code: Type.String({ description: 'Stable machine-readable code (docs/scorm.md lists them)' }),
  message: Type.String(),
  location: Type.Optional(Type.String({ description: 'A zip entry name or a manifest path' })),
});

const packageFields = {
  id: Uuid(),
  lineage_id: Uuid('The first version\'s id; every version of the package shares it'),
  version: Type.Integer({ minimum: 1 }),
  title: Type.String(),
  scorm_version: Type.Union([Type.Literal('1.2'), Type.Literal('2004-2'), Type.Literal('2004-3'), Type.Literal('2004-4'), Type.Null()]),
  status: PackageStatusSchema,
  phase: Phase,
  percent: Type.Integer({ minimum: 0, maximum: 100, description: 'Progress of the current phase' }),
  progress: Progress,
  source: Type.Union([Type.Literal('upload'), Type.Literal('blob')]),
  original_filename: Type.Union([Type.String(), Type.Null()]),
  upload_size: Type.Union([Type.Integer(), Type.Null()]),
  file_count: Type.Union([Type.Integer(), Type.Null()]),
  byte_size: Type.Union([Type.Integer(), Type.Null()], { description: 'Inflated size of the package files' }),
  created_by: Type.Union([Uuid(), Type.Null()]),
  created_at: DateTime(),
  updated_at: DateTime(),
  processed_at: NullableDateTime(),
  status_url: Type.String(),
  report_url: Type.String(),
};

export const PackageSummary = Type.Object({ ...packageFields, version_count: Type.Optional(Type.Integer()) });

export const PackageVersion = Type.Object({ id: Uuid(), version: Type.Integer(), status: PackageStatusSchema, created_at: DateTime() });

export const PackageDetail = Type.Object({
  ...packageFields,
  errors: Type.Integer(),
  warnings: Type.Integer(),
  content_prefix: Type.String({ description: 'Blob-store prefix of the extracted files' }),
  versions: Type.Array(PackageVersion, { description: 'Every version of the lineage, newest first' }),
  model: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], { description: 'The parsed manifest (PackageModel), once ready' }),
});

export const PackageStatusView = Type.Object({
  id: Uuid(), status: PackageStatusSchema, phase: Phase, percent: Type.Integer(), progress: Progress,
  errors: Type.Union([Type.Integer(), Type.Null()]), warnings: Type.Union([Type.Integer(), Type.Null()]), updated_at: DateTime(),
});

export const ValidationReportView = Type.Object({
  package_id: Uuid(), status: PackageStatusSchema, errors: Type.Integer(), warnings: Type.Integer(), findings: Type.Array(Finding),
});

export const Accepted = Type.Object({ id: Uuid(), lineage_id: Uuid(), version: Type.Integer(), status: PackageStatusSchema, phase: Phase, status_url: Type.String(), report_url: Type.String() });

const num = (v: string | null): number | null => (v === null ? null : Number(v));

export function summaryView(row: PackageSummaryRow & { version_count?: number }) {
  return {
    id: row.id, lineage_id: row.lineage_id, version: row.version, title: row.title, scorm_version: row.scorm_version,
    status: row.status, phase: row.phase, percent: row.percent, progress: row.progress, source: row.source,
    original_filename: row.original_filename, upload_size: num(row.upload_size), file_count: row.file_count, byte_size: num(row.byte_size),
    created_by: row.created_by, created_at: row.created_at.toISOString(), updated_at: row.updated_at.toISOString(), processed_at: iso(row.processed_at),
    status_url: `/api/v1/packages/${row.id}/status`, report_url: `/api/v1/packages/${row.id}/report`,
    ...(row.version_count !== undefined ? { version_count: row.version_count } : {}),
  };
}

export function detailView(row: PackageRow, versions: readonly PackageSummaryRow[]) {
  return {
    ...summaryView(row),
    errors: row.report?.errors ?? 0,
    warnings: row.report?.warnings ?? 0,
    content_prefix: row.content_prefix,
    versions: versions.map((v) => ({ id: v.id, version: v.version, status: v.status, created_at: v.created_at.toISOString() })),
    model: row.model as Record<string, unknown> | null,
  };
}

export function statusView(row: PackageRow) {
  return {
    id: row.id, status: row.status, phase: row.phase, percent: row.percent, progress: row.progress,
    errors: row.report?.errors ?? null, warnings: row.report?.warnings ?? null, updated_at: row.updated_at.toISOString(),
  };
}
