import type { Queryable } from '../../db/index.js';
import { pgCode } from '../../db/index.js';
import { paginate } from '../../db/pagination.js';
import type { Item, PackageModel, ScormVersion, ValidationFinding } from './model.js';

export type PackageStatus = 'processing' | 'ready' | 'failed';
export type PackagePhase = 'uploading' | 'queued' | 'parsing' | 'validating' | 'extracting' | 'ready' | 'failed';

export interface PackageProgress {
  readonly files_done?: number;
  readonly files_total?: number;
  readonly bytes_done?: number;
  readonly bytes_total?: number;
}

export interface ValidationReport {
  readonly errors: number;
  readonly warnings: number;
  readonly findings: readonly ValidationFinding[];
}

export interface PackageRow {
  id: string;
  tenant_id: string;
  lineage_id: string;
  version: number;
  title: string;
  scorm_version: ScormVersion | null;
  manifest_identifier: string | null;
  status: PackageStatus;
  phase: PackagePhase;
  percent: number;
  progress: PackageProgress;
  job_id: string | null;
  source: 'upload' | 'blob';
  upload_blob_key: string | null;
  original_filename: string | null;
  upload_size: string | null;
  content_prefix: string;
  file_count: number | null;
  byte_size: string | null;
  model: PackageModel | null;
  report: ValidationReport | null;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
  processed_at: Date | null;
}

/** The listing columns: everything but the (large) model and report. */
const summaryColumns = [
  'id', 'tenant_id', 'lineage_id', 'version', 'title', 'scorm_version', 'manifest_identifier', 'status', 'phase', 'percent', 'progress', 'job_id',
  'source', 'upload_blob_key', 'original_filename', 'upload_size', 'content_prefix', 'file_count', 'byte_size', 'created_by', 'created_at', 'updated_at', 'processed_at',
] as const;
export type PackageSummaryRow = Omit<PackageRow, 'model' | 'report'>;

export function contentPrefix(tenantId: string, packageId: string): string {
  return `scorm/${tenantId}/${packageId}/content/`;
}

export function packagePrefix(tenantId: string, packageId: string): string {
  return `scorm/${tenantId}/${packageId}/`;
}

export interface NewPackage {
  readonly id: string;
  readonly tenantId: string;
  /** The lineage to add a version to; a new lineage (id = package id) when absent. */
  readonly lineageId?: string | undefined;
  readonly title: string;
  readonly source: 'upload' | 'blob';
  readonly phase: PackagePhase;
  readonly uploadBlobKey: string | null;
  readonly originalFilename: string | null;
  readonly createdBy: string | null;
  readonly now: Date;
}

/**
 * Inserts the next version of a lineage. Two uploads into one lineage at once race for the same
 * number; the unique index decides and the loser takes the next one.
 */
export async function insertPackage(db: Queryable, p: NewPackage): Promise<PackageRow> {
  const lineageId = p.lineageId ?? p.id;
  for (let attempt = 0; ; attempt++) {
    try {
      const [row] = await db<PackageRow>('scorm_packages').insert({
        id: p.id, tenant_id: p.tenantId, lineage_id: lineageId,
        version: db.raw('(select coalesce(max(version), 0) + 1 from scorm_packages where lineage_id = ?)', [lineageId]) as unknown as number,
        title: p.title, status: 'processing', phase: p.phase, percent: 0, progress: {}, source: p.source,
        upload_blob_key: p.uploadBlobKey, original_filename: p.originalFilename, content_prefix: contentPrefix(p.tenantId, p.id),
        created_by: p.createdBy, created_at: p.now, updated_at: p.now,
      }).returning('*');
      return row as PackageRow;
    } catch (error) {
      if (pgCode(error) === '23505' && attempt < 5) continue;
      throw error;
    }
  }
}

export async function findPackage(db: Queryable, tenantId: string, id: string): Promise<PackageRow | undefined> {
  return db<PackageRow>('scorm_packages').where({ tenant_id: tenantId, id }).first();
}

