import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { AppDeps } from '../../../deps.js';
import type { RequestInfo } from '../../../http/request-info.js';
import { LtiError, isLtiError } from '../../core/errors.js';
import { errorPage, escapeHtml, renderPage, type Page } from '../../core/html.js';
import { insertLaunch } from '../launch-log/repository.js';
import { insertState, type LoginParams } from '../../core/repository.js';
import { lookupRegistration } from '../registrations/service.js';
import { findRegistrations, type Registration } from '../registrations/repository.js';

/** Login to launch must take less than this (LTI implementations use 5–10 minutes). */
export const stateTtlMs = 10 * 60_000;

export const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
const random = (bytes: number) => randomBytes(bytes).toString('base64url');

/** Cookie (and postMessage storage key) that ties a login state to the browser that started it. */
export function bindingName(stateId: string): string {
  return `cairn_lti_${stateId.slice(0, 24)}`;
}

export const launchPath = '/lti/launch';
export const loginPath = '/lti/login';

export interface BindingCookie {
  readonly name: string;
  readonly value: string;
  readonly secure: boolean;
}

export type LoginOutcome =
  | { readonly kind: 'redirect'; readonly location: string; readonly cookie: BindingCookie; readonly registration: Registration }
  | { readonly kind: 'page'; readonly page: Page; readonly cookie: BindingCookie; readonly registration: Registration };

function field(params: Readonly<Record<string, unknown>>, name: string, max: number, required: boolean): string | undefined {
  const value = params[name];
  if (value === undefined || value === '') {
    if (required) throw new LtiError('login_invalid', `The login request has no ${name}.`);
    return undefined;
  }
  if (typeof value !== 'string' || value.length > max) throw new LtiError('login_invalid', `The login request's ${name} is not a string of at most ${max} characters.`);
  return value;
}

/**
 * Third-party initiated login (Security Framework §5.1.1, LTI Core §4.1): checks what the
 * platform sent, stores a state with its nonce server-side, and sends the browser to the
 * platform's authentication endpoint. When the platform offers postMessage storage
 * (`lti_storage_target`), a relay page first stores the browser secret in the platform's
 * frame, for browsers that will not return the cookie.
 */
export async function initiateLogin(deps: AppDeps, params: Readonly<Record<string, unknown>>): Promise<LoginOutcome> {
  const iss = field(params, 'iss', 500, true)!;
  const loginHint = field(params, 'login_hint', 2000, true)!;
  const targetLinkUri = field(params, 'target_link_uri', 2000, true)!;
  const messageHint = field(params, 'lti_message_hint', 4000, false);
  const deploymentHint = field(params, 'lti_deployment_id', 255, false);
  const clientIdParam = field(params, 'client_id', 500, false);
  const storageTarget = field(params, 'lti_storage_target', 200, false);

  let target: URL;
  try {
    target = new URL(targetLinkUri);
  } catch {
    throw new LtiError('target_link_uri_invalid', 'The target_link_uri is not a URL.');
  }
  // Only Cairn's own pages: the launch must not become an open redirect.
  if (target.origin !== new URL(deps.config.publicUrl).origin) throw new LtiError('target_link_uri_invalid', `The target_link_uri ${target.origin} is not on ${deps.config.publicUrl}.`);

  const lookup = await lookupRegistration(deps.db, iss, clientIdParam);
  if ('missing' in lookup) throw new LtiError('registration_unknown', `No registration for issuer ${iss}${clientIdParam ? ` and client id ${clientIdParam}` : ''}.`);
  if ('ambiguous' in lookup) throw new LtiError('registration_unknown', `Issuer ${iss} has several client ids registered in Cairn; the platform must send client_id with the login.`);
  const registration = lookup.found;
  if (registration.platform.status !== 'active') throw new LtiError('registration_disabled');

  const state = random(32);
  const nonce = random(24);
  const binding = random(24);
  const stateId = sha256(state);
  const now = deps.clock.now();
  const login: LoginParams = {
    iss, login_hint: loginHint, target_link_uri: targetLinkUri, client_id: registration.client.client_id,
    ...(messageHint !== undefined ? { lti_message_hint: messageHint } : {}),
    ...(deploymentHint !== undefined ? { lti_deployment_id: deploymentHint } : {}),
    ...(storageTarget !== undefined ? { lti_storage_target: storageTarget } : {}),
  };
  await insertState(deps.db, {
    id: stateId, tenant_id: registration.platform.tenant_id, platform_client_id: registration.client.id, nonce, binding_hash: sha256(binding),
    target_link_uri: targetLinkUri, login, created_at: now, expires_at: new Date(now.getTime() + stateTtlMs),
  });

  const auth = new URL(registration.platform.auth_url);
  const query: Record<string, string> = {
    scope: 'openid', response_type: 'id_token', response_mode: 'form_post', prompt: 'none',
    client_id: registration.client.client_id, redirect_uri: `${deps.config.publicUrl}${launchPath}`,
    login_hint: loginHint, state, nonce,
    ...(messageHint !== undefined ? { lti_message_hint: messageHint } : {}),
  };
  for (const [k, v] of Object.entries(query)) auth.searchParams.set(k, v);
  const cookie = { name: bindingName(stateId), value: binding, secure: deps.config.publicUrl.startsWith('https:') };

  if (storageTarget === undefined) return { kind: 'redirect', location: auth.toString(), cookie, registration };
  const page = renderPage({
    title: 'Connecting…',
    body: `<p class="muted">Connecting to ${escapeHtml(registration.platform.name)}…</p>`
      + `<div id="lti-storage" data-mode="put" data-target="${escapeHtml(storageTarget)}" data-origin="${escapeHtml(auth.origin)}"`
      + ` data-key="${escapeHtml(cookie.name)}" data-value="${escapeHtml(binding)}" data-next="${escapeHtml(auth.toString())}"></div>`
      + `<noscript><p><a class="button" href="${escapeHtml(auth.toString())}">Continue</a></p></noscript>`,
    scripts: ['/lti/assets/storage.js'],
  });
  return { kind: 'page', page, cookie, registration };
}

