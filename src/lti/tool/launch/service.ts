import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { AppDeps } from '../../../deps.js';
import { withTransaction } from '../../../db/index.js';
import type { RequestInfo } from '../../../http/request-info.js';
import { readCookie } from '../../../auth/middleware.js';
import { LtiError, isLtiError } from '../../core/errors.js';
import { errorPage, escapeHtml, renderPage, type Page } from '../../core/html.js';
import { consumeNonce, findState, markStateUsed, type StateRow } from '../../core/repository.js';
import { validateMessageJwt, type ValidationStep } from '../../core/validation.js';
import type { LtiMessage } from '../../core/claims.js';
import { findRegistrationByClientRowId, siblingClientIds, touchDeployment, type DeploymentRow, type Registration } from '../registrations/repository.js';
import { resolveDeployment } from '../registrations/service.js';
import { insertLaunch, type LaunchRow } from '../launch-log/repository.js';
import { provision, type Provisioned } from './provisioning.js';
import { launchHandlers } from './handlers.js';
import { bindingName, launchPath, loginPath, sha256 } from './login.js';

export type LaunchStep = 'login' | 'state' | 'id_token' | 'browser' | ValidationStep | 'target_link_uri' | 'provisioning';

export type LaunchOutcome =
  | { readonly kind: 'redirect'; readonly location: string; readonly clearCookie?: string; readonly launchId: string }
  | { readonly kind: 'page'; readonly page: Page; readonly clearCookie?: string; readonly launchId?: string };

const text = (value: unknown, max = 20_000): string | undefined => (typeof value === 'string' && value !== '' ? value.slice(0, max) : undefined);

