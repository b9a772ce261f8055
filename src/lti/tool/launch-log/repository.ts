import type { Queryable } from '../../../db/index.js';
import { paginate } from '../../../db/pagination.js';

export interface LaunchRow {
  id: string;
  tenant_id: string | null;
  platform_id: string | null;
  issuer: string | null;
  client_id: string | null;
  deployment_id: string | null;
  message_type: string | null;
  outcome: 'success' | 'failure';
  error_code: string | null;
  failed_step: string | null;
  steps_passed: string[];
  detail: string | null;
  subject: string | null;
  user_id: string | null;
  course_id: string | null;
  course_item_id: string | null;
  resource_link_id: string | null;
  roles: string[];
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  duration_ms: number | null;
  created_at: Date;
}

export async function insertLaunch(db: Queryable, row: LaunchRow): Promise<void> {
  await db('lti_launches').insert(row);
}

export interface LaunchFilter {
  /** Null: entries no tenant could be attributed to (unknown issuer), for system administrators. */
  readonly tenantId: string | null;
  readonly outcome?: 'success' | 'failure' | undefined;
  readonly errorCode?: string | undefined;
  readonly platformId?: string | undefined;
  readonly userId?: string | undefined;
  readonly since?: Date | undefined;
  readonly until?: Date | undefined;
  readonly limit: number;
  readonly cursor?: string | undefined;
}

/** Newest first. */
export async function listLaunches(db: Queryable, filter: LaunchFilter) {
  const query = db<LaunchRow>('lti_launches');
  if (filter.tenantId === null) query.whereNull('tenant_id');
  else query.where('tenant_id', filter.tenantId);
  if (filter.outcome) query.where('outcome', filter.outcome);
  if (filter.errorCode) query.where('error_code', filter.errorCode);
  if (filter.platformId) query.where('platform_id', filter.platformId);
  if (filter.userId) query.where('user_id', filter.userId);
  if (filter.since) query.where('created_at', '>=', filter.since);
  if (filter.until) query.where('created_at', '<', filter.until);
  return paginate<LaunchRow>(query, { limit: filter.limit, cursor: filter.cursor, sortColumn: 'created_at', idColumn: 'id', direction: 'desc' });
}

export async function findLaunch(db: Queryable, tenantId: string | null, id: string): Promise<LaunchRow | undefined> {
  const query = db<LaunchRow>('lti_launches').where({ id });
  if (tenantId === null) query.whereNull('tenant_id');
  else query.where('tenant_id', tenantId);
  return query.first();
}

export async function purgeLaunchesBefore(db: Queryable, before: Date): Promise<number> {
  return db('lti_launches').where('created_at', '<', before).delete();
}