/**
 * The login endpoint's whole answer: the redirect or relay page, or — for a refused login —
 * the human error page, with the refusal written to the launch log (step `login`).
 */
export async function handleLogin(deps: AppDeps, params: Readonly<Record<string, unknown>>, request: RequestInfo): Promise<LoginOutcome | { readonly kind: 'error'; readonly page: Page }> {
  try {
    return await initiateLogin(deps, params);
  } catch (caught) {
    const error = isLtiError(caught) ? caught : new LtiError('login_invalid', 'The login could not be processed.', { cause: caught });
    if (!isLtiError(caught)) deps.log.error({ err: caught, requestId: request.id }, 'LTI login failed unexpectedly');
    const launchId = randomUUID();
    const iss = typeof params['iss'] === 'string' ? params['iss'].slice(0, 500) : null;
    // Attributed to a tenant when every registration of the issuer is in one (an ambiguous or
    // disabled registration is still that tenant's problem to see).
    const candidates = iss ? await findRegistrations(deps.db, iss).catch(() => []) : [];
    const tenants = new Set(candidates.map((c) => c.platform.tenant_id));
    const registration = tenants.size === 1 ? candidates[0] : undefined;
    await insertLaunch(deps.db, {
      id: launchId, tenant_id: registration?.platform.tenant_id ?? null, platform_id: registration?.platform.id ?? null, issuer: iss,
      client_id: typeof params['client_id'] === 'string' ? params['client_id'].slice(0, 500) : null,
      deployment_id: typeof params['lti_deployment_id'] === 'string' ? params['lti_deployment_id'].slice(0, 255) : null,
      message_type: null, outcome: 'failure', error_code: error.code, failed_step: 'login', steps_passed: [], detail: error.message.slice(0, 1000),
      subject: null, user_id: null, course_id: null, course_item_id: null, resource_link_id: null, roles: [],
      ip: request.ip ?? null, user_agent: request.userAgent?.slice(0, 500) ?? null, request_id: request.id, duration_ms: null, created_at: deps.clock.now(),
    }).catch((e: unknown) => deps.log.error({ err: e }, 'could not write the LTI launch log'));
    return { kind: 'error', page: errorPage(error.code, { reference: launchId }) };
  }
}
