import { Type } from 'typebox';
import { defineEndpoint, type AnyEndpoint } from '../../../http/endpoint.js';
import { Uuid } from '../../../http/schemas.js';
import { paginationQuery, pageSchema } from '../../../db/pagination.js';
import { notFound } from '../../../errors/index.js';
import * as repo from './repository.js';
import { addClient, addDeployment, createPlatform } from './service.js';
import {
  Client, ClientIdString, CreatedRegistrationLink, Deployment, DeploymentIdString, HttpUrl, Issuer, Platform, RegistrationLink,
  clientView, deploymentView, platformView, registrationLinkView,
} from './schemas.js';
import { createRegistrationLink, registrationLinkPrefix, toolUrls } from '../dynamic-registration/service.js';

const tags = ['LTI'];
const PlatformParams = Type.Object({ platformId: Uuid() });
const read = { scope: 'lti:read', roles: ['admin'] } as const;
const write = { scope: 'lti:write', roles: ['admin'] } as const;

export const ltiRegistrationEndpoints: AnyEndpoint[] = [
  defineEndpoint({
    method: 'get', path: '/lti/tool-configuration', operationId: 'getLtiToolConfiguration', tags,
    summary: 'What to enter in an LMS to register Cairn as an LTI 1.3 tool',
    description: 'For manual registration. Moodle: create a registration link instead (Dynamic Registration). Canvas: give the developer key the `canvas_configuration_url`.',
    auth: read,
    responses: { 200: { description: 'Cairn\'s tool URLs', schema: Type.Object({
      login_url: Type.String({ description: 'OpenID Connect login initiation URL' }),
      redirect_uris: Type.Array(Type.String()),
      target_link_uri: Type.String(),
      jwks_url: Type.String(),
      canvas_configuration_url: Type.String(),
      domain: Type.String(),
    }) } },
    async handler({ deps }) {
      return toolUrls(deps.config.publicUrl);
    },
  }),

  defineEndpoint({
    method: 'get', path: '/lti/platforms', operationId: 'listLtiPlatforms', tags,
    summary: 'List the platforms (LMSs) that may launch Cairn',
    auth: read,
    query: Type.Object({ ...paginationQuery }, { additionalProperties: false }),
    responses: { 200: { description: 'A page of platforms with their client ids', schema: pageSchema(Platform) } },
    async handler({ deps, principal, query }) {
      const page = await repo.listPlatforms(deps.db, { tenantId: principal.tenantId, limit: query.limit ?? 50, cursor: query.cursor });
      const clients = await repo.listClientsOf(deps.db, page.rows.map((p) => p.id));
      return { data: page.rows.map((p) => platformView(p, clients)), next_cursor: page.nextCursor };
    },
  }),

  defineEndpoint({
    method: 'post', path: '/lti/platforms', operationId: 'createLtiPlatform', tags,
    summary: 'Register a platform by hand',
    description: 'The issuer, endpoints and client ids come from the LMS (Canvas: the developer key; Moodle: the tool\'s "Tool configuration details"). Several client ids may share one issuer.',
    auth: write,
    body: Type.Object({
      name: Type.String({ minLength: 1, maxLength: 200 }),
      issuer: Issuer,
      auth_url: HttpUrl('OIDC authentication request endpoint'),
      token_url: Type.Optional(Type.Union([HttpUrl('OAuth2 token endpoint'), Type.Null()])),
      jwks_url: HttpUrl('The platform\'s JWKS URL'),
      auto_register_deployments: Type.Optional(Type.Boolean({ default: false })),
      client_ids: Type.Optional(Type.Array(ClientIdString, { maxItems: 50, uniqueItems: true })),
      deployments: Type.Optional(Type.Array(Type.Object({ client_id: ClientIdString, deployment_id: DeploymentIdString, label: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false }), { maxItems: 200 })),
    }, { additionalProperties: false }),
    responses: { 201: { description: 'Registered', schema: Platform } },
    async handler({ deps, db, principal, body, audit }) {
      const { platform, clients } = await createPlatform(db, principal.tenantId, body, 'manual', deps.clock.now());
      audit({ action: 'lti_platform.create', targetType: 'lti_platform', targetId: platform.id, details: { issuer: platform.issuer, client_ids: clients.map((c) => c.client_id), deployments: (body.deployments ?? []).map((d) => d.deployment_id) } });
      return platformView(platform, clients);
    },
  }),

  defineEndpoint({
    method: 'get', path: '/lti/platforms/:platformId', operationId: 'getLtiPlatform', tags,
    summary: 'Get a platform',
    auth: read,
    params: PlatformParams,
    responses: { 200: { description: 'The platform', schema: Platform } },
    async handler({ deps, principal, params }) {
      const platform = await repo.findPlatform(deps.db, principal.tenantId, params.platformId);
      if (!platform) throw notFound('LTI platform');
      return platformView(platform, await repo.listClients(deps.db, platform.id));
    },
  }),

  defineEndpoint({
    method: 'patch', path: '/lti/platforms/:platformId', operationId: 'updateLtiPlatform', tags,
    summary: 'Change a platform\'s endpoints, name or status',
    description: '`status: disabled` refuses its logins without deleting anything. The issuer cannot change: register a new platform.',
    auth: write,
    params: PlatformParams,
    body: Type.Object({
      name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
      auth_url: Type.Optional(HttpUrl('OIDC authentication request endpoint')),
      token_url: Type.Optional(Type.Union([HttpUrl('OAuth2 token endpoint'), Type.Null()])),
      jwks_url: Type.Optional(HttpUrl('The platform\'s JWKS URL')),
      status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('disabled')])),
      auto_register_deployments: Type.Optional(Type.Boolean()),
    }, { additionalProperties: false, minProperties: 1 }),
    responses: { 200: { description: 'Updated', schema: Platform } },
    async handler({ deps, db, principal, params, body, audit }) {
      const platform = await repo.findPlatform(db, principal.tenantId, params.platformId);
      if (!platform) throw notFound('LTI platform');
      const updated = (await repo.updatePlatform(db, principal.tenantId, platform.id, body, deps.clock.now()))!;
      if (body.jwks_url && body.jwks_url !== platform.jwks_url) deps.lti.remoteJwks.invalidate(platform.jwks_url);
      audit({ action: 'lti_platform.update', targetType: 'lti_platform', targetId: platform.id, details: body });
      return platformView(updated, await repo.listClients(db, platform.id));
    },
  }),

  defineEndpoint({
    method: 'delete', path: '/lti/platforms/:platformId', operationId: 'deleteLtiPlatform', tags,
    summary: 'Remove a platform with its client ids and deployments',
    description: 'Courses, users and enrollments it created stay; its launches are refused from now on.',
    auth: write,
    params: PlatformParams,
    responses: { 204: { description: 'Removed' } },
    async handler({ db, principal, params, audit }) {
      const platform = await repo.findPlatform(db, principal.tenantId, params.platformId);
      if (!platform) throw notFound('LTI platform');
      await repo.deletePlatform(db, principal.tenantId, platform.id);
      audit({ action: 'lti_platform.delete', targetType: 'lti_platform', targetId: platform.id, details: { issuer: platform.issuer } });
      return undefined;
    },
  }),

  defineEndpoint({
    method: 'post', path: '/lti/platforms/:platformId/clients', operationId: 'addLtiPlatformClient', tags,
    summary: 'Add a client id under a platform\'s issuer',
    auth: write,
    params: PlatformParams,
    body: Type.Object({ client_id: ClientIdString, label: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false }),
    responses: { 201: { description: 'Added', schema: Client } },
    async handler({ deps, db, principal, params, body, audit }) {
      const platform = await repo.findPlatform(db, principal.tenantId, params.platformId);
      if (!platform) throw notFound('LTI platform');
      const client = await addClient(db, platform, body, 'manual', deps.clock.now());
      audit({ action: 'lti_platform.add_client', targetType: 'lti_platform', targetId: platform.id, details: { client_id: client.client_id } });
      return clientView(client);
    },
  }),

  defineEndpoint({
    method: 'delete', path: '/lti/platforms/:platformId/clients/:clientId', operationId: 'removeLtiPlatformClient', tags,
    summary: 'Remove a client id (and its deployments)',
    auth: write,
    params: Type.Object({ platformId: Uuid(), clientId: Uuid('The id of the client row, not the OAuth client id') }),
    responses: { 204: { description: 'Removed' } },
    async handler({ db, principal, params, audit }) {
      const platform = await repo.findPlatform(db, principal.tenantId, params.platformId);
      if (!platform) throw notFound('LTI platform');
      const client = await repo.findClient(db, platform.id, params.clientId);
      if (!client) throw notFound('LTI client id');
      await repo.deleteClient(db, platform.id, client.id);
      audit({ action: 'lti_platform.remove_client', targetType: 'lti_platform', targetId: platform.id, details: { client_id: client.client_id } });
      return undefined;
    },
  }),

  defineEndpoint({
    method: 'get', path: '/lti/platforms/:platformId/deployments', operationId: 'listLtiDeployments', tags,
    summary: 'List a platform\'s deployments',
    auth: read,
    params: PlatformParams,
    query: Type.Object({ ...paginationQuery }, { additionalProperties: false }),
    responses: { 200: { description: 'A page of deployments', schema: pageSchema(Deployment) } },
    async handler({ deps, principal, params, query }) {
      const platform = await repo.findPlatform(deps.db, principal.tenantId, params.platformId);
      if (!platform) throw notFound('LTI platform');
      const page = await repo.listDeployments(deps.db, { platformId: platform.id, limit: query.limit ?? 50, cursor: query.cursor });
      const clients = await repo.listClients(deps.db, platform.id);
      return { data: page.rows.map((d) => deploymentView(d, clients)), next_cursor: page.nextCursor };
    },
  }),

  defineEndpoint({
    method: 'post', path: '/lti/platforms/:platformId/deployments', operationId: 'addLtiDeployment', tags,
    summary: 'Register a deployment id',
    auth: write,
    params: PlatformParams,
    body: Type.Object({ client_id: ClientIdString, deployment_id: DeploymentIdString, label: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false }),
    responses: { 201: { description: 'Registered', schema: Deployment } },
    async handler({ deps, db, principal, params, body, audit }) {
      const platform = await repo.findPlatform(db, principal.tenantId, params.platformId);
      if (!platform) throw notFound('LTI platform');
      const deployment = await addDeployment(db, platform, body, 'manual', deps.clock.now());
      audit({ action: 'lti_deployment.create', targetType: 'lti_deployment', targetId: deployment.id, details: { platform_id: platform.id, client_id: body.client_id, deployment_id: body.deployment_id } });
      return deploymentView(deployment, await repo.listClients(db, platform.id));
    },
  }),

  defineEndpoint({
    method: 'delete', path: '/lti/platforms/:platformId/deployments/:deploymentId', operationId: 'deleteLtiDeployment', tags,
    summary: 'Remove a deployment',
    description: 'Launches from it are refused again (unless the platform auto-registers deployments). Its course links go with it.',
    auth: write,
    params: Type.Object({ platformId: Uuid(), deploymentId: Uuid('The id of the deployment row') }),
    responses: { 204: { description: 'Removed' } },
    async handler({ db, principal, params, audit }) {
      const platform = await repo.findPlatform(db, principal.tenantId, params.platformId);
      if (!platform) throw notFound('LTI platform');
      const deployment = await repo.findDeploymentById(db, platform.id, params.deploymentId);
      if (!deployment) throw notFound('LTI deployment');
      await repo.deleteDeployment(db, platform.id, deployment.id);
      audit({ action: 'lti_deployment.delete', targetType: 'lti_deployment', targetId: deployment.id, details: { platform_id: platform.id, deployment_id: deployment.deployment_id } });
      return undefined;
    },
  }),

  defineEndpoint({
    method: 'get', path: '/lti/registration-links', operationId: 'listLtiRegistrationLinks', tags,
    summary: 'List Dynamic Registration links',
    auth: read,
    query: Type.Object({ ...paginationQuery }, { additionalProperties: false }),
    responses: { 200: { description: 'A page of links (without their secret URL)', schema: pageSchema(RegistrationLink) } },
    async handler({ deps, principal, query }) {
      const page = await repo.listRegistrationLinks(deps.db, { tenantId: principal.tenantId, limit: query.limit ?? 50, cursor: query.cursor });
      return { data: page.rows.map(registrationLinkView), next_cursor: page.nextCursor };
    },
  }),

  defineEndpoint({
    method: 'post', path: '/lti/registration-links', operationId: 'createLtiRegistrationLink', tags,
    summary: 'Create a Dynamic Registration URL for an LMS',
    description: 'Paste the returned `url` into the LMS (Moodle: "Tool URL" under Manage tools; Canvas: LTI Registration by URL). It registers one platform into this tenant and then stops working.',
    auth: write,
    body: Type.Object({
      label: Type.Optional(Type.String({ maxLength: 200 })),
      expires_in_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 30, default: 7 })),
      auto_register_deployments: Type.Optional(Type.Boolean({ default: false, description: 'Whether launches from deployment ids the platform did not announce are accepted and registered' })),
    }, { additionalProperties: false }),
    responses: { 201: { description: 'The link; `url` is shown only now', schema: CreatedRegistrationLink } },
    async handler({ deps, db, principal, body, audit }) {
      const now = deps.clock.now();
      const { row, token } = await createRegistrationLink(db, {
        tenantId: principal.tenantId, label: body.label ?? '', autoRegisterDeployments: body.auto_register_deployments ?? false,
        createdBy: principal.userId, expiresAt: new Date(now.getTime() + (body.expires_in_days ?? 7) * 86_400_000), now,
      });
      audit({ action: 'lti_registration_link.create', targetType: 'lti_registration_link', targetId: row.id, details: { label: row.label, expires_at: row.expires_at.toISOString() } });
      return { ...registrationLinkView(row), url: `${deps.config.publicUrl}${registrationLinkPrefix}${token}` };
    },
  }),

  defineEndpoint({
    method: 'delete', path: '/lti/registration-links/:linkId', operationId: 'deleteLtiRegistrationLink', tags,
    summary: 'Revoke a Dynamic Registration link',
    auth: write,
    params: Type.Object({ linkId: Uuid() }),
    responses: { 204: { description: 'Revoked' } },
    async handler({ db, principal, params, audit }) {
      const link = await repo.findRegistrationLink(db, principal.tenantId, params.linkId);
      if (!link) throw notFound('Registration link');
      await repo.deleteRegistrationLink(db, principal.tenantId, link.id);
      audit({ action: 'lti_registration_link.delete', targetType: 'lti_registration_link', targetId: link.id });
      return undefined;
    },
  }),
];
