import type { Queryable } from '../../../db/index.js';
import { AppError } from '../../../errors/index.js';
import { pgCode } from '../../../db/index.js';
import * as repo from './repository.js';

export interface PlatformInput {
  readonly name: string;
  readonly issuer: string;
  readonly auth_url: string;
  readonly token_url?: string | null | undefined;
  readonly jwks_url: string;
  readonly auto_register_deployments?: boolean | undefined;
  readonly client_ids?: readonly string[] | undefined;
  readonly deployments?: readonly { client_id: string; deployment_id: string; label?: string | undefined }[] | undefined;
}

export interface PlatformDetail {
  readonly platform: repo.PlatformRow;
  readonly clients: repo.ClientRow[];
}

const clientConflict = (clientId: string) => new AppError('conflict', `Client id ${clientId} is already registered for this issuer (in this or another tenant).`, { errors: [{ pointer: '/body/client_id', message: 'is already registered for this issuer' }] });

/** Adds a platform with its client ids and deployments in one go (the usual manual registration). */
export async function createPlatform(db: Queryable, tenantId: string, input: PlatformInput, source: 'manual' | 'dynamic', now: Date, platformConfiguration: Record<string, unknown> | null = null): Promise<PlatformDetail> {
  if (await repo.findPlatformByIssuer(db, tenantId, input.issuer)) {
    throw new AppError('conflict', `A platform with issuer ${input.issuer} is already registered in this tenant; add client ids to it instead.`, { errors: [{ pointer: '/body/issuer', message: 'is already registered' }] });
  }
  const platform = await repo.insertPlatform(db, {
    tenant_id: tenantId, name: input.name, issuer: input.issuer, auth_url: input.auth_url, token_url: input.token_url ?? null,
    jwks_url: input.jwks_url, status: 'active', auto_register_deployments: input.auto_register_deployments ?? false, source,
    platform_configuration: platformConfiguration,
  }, now);
  const clients: repo.ClientRow[] = [];
  for (const clientId of new Set([...(input.client_ids ?? []), ...(input.deployments ?? []).map((d) => d.client_id)])) {
    clients.push(await addClient(db, platform, { client_id: clientId }, source, now));
  }
  for (const d of input.deployments ?? []) {
    const client = clients.find((c) => c.client_id === d.client_id)!;
    await repo.upsertDeployment(db, { tenant_id: tenantId, platform_id: platform.id, platform_client_id: client.id, deployment_id: d.deployment_id, label: d.label ?? '', source }, now);
  }
  return { platform, clients };
}

export async function addClient(db: Queryable, platform: repo.PlatformRow, input: { client_id: string; label?: string | undefined; registration?: Record<string, unknown> | null }, source: 'manual' | 'dynamic', now: Date): Promise<repo.ClientRow> {
  try {
    // A savepoint, so a clash does not abort the surrounding transaction before the 409 is sent.
    return await (db.isTransaction ? (db as import('knex').Knex.Transaction).transaction((sp) => insert(sp)) : insert(db));
  } catch (error) {
    if (pgCode(error) === '23505') throw clientConflict(input.client_id);
    throw error;
  }
  function insert(q: Queryable) {
    return repo.insertClient(q, { tenant_id: platform.tenant_id, platform_id: platform.id, issuer: platform.issuer, client_id: input.client_id, label: input.label ?? '', source, registration: input.registration ?? null }, now);
  }
}

export async function addDeployment(db: Queryable, platform: repo.PlatformRow, input: { client_id: string; deployment_id: string; label?: string | undefined }, source: 'manual' | 'auto' | 'dynamic', now: Date): Promise<repo.DeploymentRow> {
  const client = await repo.findClientByClientId(db, platform.id, input.client_id);
  if (!client) throw new AppError('validation_failed', `Client id ${input.client_id} is not registered for this platform; add it first.`, { errors: [{ pointer: '/body/client_id', message: 'is not registered for this platform' }] });
  if (await repo.findDeployment(db, client.id, input.deployment_id)) {
    throw new AppError('conflict', `Deployment ${input.deployment_id} is already registered for client id ${input.client_id}.`, { errors: [{ pointer: '/body/deployment_id', message: 'is already registered' }] });
  }
  return repo.upsertDeployment(db, { tenant_id: platform.tenant_id, platform_id: platform.id, platform_client_id: client.id, deployment_id: input.deployment_id, label: input.label ?? '', source }, now);
}

export type LookupOutcome =
  | { readonly found: repo.Registration }
  | { readonly ambiguous: true }
  | { readonly missing: true };

/**
 * The registration a login initiation refers to. With a client_id the pair is unique; without
 * one (older platforms send only iss) the issuer must have exactly one client id in Cairn.
 */
export async function lookupRegistration(db: Queryable, issuer: string, clientId: string | undefined): Promise<LookupOutcome> {
  const rows = await repo.findRegistrations(db, issuer, clientId);
  if (rows.length === 0) return { missing: true };
  if (rows.length > 1) return { ambiguous: true };
  return { found: rows[0]! };
}

/**
 * The deployment of a launch: registered, or registered now when the admin allowed it for
 * this platform (the first launch from a new Canvas sub-account or Moodle course).
 */
export async function resolveDeployment(db: Queryable, registration: repo.Registration, deploymentId: string, now: Date): Promise<repo.DeploymentRow | undefined> {
  const known = await repo.findDeployment(db, registration.client.id, deploymentId);
  if (known) return known;
  if (!registration.platform.auto_register_deployments) return undefined;
  return repo.upsertDeployment(db, {
    tenant_id: registration.platform.tenant_id, platform_id: registration.platform.id, platform_client_id: registration.client.id,
    deployment_id: deploymentId, label: '', source: 'auto',
  }, now);
}