function sameHash(provided: string, expectedHex: string): boolean {
  const a = Buffer.from(sha256(provided), 'hex');
  const b = Buffer.from(expectedHex, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The redirect_uri: the platform's authentication response (form_post of id_token and state).
 * State → browser binding → id_token checks → provisioning → the message type's handler.
 * Every outcome but the relay page is written to the launch log; a refused launch shows the
 * learner a page saying what went wrong, never a stack trace.
 */
export async function completeLaunch(deps: AppDeps, form: Readonly<Record<string, unknown>>, cookieHeader: string | undefined, request: RequestInfo): Promise<LaunchOutcome> {
  const startedAt = performance.now();
  const now = deps.clock.now();
  const launchId = randomUUID();
  const passed: LaunchStep[] = [];
  let step: LaunchStep = 'state';
  let stateRow: StateRow | undefined;
  let registration: Registration | undefined;
  let message: LtiMessage | undefined;
  let claims: Readonly<Record<string, unknown>> | undefined;
  let provisioned: Provisioned | undefined;

  const entry = (outcome: 'success' | 'failure', error?: LtiError, failedStep?: LaunchStep): LaunchRow => {
    const c = message?.payload ?? claims;
    const str = (v: unknown) => (typeof v === 'string' ? v.slice(0, 500) : null);
    const link = c?.['https://purl.imsglobal.org/spec/lti/claim/resource_link'] as { id?: unknown } | undefined;
    return {
      id: launchId, tenant_id: registration?.platform.tenant_id ?? null, platform_id: registration?.platform.id ?? null,
      issuer: registration?.platform.issuer ?? null, client_id: registration?.client.client_id ?? null,
      deployment_id: message?.deploymentId ?? str(c?.['https://purl.imsglobal.org/spec/lti/claim/deployment_id']) ?? stateRow?.login.lti_deployment_id ?? null,
      message_type: message?.messageType ?? str(c?.['https://purl.imsglobal.org/spec/lti/claim/message_type']),
      outcome, error_code: error?.code ?? null, failed_step: failedStep ?? null, steps_passed: [...passed],
      detail: error ? error.message.slice(0, 1000) : null,
      // Only claims whose signature verified are trusted enough to record who launched.
      subject: passed.includes('signature') ? str(c?.['sub']) : null,
      user_id: provisioned?.user.id ?? null, course_id: provisioned?.course?.id ?? null, course_item_id: provisioned?.item?.id ?? null,
      resource_link_id: passed.includes('signature') ? str(link?.id) : null,
      roles: message ? [...message.roles] : [],
      ip: request.ip ?? null, user_agent: request.userAgent?.slice(0, 500) ?? null, request_id: request.id,
      duration_ms: Math.round(performance.now() - startedAt), created_at: now,
    };
  };

  try {
    const state = text(form['state'], 200);
    const platformError = text(form['error'], 200);
    if (!state && !platformError) throw new LtiError('state_missing');
    if (state) {
      stateRow = await findState(deps.db, sha256(state));
      if (stateRow) registration = await findRegistrationByClientRowId(deps.db, stateRow.platform_client_id);
    }
    if (platformError) {
      throw new LtiError('platform_error', `The platform answered "${platformError}"${text(form['error_description'], 300) ? `: ${text(form['error_description'], 300)}` : ''}.`);
    }
    if (!stateRow || !registration) throw new LtiError('state_unknown');
    if (stateRow.used_at) throw new LtiError('state_used');
    if (stateRow.expires_at <= now) throw new LtiError('state_expired');
    passed.push('state');

    step = 'id_token';
    const idToken = text(form['id_token'], 100_000);
    if (!idToken) throw new LtiError('id_token_missing');
    passed.push('id_token');

    step = 'browser';
    const cookieName = bindingName(stateRow.id);
    const provided = readCookie(cookieHeader, cookieName) ?? text(form['lti_storage_value'], 200);
    if (!provided) {
      const storageError = text(form['lti_storage_error'], 100);
      if (stateRow.login.lti_storage_target && !storageError) {
        // No cookie came back: ask the platform's storage frame for the secret, then post again.
        return { kind: 'page', page: relayPage(registration, stateRow, idToken, state!) };
      }
      throw new LtiError('state_not_bound', storageError ? `The platform's postMessage storage answered: ${storageError}.` : undefined);
    }
    if (!sameHash(provided, stateRow.binding_hash)) throw new LtiError('state_binding_mismatch');
    if (!(await markStateUsed(deps.db, stateRow.id, now))) throw new LtiError('state_used');
    passed.push('browser');

    const reg = registration;
    const result = await validateMessageJwt<DeploymentRow>(idToken, {
      issuer: reg.platform.issuer,
      clientId: reg.client.client_id,
      trustedAudiences: () => siblingClientIds(deps.db, reg.platform.id),
      keys: deps.lti.remoteJwks.resolver(reg.platform.jwks_url),
      consumeNonce: (nonce, expiresAt) => consumeNonce(deps.db, `id_token:${reg.platform.issuer}`, nonce, expiresAt),
      expectedNonce: stateRow.nonce,
      resolveDeployment: (deploymentId) => resolveDeployment(deps.db, reg, deploymentId, now),
      messageTypes: launchHandlers.map((h) => h.messageType),
      requireSubject: true,
      now,
    });
    passed.push(...result.steps);
    if (!result.ok) {
      step = result.failedStep;
      claims = result.claims;
      throw result.error;
    }
    message = result.message;

    step = 'target_link_uri';
    if (message.targetLinkUri && message.targetLinkUri !== stateRow.target_link_uri) {
      throw new LtiError('target_link_uri_mismatch', `The token's target_link_uri is ${message.targetLinkUri.slice(0, 300)}; the login named ${stateRow.target_link_uri.slice(0, 300)}.`);
    }
    passed.push('target_link_uri');

    step = 'provisioning';
    const handler = launchHandlers.find((h) => h.messageType === message!.messageType)!;
    const deployment = result.deployment;
    const destination = await withTransaction(deps.db, async (tx) => {
      provisioned = await provision(tx, { tenantId: reg.platform.tenant_id, deployment, message: message!, now });
      const target = await handler.handle({ deps, db: tx, message: message!, registration: reg, deployment, provisioned, launchId, now });
      passed.push('provisioning');
      await touchDeployment(tx, deployment.id, now);
      await insertLaunch(tx, entry('success'));
      return target;
    });
    return 'redirect' in destination
      ? { kind: 'redirect', location: destination.redirect, clearCookie: cookieName, launchId }
      : { kind: 'page', page: destination.page, clearCookie: cookieName, launchId };
  } catch (caught) {
    const error = isLtiError(caught) ? caught : new LtiError('provisioning_failed', 'An unexpected error stopped the launch.', { cause: caught });
    if (!isLtiError(caught)) deps.log.error({ err: caught, launchId, requestId: request.id }, 'LTI launch failed unexpectedly');
    else deps.log.info({ launchId, code: error.code, step, requestId: request.id }, 'LTI launch refused');
    await insertLaunch(deps.db, entry('failure', error, step)).catch((e: unknown) => deps.log.error({ err: e, launchId }, 'could not write the LTI launch log'));
    const retry = error.code === 'state_not_bound' && stateRow ? { label: 'Open in a new window', href: restartUrl(deps, stateRow), newWindow: true } : undefined;
    return { kind: 'page', page: errorPage(error.code, { reference: launchId, ...(retry ? { action: retry } : {}) }), launchId };
  }
}

/** The launch again, but reading the browser secret from the platform's postMessage storage. */
function relayPage(registration: Registration, stateRow: StateRow, idToken: string, state: string): Page {
  return renderPage({
    title: 'Connecting…',
    body: `<p class="muted">Checking your browser with ${escapeHtml(registration.platform.name)}…</p>`
      + `<form id="cairn-relay" method="post" action="${launchPath}"><input type="hidden" name="id_token" value="${escapeHtml(idToken)}"><input type="hidden" name="state" value="${escapeHtml(state)}"></form>`
      + `<div id="lti-storage" data-mode="get" data-target="${escapeHtml(stateRow.login.lti_storage_target ?? '_parent')}" data-origin="${escapeHtml(new URL(registration.platform.auth_url).origin)}" data-key="${escapeHtml(bindingName(stateRow.id))}"></div>`,
    scripts: ['/lti/assets/storage.js'],
  });
}

/** A new login in a top-level window, where Cairn's cookie is first-party and comes back. */
function restartUrl(deps: AppDeps, stateRow: StateRow): string {
  const url = new URL(`${deps.config.publicUrl}${loginPath}`);
  const { lti_storage_target: _ignored, ...params } = stateRow.login;
  for (const [k, v] of Object.entries(params)) if (typeof v === 'string') url.searchParams.set(k, v);
  return url.toString();
}
