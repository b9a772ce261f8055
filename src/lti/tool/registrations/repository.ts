import type { Queryable } from '../../../db/index.js';
import { paginate } from '../../../db/pagination.js';

export interface PlatformRow {
  id: string;
  tenant_id: string;
  name: string;
  issuer: string;
  auth_url: string;
  token_url: string | null;
  jwks_url: string;
  status: 'active' | 'disabled';
  auto_register_deployments: boolean;
  source: 'manual' | 'dynamic';
  platform_configuration: Record<string, unknown> | null;
  created_at: Date;
  updated_at: Date;
}

export interface ClientRow {
  id: string;
  tenant_id: string;
  platform_id: string;
  issuer: string;
  client_id: string;
  label: string;
  source: 'manual' | 'dynamic';
  registration: Record<string, unknown> | null;
  created_at: Date;
}

export interface DeploymentRow {
  id: string;
  tenant_id: string;
  platform_id: string;
  platform_client_id: string;
  deployment_id: string;
  label: string;
  source: 'manual' | 'auto' | 'dynamic';
  created_at: Date;
  last_launch_at: Date | null;
}

export interface RegistrationLinkRow {
  id: string;
  tenant_id: string;
  token_hash: string;
  label: string;
  auto_register_deployments: boolean;
  created_by: string | null;
  created_at: Date;
  expires_at: Date;
  used_at: Date | null;
  platform_id: string | null;
}

/** A client registration with its platform: what the login and launch endpoints work from. */
export type Registration = { platform: PlatformRow; client: ClientRow };

// Platforms ---------------------------------------------------------------------------------

export async function insertPlatform(db: Queryable, row: Omit<PlatformRow, 'id' | 'created_at' | 'updated_at'>, now: Date): Promise<PlatformRow> {
  const [created] = await db<PlatformRow>('lti_platforms')
    .insert({ ...row, platform_configuration: row.platform_configuration === null ? null : (JSON.stringify(row.platform_configuration) as never), created_at: now, updated_at: now })
    .returning('*');
  return created as PlatformRow;
}

export async function findPlatform(db: Queryable, tenantId: string, id: string): Promise<PlatformRow | undefined> {
  return db<PlatformRow>('lti_platforms').where({ tenant_id: tenantId, id }).first();
}

export async function findPlatformByIssuer(db: Queryable, tenantId: string, issuer: string): Promise<PlatformRow | undefined> {
  return db<PlatformRow>('lti_platforms').where({ tenant_id: tenantId, issuer }).first();
}

export async function listPlatforms(db: Queryable, filter: { tenantId: string; limit: number; cursor?: string | undefined }) {
  return paginate<PlatformRow>(db<PlatformRow>('lti_platforms').where('tenant_id', filter.tenantId), { limit: filter.limit, cursor: filter.cursor, sortColumn: 'created_at', idColumn: 'id' });
}

export async function updatePlatform(db: Queryable, tenantId: string, id: string, changes: Partial<PlatformRow>, now: Date): Promise<PlatformRow | undefined> {
  const patch: Record<string, unknown> = { ...changes, updated_at: now };
  if (changes.platform_configuration !== undefined) patch['platform_configuration'] = changes.platform_configuration === null ? null : JSON.stringify(changes.platform_configuration);
  const [row] = await db<PlatformRow>('lti_platforms').where({ tenant_id: tenantId, id }).update(patch).returning('*');
  return row as PlatformRow | undefined;
}

export async function deletePlatform(db: Queryable, tenantId: string, id: string): Promise<boolean> {
  return (await db('lti_platforms').where({ tenant_id: tenantId, id }).delete()) > 0;
}

// Client ids --------------------------------------------------------------------------------

export async function insertClient(db: Queryable, row: Omit<ClientRow, 'id' | 'created_at'>, now: Date): Promise<ClientRow> {
  const [created] = await db<ClientRow>('lti_platform_clients')
    .insert({ ...row, registration: row.registration === null ? null : (JSON.stringify(row.registration) as never), created_at: now })
    .returning('*');
  return created as ClientRow;
}

export async function listClients(db: Queryable, platformId: string): Promise<ClientRow[]> {
  return db<ClientRow>('lti_platform_clients').where({ platform_id: platformId }).orderBy('created_at');
}

export async function listClientsOf(db: Queryable, platformIds: readonly string[]): Promise<ClientRow[]> {
  if (platformIds.length === 0) return [];
  return db<ClientRow>('lti_platform_clients').whereIn('platform_id', platformIds as string[]).orderBy('created_at');
}

export async function findClient(db: Queryable, platformId: string, id: string): Promise<ClientRow | undefined> {
  return db<ClientRow>('lti_platform_clients').where({ platform_id: platformId, id }).first();
}

export async function findClientByClientId(db: Queryable, platformId: string, clientId: string): Promise<ClientRow | undefined> {
  return db<ClientRow>('lti_platform_clients').where({ platform_id: platformId, client_id: clientId }).first();
}

export async function deleteClient(db: Queryable, platformId: string, id: string): Promise<boolean> {
  return (await db('lti_platform_clients').where({ platform_id: platformId, id }).delete()) > 0;
}

/** Every client registration of an issuer, across tenants (the login endpoint knows only iss). */
export async function findRegistrations(db: Queryable, issuer: string, clientId?: string): Promise<Registration[]> {
  const query = db('lti_platform_clients as c')
    .join('lti_platforms as p', 'p.id', 'c.platform_id')
    .where('c.issuer', issuer)
    .select(db.raw('row_to_json(p.*) as platform'), db.raw('row_to_json(c.*) as client'))
    .limit(3);
  if (clientId !== undefined) query.where('c.client_id', clientId);
  const rows = (await query) as { platform: PlatformRow; client: ClientRow }[];
  return rows.map((r) => ({ platform: reviveDates(r.platform, ['created_at', 'updated_at']), client: reviveDates(r.client, ['created_at']) }));
}

