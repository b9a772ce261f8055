import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { AppDeps } from '../../../deps.js';
import { withTransaction } from '../../../db/index.js';
import type { RequestInfo } from '../../../http/request-info.js';
import { readCookie } from '../../../auth/middleware.js';
import { LtiError, isLtiError } from '../../core/errors.js';
import { errorPage, escapeHtml, renderPage, type Page } from '../../core/html.js';
import { consumeNonce, markStateUsed, type StateRow } from '../../core/repository.js';
import { validateMessageJwt, type ValidationStep } from '../../core/validation.js';
import type { LtiMessage } from '../../core/claims.js';
import { siblingClientIds, touchDeployment, type DeploymentRow, type Registration } from '../registrations/repository.js';
import { resolveDeployment } from '../registrations/service.js';
import { insertLaunch, type LaunchRow } from '../launch-log/repository.js';
import { provision, type Provisioned } from './provisioning.js';
import { findStateWithRegistration } from './repository.js';
import { launchHandlers } from './handlers.js';
import { bindingName, launchPath, loginPath, sha256 } from './login.js';

export type LaunchStep = 'login' | 'state' | 'id_token' | 'browser' | ValidationStep | 'target_link_uri' | 'login_deployment' | 'provisioning';

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
  let bound = false;

  const entry = (outcome: 'success' | 'failure', error?: LtiError, failedStep?: LaunchStep, steps: readonly LaunchStep[] = passed): LaunchRow => {
    const c = message?.payload ?? claims;
    const str = (v: unknown) => (typeof v === 'string' ? v.slice(0, 500) : null);
    const link = c?.['https://purl.imsglobal.org/spec/lti/claim/resource_link'] as { id?: unknown } | undefined;
    return {
      id: launchId, tenant_id: registration?.platform.tenant_id ?? null, platform_id: registration?.platform.id ?? null,
      issuer: registration?.platform.issuer ?? null, client_id: registration?.client.client_id ?? null,
      deployment_id: message?.deploymentId ?? str(c?.['https://purl.imsglobal.org/spec/lti/claim/deployment_id']) ?? stateRow?.login.lti_deployment_id ?? null,
      message_type: message?.messageType ?? str(c?.['https://purl.imsglobal.org/spec/lti/claim/message_type']),
      outcome, error_code: error?.code ?? null, failed_step: failedStep ?? null, steps_passed: [...steps],
      detail: error ? error.message.slice(0, 1000) : null,
      // Only claims whose signature verified are trusted enough to record who launched.
      subject: steps.includes('signature') ? str(c?.['sub']) : null,
      user_id: provisioned?.user.id ?? null, course_id: provisioned?.course?.id ?? null, course_item_id: provisioned?.item?.id ?? null,
      resource_link_id: steps.includes('signature') ? str(link?.id) : null,
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
      const found = await findStateWithRegistration(deps.db, sha256(state));
      stateRow = found?.state;
      registration = found?.registration;
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
    passed.push('browser');
    bound = true;

    // One transaction, one commit, from spending the state to the launch-log entry. A refusal
    // rolls it back; the catch below then spends the state and logs the refusal in one commit.
    const reg = registration;
    const row = stateRow;
    const handlerTypes = launchHandlers.map((h) => h.messageType);
    const done = await withTransaction(deps.db, async (tx) => {
      // Login state, nonces and provisioning are recreated by launching again: a crash may lose
      // the last fraction of a second of them rather than every launch waiting for a WAL flush.
      const steps: LaunchStep[] = [];
      if (!(await markStateUsed(tx, row.id, now, { relaxCommit: true }))) throw new LaunchRefusal(new LtiError('state_used'), 'browser', steps);
      const result = await validateMessageJwt<DeploymentRow>(idToken, {
        issuer: reg.platform.issuer,
        clientId: reg.client.client_id,
        trustedAudiences: () => siblingClientIds(tx, reg.platform.id),
        keys: deps.lti.remoteJwks.resolver(reg.platform.jwks_url),
        consumeNonce: (nonce, expiresAt) => consumeNonce(tx, `id_token:${reg.platform.issuer}`, nonce, expiresAt),
        expectedNonce: row.nonce,
        resolveDeployment: (deploymentId) => resolveDeployment(tx, reg, deploymentId, now),
        messageTypes: handlerTypes,
        requireSubject: true,
        now,
      });
      steps.push(...result.steps);
      if (!result.ok) throw new LaunchRefusal(result.error, result.failedStep, steps, result.claims);
      const validated = result.message;
      if (validated.targetLinkUri && validated.targetLinkUri !== row.target_link_uri) {
        throw new LaunchRefusal(new LtiError('target_link_uri_mismatch', `The token's target_link_uri is ${validated.targetLinkUri.slice(0, 300)}; the login named ${row.target_link_uri.slice(0, 300)}.`), 'target_link_uri', steps, validated.payload);
      }
      steps.push('target_link_uri');
      // LTI Core 1.3 §4.1 (login initiation): lti_deployment_id, when sent, "MUST contain the
      // same deployment id" as the launch's deployment_id claim.
      const loginDeployment = row.login.lti_deployment_id;
      if (loginDeployment !== undefined && loginDeployment !== validated.deploymentId) {
        throw new LaunchRefusal(new LtiError('deployment_mismatch', `The token's deployment_id is ${validated.deploymentId.slice(0, 255)}; the login named ${loginDeployment}.`), 'login_deployment', steps, validated.payload);
      }
      steps.push('login_deployment');
      try {
        const handler = launchHandlers.find((h) => h.messageType === validated.messageType)!;
        const made = await provision(tx, { tenantId: reg.platform.tenant_id, deployment: result.deployment, message: validated, now });
        const target = await handler.handle({ deps, db: tx, message: validated, registration: reg, deployment: result.deployment, provisioned: made, launchId, now });
        steps.push('provisioning');
        message = validated;
        provisioned = made;
        await insertLaunch(tx, entry('success', undefined, undefined, [...passed, ...steps]));
        return { target, steps, deployment: result.deployment };
      } catch (error) {
        message = validated;
        throw new LaunchRefusal(isLtiError(error) ? error : new LtiError('provisioning_failed', 'An unexpected error stopped the launch.', { cause: error }), 'provisioning', steps, undefined, error);
      }
    });
    passed.push(...done.steps);
    // Outside the transaction: a shared row, not worth holding its lock until commit.
    await touchDeployment(deps.db, done.deployment, now).catch((e: unknown) => deps.log.warn({ err: e }, 'could not record the deployment\'s last launch'));
    const destination = done.target;
    return 'redirect' in destination
      ? { kind: 'redirect', location: destination.redirect, clearCookie: cookieName, launchId }
      : { kind: 'page', page: destination.page, clearCookie: cookieName, launchId };
  } catch (thrown) {
    let caught = thrown;
    if (thrown instanceof LaunchRefusal) {
      step = thrown.step;
      passed.push(...thrown.steps);
      claims = thrown.claims ?? claims;
      // An unexpected error keeps its identity so it is logged with its stack; the learner sees provisioning_failed.
      caught = thrown.original !== undefined && !isLtiError(thrown.original) ? thrown.original : thrown.error;
    }
    const error = isLtiError(caught) ? caught : new LtiError('provisioning_failed', 'An unexpected error stopped the launch.', { cause: caught });
    if (!isLtiError(caught)) deps.log.error({ err: caught, launchId, requestId: request.id }, 'LTI launch failed unexpectedly');
    else deps.log.info({ launchId, code: error.code, step, requestId: request.id }, 'LTI launch refused');
    await withTransaction(deps.db, async (tx) => {
      // A refused launch still spends its state: the same state cannot be tried with another token.
      if (bound && stateRow) await markStateUsed(tx, stateRow.id, now);
      await insertLaunch(tx, entry('failure', error, step));
    }).catch((e: unknown) => deps.log.error({ err: e, launchId }, 'could not write the LTI launch log'));
    const retry = error.code === 'state_not_bound' && stateRow ? { label: 'Open in a new window', href: restartUrl(deps, stateRow), newWindow: true } : undefined;
    return { kind: 'page', page: errorPage(error.code, { reference: launchId, ...(retry ? { action: retry } : {}) }), launchId };
  }
}

/** A refusal inside the launch transaction: carries what the catch needs once it rolled back. */
class LaunchRefusal extends Error {
  constructor(
    readonly error: LtiError,
    readonly step: LaunchStep,
    readonly steps: readonly LaunchStep[],
    readonly claims?: Readonly<Record<string, unknown>>,
    readonly original?: unknown,
  ) {
    super(error.message);
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
