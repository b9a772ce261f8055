import { randomBytes } from 'node:crypto';
import type { AppDeps } from '../../../deps.js';
import { withTransaction, type Queryable } from '../../../db/index.js';
import { recordAudit } from '../../../audit/repository.js';
import type { RequestInfo } from '../../../http/request-info.js';
import { LtiError } from '../../core/errors.js';
import { escapeHtml, renderPage, type Page } from '../../core/html.js';
import * as repo from '../registrations/repository.js';
import { addClient, createPlatform } from '../registrations/service.js';
import { launchHandlers } from '../launch/handlers.js';
import { launchPath, loginPath, sha256 } from '../launch/login.js';

export const registrationLinkPrefix = '/lti/register/';
export const toolConfigurationClaim = 'https://purl.imsglobal.org/spec/lti-tool-configuration';
export const platformConfigurationClaim = 'https://purl.imsglobal.org/spec/lti-platform-configuration';

/** AGS and NRPS scopes Cairn asks for, when the platform offers them. */
export const advantageScopes = [
  'https://purl.imsglobal.org/spec/lti-ags/scope/lineitem',
  'https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly',
  'https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly',
  'https://purl.imsglobal.org/spec/lti-ags/scope/score',
  'https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly',
] as const;

export const toolName = 'Cairn';
export const toolDescription = 'SCORM packages, xAPI and course activities from Cairn, launched with LTI 1.3.';

/** The URLs a platform needs to know about Cairn, whatever the registration method. */
export function toolUrls(publicUrl: string) {
  return {
    login_url: `${publicUrl}${loginPath}`,
    redirect_uris: [`${publicUrl}${launchPath}`],
    target_link_uri: `${publicUrl}${launchPath}`,
    jwks_url: `${publicUrl}/.well-known/jwks.json`,
    canvas_configuration_url: `${publicUrl}/lti/canvas.json`,
    // Moodle compares this with the redirect and login hosts, ports included.
    domain: new URL(publicUrl).host,
  };
}

/** A Dynamic Registration URL for one tenant; the token is shown once and stored hashed. */
export async function createRegistrationLink(db: Queryable, input: { tenantId: string; label: string; autoRegisterDeployments: boolean; createdBy: string; expiresAt: Date; now: Date }): Promise<{ row: repo.RegistrationLinkRow; token: string }> {
  const token = `cairn_reg_${randomBytes(24).toString('base64url')}`;
  const row = await repo.insertRegistrationLink(db, {
    tenant_id: input.tenantId, token_hash: sha256(token), label: input.label, auto_register_deployments: input.autoRegisterDeployments,
    created_by: input.createdBy, created_at: input.now, expires_at: input.expiresAt,
  });
  return { row, token };
}

interface PlatformConfiguration {
  readonly issuer: string;
  readonly authorization_endpoint: string;
  readonly token_endpoint?: string;
  readonly jwks_uri: string;
  readonly registration_endpoint: string;
  readonly scopes_supported?: readonly string[];
  readonly [platformConfigurationClaim]?: { product_family_code?: string; version?: string; messages_supported?: readonly { type: string; placements?: readonly string[] }[] };
  readonly [key: string]: unknown;
}

const timeoutMs = 10_000;
const maxBytes = 512 * 1024;

async function fetchJson(url: string, init: RequestInit, failure: 'platform_configuration_invalid' | 'registration_refused'): Promise<{ status: number; body: unknown }> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
  } catch (error) {
    throw new LtiError(failure, `${url} could not be reached (${(error as Error).message}).`, { cause: error });
  }
  const text = await response.text();
  if (text.length > maxBytes) throw new LtiError(failure, `${url} answered with more than ${maxBytes} bytes.`);
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // reported by the callers with the status
  }
  if (!response.ok) {
    const reason = typeof body === 'object' && body !== null ? ((body as Record<string, unknown>)['error_description'] ?? (body as Record<string, unknown>)['error']) : text.slice(0, 200);
    throw new LtiError(failure, `${url} answered ${response.status}${reason ? `: ${String(reason).slice(0, 300)}` : ''}.`);
  }
  if (typeof body !== 'object' || body === null) throw new LtiError(failure, `${url} did not answer with a JSON object.`);
  return { status: response.status, body };
}

