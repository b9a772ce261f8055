import type { Queryable } from '../../../db/index.js';
import type { CourseRole } from '../../core/roles.js';
import type { DeepLinkingSettingsClaim } from '../../core/claims.js';

export interface DeepLinkRequestRow {
  id: string;
  tenant_id: string;
  platform_client_ref: string;
  deployment_ref: string;
  course_id: string | null;
  user_id: string;
  course_role: CourseRole;
  launch_id: string;
  settings: DeepLinkingSettingsClaim;
  created_at: Date;
  expires_at: Date;
  used_at: Date | null;
}

export async function insertRequest(db: Queryable, row: Omit<DeepLinkRequestRow, 'used_at'>): Promise<void> {
  await db('lti_deep_link_requests').insert({ ...row, settings: JSON.stringify(row.settings) });
}

export async function findRequest(db: Queryable, id: string): Promise<DeepLinkRequestRow | undefined> {
  return db<DeepLinkRequestRow>('lti_deep_link_requests').where({ id }).first();
}

/** Spends the request (one answer per deep-linking launch); false when it was already answered or expired. */
export async function markRequestUsed(db: Queryable, id: string, now: Date): Promise<boolean> {
  return (await db('lti_deep_link_requests').where({ id }).whereNull('used_at').where('expires_at', '>', now).update({ used_at: now })) === 1;
}

export async function purgeRequests(db: Queryable, before: Date): Promise<number> {
  return db('lti_deep_link_requests').where('expires_at', '<', before).delete();
}

export async function findDeploymentId(db: Queryable, deploymentRef: string): Promise<string | undefined> {
  const row = await db('lti_deployments').where({ id: deploymentRef }).first('deployment_id') as { deployment_id: string } | undefined;
  return row?.deployment_id;
}

export interface PickablePackage {
  id: string;
  lineage_id: string;
  title: string;
  scorm_version: string | null;
  version: number;
}

const escapeLike = (s: string) => s.replace(/[%_\\]/g, '\\$&');

/** Each lineage's newest ready version: what a new course item would launch. */
export async function listPickablePackages(db: Queryable, tenantId: string, q: string | undefined, limit: number): Promise<PickablePackage[]> {
  const latest = db('scorm_packages').where({ tenant_id: tenantId, status: 'ready' })
    .distinctOn('lineage_id').select('id', 'lineage_id', 'title', 'scorm_version', 'version')
    .orderBy([{ column: 'lineage_id' }, { column: 'version', order: 'desc' }]);
  const query = db.from(latest.as('p')).select('*').orderBy([{ column: 'title' }, { column: 'id' }]).limit(limit);
  if (q) query.whereILike('title', `%${escapeLike(q)}%`);
  return query as Promise<PickablePackage[]>;
}

export async function findPickablePackage(db: Queryable, tenantId: string, lineageId: string): Promise<PickablePackage | undefined> {
  return db('scorm_packages').where({ tenant_id: tenantId, status: 'ready', lineage_id: lineageId })
    .orderBy('version', 'desc').first('id', 'lineage_id', 'title', 'scorm_version', 'version');
}

export interface PickableItem {
  id: string;
  kind: 'scorm' | 'lti_tool' | 'xapi_activity';
  title: string;
  published: boolean;
  settings: Record<string, unknown>;
  /** The item's first line item (the one grades flow through), when it has one. */
  line_item_label: string | null;
  line_item_score_maximum: string | null;
  line_item_tag: string | null;
  line_item_start_at: Date | null;
  line_item_end_at: Date | null;
}

function itemQuery(db: Queryable, courseId: string) {
  return db('course_items as i')
    .leftJoin(db.raw(`lateral (select li.label, li.score_maximum, li.tag, li.start_at, li.end_at from line_items li where li.course_item_id = i.id order by li.created_at, li.id limit 1) as li on true`))
    .where('i.course_id', courseId)
    .select('i.id', 'i.kind', 'i.title', 'i.published', 'i.settings', 'li.label as line_item_label', 'li.score_maximum as line_item_score_maximum',
      'li.tag as line_item_tag', 'li.start_at as line_item_start_at', 'li.end_at as line_item_end_at');
}

export async function listPickableItems(db: Queryable, courseId: string, q: string | undefined, limit: number): Promise<PickableItem[]> {
  const query = itemQuery(db, courseId).orderBy([{ column: 'i.position' }, { column: 'i.id' }]).limit(limit);
  if (q) query.whereILike('i.title', `%${escapeLike(q)}%`);
  return query as Promise<PickableItem[]>;
}

export async function findPickableItem(db: Queryable, courseId: string, id: string): Promise<PickableItem | undefined> {
  return itemQuery(db, courseId).where('i.id', id).first() as Promise<PickableItem | undefined>;
}
