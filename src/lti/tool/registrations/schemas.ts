import { Type } from 'typebox';
import { DateTime, NullableDateTime, Uuid, iso } from '../../../http/schemas.js';
import type { ClientRow, DeploymentRow, PlatformRow, RegistrationLinkRow } from './repository.js';

export const HttpUrl = (description: string) => Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2000, description });
export const Issuer = Type.String({ minLength: 1, maxLength: 500, description: 'The platform\'s issuer identifier (`iss`), exactly as it appears in its id_tokens' });
export const ClientIdString = Type.String({ minLength: 1, maxLength: 500, description: 'OAuth client id the platform assigned to Cairn' });
export const DeploymentIdString = Type.String({ minLength: 1, maxLength: 255, description: 'LTI deployment id (`https://purl.imsglobal.org/spec/lti/claim/deployment_id`)' });

export const Client = Type.Object({
  id: Uuid(),
  client_id: Type.String(),
  label: Type.String(),
  source: Type.Union([Type.Literal('manual'), Type.Literal('dynamic')]),
  created_at: DateTime(),
});

export const Platform = Type.Object({
  id: Uuid(),
  name: Type.String(),
  issuer: Type.String(),
  auth_url: Type.String({ description: 'OIDC authentication request endpoint of the platform' }),
  token_url: Type.Union([Type.String(), Type.Null()], { description: 'OAuth2 token endpoint (AGS, NRPS)' }),
  jwks_url: Type.String({ description: 'Where the platform publishes its public keys' }),
  status: Type.Union([Type.Literal('active'), Type.Literal('disabled')]),
  auto_register_deployments: Type.Boolean({ description: 'Launches from unknown deployment ids register them instead of being refused' }),
  source: Type.Union([Type.Literal('manual'), Type.Literal('dynamic')], { description: 'Added by an administrator, or by Dynamic Registration' }),
  product_family_code: Type.Union([Type.String(), Type.Null()], { description: 'From the platform\'s openid-configuration (Dynamic Registration)' }),
  clients: Type.Array(Client),
  created_at: DateTime(),
  updated_at: DateTime(),
});

export const Deployment = Type.Object({
  id: Uuid(),
  client_id: Type.String(),
  deployment_id: Type.String(),
  label: Type.String(),
  source: Type.Union([Type.Literal('manual'), Type.Literal('auto'), Type.Literal('dynamic')], { description: '`auto`: registered by its first launch' }),
  created_at: DateTime(),
  last_launch_at: NullableDateTime(),
});

export const RegistrationLink = Type.Object({
  id: Uuid(),
  label: Type.String(),
  auto_register_deployments: Type.Boolean(),
  created_at: DateTime(),
  expires_at: DateTime(),
  used_at: NullableDateTime(),
  platform_id: Type.Union([Uuid(), Type.Null()], { description: 'The platform the link registered, once used' }),
});

export const CreatedRegistrationLink = Type.Object({
  ...RegistrationLink.properties,
  url: Type.String({ description: 'Paste into the LMS (Moodle: Site administration → Plugins → External tool → Manage tools → Tool URL). Shown only once.' }),
});

export function clientView(row: ClientRow) {
  return { id: row.id, client_id: row.client_id, label: row.label, source: row.source, created_at: row.created_at.toISOString() };
}

export function platformView(row: PlatformRow, clients: readonly ClientRow[]) {
  const family = (row.platform_configuration?.['https://purl.imsglobal.org/spec/lti-platform-configuration'] as { product_family_code?: unknown } | undefined)?.product_family_code;
  return {
    id: row.id, name: row.name, issuer: row.issuer, auth_url: row.auth_url, token_url: row.token_url, jwks_url: row.jwks_url,
    status: row.status, auto_register_deployments: row.auto_register_deployments, source: row.source,
    product_family_code: typeof family === 'string' ? family : null,
    clients: clients.filter((c) => c.platform_id === row.id).map(clientView),
    created_at: row.created_at.toISOString(), updated_at: row.updated_at.toISOString(),
  };
}

export function deploymentView(row: DeploymentRow, clients: readonly ClientRow[]) {
  return {
    id: row.id, client_id: clients.find((c) => c.id === row.platform_client_id)?.client_id ?? '',
    deployment_id: row.deployment_id, label: row.label, source: row.source,
    created_at: row.created_at.toISOString(), last_launch_at: iso(row.last_launch_at),
  };
}

export function registrationLinkView(row: RegistrationLinkRow) {
  return {
    id: row.id, label: row.label, auto_register_deployments: row.auto_register_deployments,
    created_at: row.created_at.toISOString(), expires_at: row.expires_at.toISOString(), used_at: iso(row.used_at), platform_id: row.platform_id,
  };
}