const isUrl = (v: unknown): v is string => {
  if (typeof v !== 'string') return false;
  try {
    return ['http:', 'https:'].includes(new URL(v).protocol);
  } catch {
    return false;
  }
};

/** DR 1.0 §3.5: what Cairn needs from the platform's openid-configuration, checked before anything is posted. */
function checkConfiguration(body: Record<string, unknown>, configurationUrl: URL): PlatformConfiguration {
  const bad = (why: string) => new LtiError('platform_configuration_invalid', `The platform configuration ${why}.`);
  if (typeof body['issuer'] !== 'string' || body['issuer'] === '') throw bad('has no issuer');
  let issuerHost: string;
  try {
    issuerHost = new URL(body['issuer']).host;
  } catch {
    throw bad('has an issuer that is not a URL');
  }
  // The configuration must come from the issuer's own host (DR 1.0 §3.5.1), or anyone could register as any platform.
  if (issuerHost !== configurationUrl.host) throw bad(`names issuer ${body['issuer']} but was served by ${configurationUrl.host}`);
  for (const name of ['authorization_endpoint', 'jwks_uri', 'registration_endpoint'] as const) {
    if (!isUrl(body[name])) throw bad(`has no usable ${name}`);
  }
  if (body['token_endpoint'] !== undefined && !isUrl(body['token_endpoint'])) throw bad('has a token_endpoint that is not a URL');
  const algs = body['id_token_signing_alg_values_supported'];
  if (Array.isArray(algs) && !algs.includes('RS256')) throw bad('does not offer RS256-signed id_tokens');
  return body as unknown as PlatformConfiguration;
}

export interface DynamicRegistrationResult {
  readonly page: Page;
  readonly platformId: string;
  readonly clientId: string;
}

/**
 * LTI Dynamic Registration 1.0, tool side: the LMS opens Cairn's registration URL with
 * `openid_configuration` (and usually `registration_token`); Cairn reads the platform's
 * configuration, posts its own registration, stores the answer in the link's tenant and
 * ends with the page that asks the LMS to close its window.
 */