/** For the job, which runs outside any tenant context. */
export async function findPackageById(db: Queryable, id: string): Promise<PackageRow | undefined> {
  return db<PackageRow>('scorm_packages').where({ id }).first();
}

export async function listVersions(db: Queryable, tenantId: string, lineageId: string): Promise<PackageSummaryRow[]> {
  return db('scorm_packages').where({ tenant_id: tenantId, lineage_id: lineageId }).select(summaryColumns).orderBy('version', 'desc') as Promise<PackageSummaryRow[]>;
}

export interface PackageFilter {
  readonly tenantId: string;
  /** Every version, not only each lineage's newest. */
  readonly allVersions: boolean;
  readonly status?: PackageStatus | undefined;
  readonly q?: string | undefined;
  readonly limit: number;
  readonly cursor?: string | undefined;
}

export async function listPackages(db: Queryable, filter: PackageFilter) {
  const query = db('scorm_packages as p').where('p.tenant_id', filter.tenantId).select(summaryColumns.map((c) => `p.${c}`))
    .select(db.raw('(select count(*)::int from scorm_packages v where v.lineage_id = p.lineage_id) as version_count'));
  if (!filter.allVersions) {
    query.whereNotExists((q) => q.select(db.raw('1')).from('scorm_packages as newer').whereRaw('newer.lineage_id = p.lineage_id and newer.version > p.version'));
  }
  if (filter.status) query.where('p.status', filter.status);
  if (filter.q) query.whereILike('p.title', `%${filter.q.replace(/[%_\\]/g, '\\$&')}%`);
  return paginate<PackageSummaryRow & { version_count: number }>(query, { limit: filter.limit, cursor: filter.cursor, sortColumn: 'p.created_at', idColumn: 'p.id', direction: 'desc' });
}

export async function updateProgress(db: Queryable, id: string, fields: { phase?: PackagePhase; percent: number; progress?: PackageProgress }, now: Date): Promise<void> {
  await db('scorm_packages').where({ id, status: 'processing' }).update({
    ...(fields.phase ? { phase: fields.phase } : {}),
    percent: Math.max(0, Math.min(100, Math.round(fields.percent))),
    ...(fields.progress ? { progress: fields.progress } : {}),
    updated_at: now,
  });
}

export async function updatePackage(db: Queryable, id: string, fields: Partial<Omit<PackageRow, 'id' | 'tenant_id' | 'created_at'>>, now: Date): Promise<void> {
  const { model, report, progress, ...rest } = fields;
  await db('scorm_packages').where({ id }).update({
    ...rest,
    // jsonb columns take JSON text: pg would send a JS array as a Postgres array.
    ...(model !== undefined ? { model: model === null ? null : JSON.stringify(model) } : {}),
    ...(report !== undefined ? { report: report === null ? null : JSON.stringify(report) } : {}),
    ...(progress !== undefined ? { progress: JSON.stringify(progress) } : {}),
    updated_at: now,
  });
}

export async function deletePackageRow(db: Queryable, tenantId: string, id: string): Promise<void> {
  await db('scorm_packages').where({ tenant_id: tenantId, id }).delete();
}

export interface ItemRow {
  id: string;
  tenant_id: string;
  package_id: string;
  organization_identifier: string;
  identifier: string;
  parent_identifier: string | null;
  position: number;
  depth: number;
  title: string;
  is_visible: boolean;
  resource_identifier: string | null;
  launch_url: string | null;
  scorm_type: 'sco' | 'asset' | null;
  parameters: string | null;
  data_from_lms: string | null;
  mastery_score: string | null;
  scaled_passing_score: string | null;
  completion_threshold: string | null;
  completed_by_measure: boolean | null;
  max_time_allowed: string | null;
  time_limit_action: string | null;
  prerequisites: string | null;
  sequencing: unknown;
}