export async function findRegistrationByClientRowId(db: Queryable, clientRowId: string): Promise<Registration | undefined> {
  const row = (await db('lti_platform_clients as c')
    .join('lti_platforms as p', 'p.id', 'c.platform_id')
    .where('c.id', clientRowId)
    .first(db.raw('row_to_json(p.*) as platform'), db.raw('row_to_json(c.*) as client'))) as { platform: PlatformRow; client: ClientRow } | undefined;
  return row ? { platform: reviveDates(row.platform, ['created_at', 'updated_at']), client: reviveDates(row.client, ['created_at']) } : undefined;
}

function reviveDates<T>(row: T, fields: readonly string[]): T {
  const copy = { ...row } as Record<string, unknown>;
  for (const f of fields) if (typeof copy[f] === 'string') copy[f] = new Date(copy[f] as string);
  return copy as T;
}

/** Client ids registered for the same platform: the audiences an id_token may also name. */
export async function siblingClientIds(db: Queryable, platformId: string): Promise<string[]> {
  const rows = await db('lti_platform_clients').where({ platform_id: platformId }).select('client_id');
  return rows.map((r: { client_id: string }) => r.client_id);
}

// Deployments -------------------------------------------------------------------------------

export async function findDeployment(db: Queryable, clientRowId: string, deploymentId: string): Promise<DeploymentRow | undefined> {
  return db<DeploymentRow>('lti_deployments').where({ platform_client_id: clientRowId, deployment_id: deploymentId }).first();
}

export async function findDeploymentById(db: Queryable, platformId: string, id: string): Promise<DeploymentRow | undefined> {
  return db<DeploymentRow>('lti_deployments').where({ platform_id: platformId, id }).first();
}

/** Inserts unless it exists (two first launches of a new deployment at once); returns the row either way. */
export async function upsertDeployment(db: Queryable, row: Omit<DeploymentRow, 'id' | 'created_at' | 'last_launch_at'>, now: Date): Promise<DeploymentRow> {
  const [created] = await db<DeploymentRow>('lti_deployments')
    .insert({ ...row, created_at: now })
    .onConflict(['platform_client_id', 'deployment_id']).ignore()
    .returning('*');
  return (created as DeploymentRow | undefined) ?? (await findDeployment(db, row.platform_client_id, row.deployment_id))!;
}

export async function listDeployments(db: Queryable, filter: { platformId: string; limit: number; cursor?: string | undefined }) {
  return paginate<DeploymentRow>(db<DeploymentRow>('lti_deployments').where('platform_id', filter.platformId), { limit: filter.limit, cursor: filter.cursor, sortColumn: 'created_at', idColumn: 'id' });
}

export async function deleteDeployment(db: Queryable, platformId: string, id: string): Promise<boolean> {
  return (await db('lti_deployments').where({ platform_id: platformId, id }).delete()) > 0;
}

/**
 * Records that a deployment launched, at most once a minute: every launch of a deployment
 * writing its one row would queue all of them behind that row's lock.
 */
export async function touchDeployment(db: Queryable, deployment: DeploymentRow, now: Date): Promise<void> {
  if (deployment.last_launch_at && now.getTime() - deployment.last_launch_at.getTime() < touchIntervalMs) return;
  await db('lti_deployments').where({ id: deployment.id })
    .where((q) => q.whereNull('last_launch_at').orWhere('last_launch_at', '<', new Date(now.getTime() - touchIntervalMs)))
    .update({ last_launch_at: now });
}

/** How often "last launched" timestamps are refreshed. */
export const touchIntervalMs = 60_000;

// Dynamic Registration links ----------------------------------------------------------------

export async function insertRegistrationLink(db: Queryable, row: Omit<RegistrationLinkRow, 'id' | 'used_at' | 'platform_id'>): Promise<RegistrationLinkRow> {
  const [created] = await db<RegistrationLinkRow>('lti_registration_links').insert(row).returning('*');
  return created as RegistrationLinkRow;
}

export async function findRegistrationLinkByHash(db: Queryable, tokenHash: string): Promise<RegistrationLinkRow | undefined> {
  return db<RegistrationLinkRow>('lti_registration_links').where({ token_hash: tokenHash }).first();
}

export async function listRegistrationLinks(db: Queryable, filter: { tenantId: string; limit: number; cursor?: string | undefined }) {
  return paginate<RegistrationLinkRow>(db<RegistrationLinkRow>('lti_registration_links').where('tenant_id', filter.tenantId), { limit: filter.limit, cursor: filter.cursor, sortColumn: 'created_at', idColumn: 'id' });
}

export async function findRegistrationLink(db: Queryable, tenantId: string, id: string): Promise<RegistrationLinkRow | undefined> {
  return db<RegistrationLinkRow>('lti_registration_links').where({ tenant_id: tenantId, id }).first();
}

/** Consumes a link; false when another request used it first. */
export async function markRegistrationLinkUsed(db: Queryable, id: string, platformId: string, now: Date): Promise<boolean> {
  return (await db('lti_registration_links').where({ id }).whereNull('used_at').update({ used_at: now, platform_id: platformId })) === 1;
}

export async function deleteRegistrationLink(db: Queryable, tenantId: string, id: string): Promise<boolean> {
  return (await db('lti_registration_links').where({ tenant_id: tenantId, id }).delete()) > 0;
}