export async function performDynamicRegistration(deps: AppDeps, linkToken: string, query: Readonly<Record<string, unknown>>, request: RequestInfo): Promise<DynamicRegistrationResult> {
  const now = deps.clock.now();
  const link = await repo.findRegistrationLinkByHash(deps.db, sha256(linkToken));
  if (!link || link.used_at || link.expires_at <= now) throw new LtiError('registration_link_invalid');

  const configurationParam = query['openid_configuration'];
  if (typeof configurationParam !== 'string' || !isUrl(configurationParam)) throw new LtiError('registration_request_invalid', 'openid_configuration is missing or not an http(s) URL.');
  const registrationToken = typeof query['registration_token'] === 'string' && query['registration_token'] !== '' ? query['registration_token'] : undefined;
  const auth: Record<string, string> = registrationToken ? { authorization: `Bearer ${registrationToken}` } : {};

  const configurationUrl = new URL(configurationParam);
  const fetched = await fetchJson(configurationUrl.toString(), { headers: { accept: 'application/json', ...auth } }, 'platform_configuration_invalid');
  const configuration = checkConfiguration(fetched.body as Record<string, unknown>, configurationUrl);

  const urls = toolUrls(deps.config.publicUrl);
  const offered = configuration.scopes_supported;
  const scopes = advantageScopes.filter((s) => !offered || offered.includes(s));
  const supported = configuration[platformConfigurationClaim]?.messages_supported?.map((m) => m.type);
  const messages = launchHandlers
    .map((h) => h.messageType)
    .filter((type) => type === 'LtiResourceLinkRequest' || !supported || supported.includes(type))
    .map((type) => (type === 'LtiDeepLinkingRequest'
      ? { type, target_link_uri: urls.target_link_uri, label: `${toolName} content` }
      : { type, target_link_uri: urls.target_link_uri, label: toolName }));
  const registrationRequest = {
    application_type: 'web',
    response_types: ['id_token'],
    grant_types: ['implicit', 'client_credentials'],
    initiate_login_uri: urls.login_url,
    redirect_uris: urls.redirect_uris,
    client_name: toolName,
    jwks_uri: urls.jwks_url,
    token_endpoint_auth_method: 'private_key_jwt',
    scope: scopes.join(' '),
    [toolConfigurationClaim]: {
      domain: urls.domain,
      description: toolDescription,
      target_link_uri: urls.target_link_uri,
      claims: ['iss', 'sub', 'name', 'given_name', 'family_name', 'email'],
      messages,
    },
  };
  const posted = await fetchJson(configuration.registration_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...auth },
    body: JSON.stringify(registrationRequest),
  }, 'registration_refused');
  const answer = posted.body as Record<string, unknown>;
  if (typeof answer['client_id'] !== 'string' || answer['client_id'] === '') throw new LtiError('registration_refused', 'The platform accepted the registration but returned no client_id.');
  const clientId = answer['client_id'];
  const toolConfiguration = answer[toolConfigurationClaim] as { deployment_id?: unknown } | undefined;
  const deploymentId = typeof toolConfiguration?.deployment_id === 'string' && toolConfiguration.deployment_id !== '' ? toolConfiguration.deployment_id : undefined;
  const productFamily = configuration[platformConfigurationClaim]?.product_family_code;
  const platformName = typeof productFamily === 'string' ? `${productFamily} (${new URL(configuration.issuer).host})` : new URL(configuration.issuer).host;

  const platformId = await withTransaction(deps.db, async (tx) => {
    let platform = await repo.findPlatformByIssuer(tx, link.tenant_id, configuration.issuer);
    if (platform) {
      platform = (await repo.updatePlatform(tx, link.tenant_id, platform.id, {
        auth_url: configuration.authorization_endpoint, token_url: configuration.token_endpoint ?? platform.token_url,
        jwks_url: configuration.jwks_uri, platform_configuration: configuration as unknown as Record<string, unknown>,
      }, now))!;
    } else {
      const created = await createPlatform(tx, link.tenant_id, {
        name: platformName, issuer: configuration.issuer, auth_url: configuration.authorization_endpoint,
        token_url: configuration.token_endpoint ?? null, jwks_url: configuration.jwks_uri, auto_register_deployments: link.auto_register_deployments,
      }, 'dynamic', now, configuration as unknown as Record<string, unknown>);
      platform = created.platform;
    }
    let client: repo.ClientRow;
    try {
      client = await addClient(tx, platform, { client_id: clientId, label: link.label, registration: answer }, 'dynamic', now);
    } catch (error) {
      throw new LtiError('registration_conflict', `Client id ${clientId} of ${configuration.issuer} is already registered in Cairn.`, { cause: error });
    }
    if (deploymentId) {
      await repo.upsertDeployment(tx, { tenant_id: link.tenant_id, platform_id: platform.id, platform_client_id: client.id, deployment_id: deploymentId, label: '', source: 'dynamic' }, now);
    }
    if (!(await repo.markRegistrationLinkUsed(tx, link.id, platform.id, now))) throw new LtiError('registration_link_invalid', 'The registration link was used by another registration at the same moment.');
    await recordAudit(tx, [{
      action: 'lti_platform.register_dynamic', tenantId: link.tenant_id, actorLabel: `dynamic registration (${link.label || link.id})`,
      targetType: 'lti_platform', targetId: platform.id, principal: undefined, request, at: now,
      details: { issuer: configuration.issuer, client_id: clientId, deployment_id: deploymentId ?? null, registration_link_id: link.id, product_family_code: productFamily ?? null },
    }]);
    return platform.id;
  });
  deps.lti.remoteJwks.invalidate(configuration.jwks_uri);

  const page = renderPage({
    title: 'Cairn registered',
    body: `<h1>Cairn is registered</h1><div class="box"><p>${escapeHtml(platformName)} can now launch Cairn (client id <code>${escapeHtml(clientId)}</code>${deploymentId ? `, deployment <code>${escapeHtml(deploymentId)}</code>` : ''}).</p>`
      + `<p class="muted">Some platforms (Moodle) list a newly registered tool as pending until an administrator activates it.</p></div><p class="muted">This window closes by itself; if it does not, close it.</p>`,
    scripts: ['/lti/assets/close.js'],
  });
  return { page, platformId, clientId };
}