/** One row per item of every organization, in document order. Replaces what a retried job left. */
export async function replaceItems(db: Queryable, tenantId: string, packageId: string, model: PackageModel): Promise<number> {
  await db('scorm_items').where({ package_id: packageId }).delete();
  const rows: Record<string, unknown>[] = [];
  const walk = (orgId: string, items: readonly Item[], parent: string | null, depth: number) => {
    for (const item of items) {
      const primary = item.sequencing?.objectives?.primary;
      rows.push({
        tenant_id: tenantId, package_id: packageId, organization_identifier: orgId, identifier: item.identifier, parent_identifier: parent,
        position: rows.length, depth, title: item.title, is_visible: item.isVisible,
        resource_identifier: item.resourceId ?? null, launch_url: item.launchUrl ?? null, scorm_type: item.scormType ?? null,
        parameters: item.parameters ?? null, data_from_lms: item.dataFromLms ?? null, mastery_score: item.masteryScore ?? null,
        scaled_passing_score: primary?.satisfiedByMeasure && primary.minNormalizedMeasure !== undefined ? primary.minNormalizedMeasure : null,
        completion_threshold: item.completionThreshold?.minProgressMeasure ?? null,
        completed_by_measure: item.completionThreshold?.completedByMeasure ?? null,
        max_time_allowed: item.maxTimeAllowed ?? null, time_limit_action: item.timeLimitAction ?? null, prerequisites: item.prerequisites ?? null,
        sequencing: item.sequencing ? JSON.stringify(item.sequencing) : null,
      });
      walk(orgId, item.children, item.identifier, depth + 1);
    }
  };
  for (const org of model.organizations) walk(org.identifier, org.items, null, 0);
  for (let i = 0; i < rows.length; i += 500) await db('scorm_items').insert(rows.slice(i, i + 500));
  return rows.length;
}

export async function listItems(db: Queryable, tenantId: string, packageId: string): Promise<ItemRow[]> {
  return db<ItemRow>('scorm_items').where({ tenant_id: tenantId, package_id: packageId }).orderBy('position');
}

/**
 * The version a new registration should use for a course item's `ref_id`: the newest ready
 * version of the lineage that the referenced package (or lineage id) belongs to. The runtime
 * pins the returned id on the registration; later uploads never move existing registrations.
 */
export async function latestReadyVersion(db: Queryable, tenantId: string, packageOrLineageId: string): Promise<PackageRow | undefined> {
  return db<PackageRow>('scorm_packages')
    .where({ tenant_id: tenantId, status: 'ready' })
    .where((q) => q.where('lineage_id', packageOrLineageId)
      .orWhereIn('lineage_id', db('scorm_packages').select('lineage_id').where({ tenant_id: tenantId, id: packageOrLineageId })))
    .orderBy('version', 'desc')
    .first();
}

/** Registrations pinned to this version, when the runtime's table exists (it is migrated separately). */
export async function countRegistrations(db: Queryable, packageId: string): Promise<number> {
  const exists = await db.raw<{ rows: { present: boolean }[] }>(
    "select exists (select 1 from information_schema.columns where table_schema = current_schema() and table_name = 'scorm_registrations' and column_name = 'package_id') as present",
  );
  if (!exists.rows[0]?.present) return 0;
  const row = await db('scorm_registrations').where({ package_id: packageId }).count<{ count: string }[]>('* as count').first();
  return Number(row?.count ?? 0);
}

/** Course items (kind scorm) that launch this lineage. */
export async function countCourseItems(db: Queryable, tenantId: string, lineageId: string): Promise<number> {
  const row = await db('course_items').where({ tenant_id: tenantId, kind: 'scorm' })
    .where((q) => q.where('ref_id', lineageId).orWhereIn('ref_id', db('scorm_packages').select('id').where({ lineage_id: lineageId })))
    .count<{ count: string }[]>('* as count').first();
  return Number(row?.count ?? 0);
}
