import { compactVerify, decodeProtectedHeader, errors as joseErrors, type CryptoKey, type ProtectedHeaderParameters } from 'jose';
import { claimNames, ltiVersion, messageTypes, type LtiMessage, type MessageType } from './claims.js';
import { LtiError, isLtiError, type LtiErrorCode } from './errors.js';
import { expandRoles } from './roles.js';
import type { KeyResolver } from './remote-jwks.js';

/**
 * The checks of an LTI message JWT, in the order of the Security Framework §5.1.3 and LTI
 * Core §5.3. Each step either passes or fails with its own code; the result lists the steps
 * that passed, which the launch log keeps as the audit trail of a launch.
 */
export const validationSteps = [
  'format', 'alg', 'kid', 'signature', 'iss', 'aud', 'azp', 'exp', 'iat', 'nonce',
  'deployment', 'message_type', 'version', 'claims', 'roles',
] as const;
export type ValidationStep = (typeof validationSteps)[number];

export interface MessageExpectations<D> {
  /** The registered issuer (exact string match). */
  readonly issuer: string;
  /** The client id this login used: must be an audience, and the azp when there are several. */
  readonly clientId: string;
  /** Every client id registered for this issuer: the other audiences Cairn trusts (asked only when a token names several). */
  trustedAudiences(): Promise<readonly string[]>;
  readonly keys: KeyResolver;
  /** Records a nonce; false when it was seen before (single use, kept in PostgreSQL). */
  consumeNonce(nonce: string, expiresAt: Date): Promise<boolean>;
  /** The nonce Cairn sent in the authentication request, when there was one. */
  readonly expectedNonce?: string;
  /** The registered deployment, or undefined when it is unknown (and may not be added). */
  resolveDeployment(deploymentId: string): Promise<D | undefined>;
  readonly messageTypes: readonly MessageType[];
  /** Whether an anonymous launch (no `sub`) is refused. Cairn's tool needs a learner to track. */
  readonly requireSubject: boolean;
  readonly now: Date;
  /** Seconds of clock difference tolerated on exp and iat. */
  readonly clockSkewSeconds?: number;
  /** A token issued longer ago than this is refused even if its exp says otherwise. */
  readonly maxAgeSeconds?: number;
}

export type ValidationResult<D> =
  | { readonly ok: true; readonly message: LtiMessage; readonly deployment: D; readonly steps: readonly ValidationStep[]; readonly header: ProtectedHeaderParameters }
  | { readonly ok: false; readonly error: LtiError; readonly failedStep: ValidationStep; readonly steps: readonly ValidationStep[]; readonly claims: Readonly<Record<string, unknown>> | undefined };

interface Context<D> {
  header?: ProtectedHeaderParameters;
  key?: CryptoKey;
  payload?: Record<string, unknown>;
  deployment?: D;
  roles?: string[];
}

function fail(code: LtiErrorCode, detail?: string): never {
  throw new LtiError(code, detail);
}

/**
 * Validates an LTI message JWT (an id_token from a platform, or a deep-linking response from a
 * tool) step by step. Never throws for a bad token: the result says which step failed and why.
 *
 * @example
 * const result = await validateMessageJwt(idToken, { issuer, clientId, trustedAudiences: [clientId], keys: jwks.resolver(jwksUrl), … });
 * if (!result.ok) log(result.failedStep, result.error.code);
 */
export async function validateMessageJwt<D>(token: string, expect: MessageExpectations<D>): Promise<ValidationResult<D>> {
  const skew = expect.clockSkewSeconds ?? 60;
  const maxAge = expect.maxAgeSeconds ?? 3600;
  const nowSeconds = Math.floor(expect.now.getTime() / 1000);
  const ctx: Context<D> = {};
  const payload = () => ctx.payload!;

  const steps: Record<ValidationStep, () => Promise<void> | void> = {
    format() {
      const parts = token.split('.');
      if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) fail('jwt_malformed', 'The token is not three base64url parts separated by dots.');
      try {
        ctx.header = decodeProtectedHeader(token);
        const body: unknown = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
        if (typeof body !== 'object' || body === null || Array.isArray(body)) fail('jwt_malformed', 'The token payload is not a JSON object.');
        ctx.payload = body as Record<string, unknown>;
      } catch (error) {
        if (isLtiError(error)) throw error;
        fail('jwt_malformed', 'The token header or payload is not valid base64url JSON.');
      }
    },
    alg() {
      const alg = ctx.header!.alg;
      if (alg !== 'RS256') fail('alg_not_allowed', `The token is signed with ${alg === undefined ? 'no algorithm' : `"${String(alg).slice(0, 20)}"`}; only RS256 is accepted.`);
    },
    async kid() {
      const kid = ctx.header!.kid;
      if (typeof kid !== 'string' || kid === '') fail('kid_missing');
      ctx.key = await expect.keys.getKey(kid!);
    },
    async signature() {
      try {
        await compactVerify(token, ctx.key!, { algorithms: ['RS256'] });
      } catch (error) {
        if (error instanceof joseErrors.JWSSignatureVerificationFailed || error instanceof joseErrors.JWSInvalid) fail('signature_invalid');
        throw error;
      }
    },
    iss() {
      if (payload()['iss'] !== expect.issuer) fail('iss_mismatch', `iss is ${JSON.stringify(payload()['iss'] ?? null)?.slice(0, 200)}, expected ${expect.issuer}.`);
    },
    async aud() {
      const aud = payload()['aud'];
      const list = typeof aud === 'string' ? [aud] : Array.isArray(aud) && aud.every((a) => typeof a === 'string') ? (aud as string[]) : undefined;
      if (!list || !list.includes(expect.clientId)) fail('aud_mismatch', `aud does not contain the client id ${expect.clientId}.`);
      const others = list.filter((a) => a !== expect.clientId);
      if (others.length === 0) return;
      const trusted = await expect.trustedAudiences();
      const untrusted = others.filter((a) => !trusted.includes(a));
      if (untrusted.length > 0) fail('aud_mismatch', `aud also names audiences Cairn does not trust: ${untrusted.slice(0, 3).join(', ')}.`);
    },
    azp() {
      const aud = payload()['aud'];
      const azp = payload()['azp'];
      if (Array.isArray(aud) && aud.length > 1 && azp === undefined) fail('azp_missing');
      if (azp !== undefined && azp !== expect.clientId) fail('azp_mismatch', `azp is ${JSON.stringify(azp).slice(0, 200)}, expected ${expect.clientId}.`);
    },
    exp() {
      const exp = payload()['exp'];
      if (typeof exp !== 'number') fail('token_expired', 'The token has no numeric exp claim.');
      if (nowSeconds > (exp as number) + skew) fail('token_expired', `The token expired at ${new Date((exp as number) * 1000).toISOString()}.`);
    },
    iat() {
      const iat = payload()['iat'];
      if (typeof iat !== 'number') fail('iat_invalid', 'The token has no numeric iat claim.');
      if ((iat as number) > nowSeconds + skew) fail('iat_invalid', 'The token was issued in the future; check the platform\'s clock.');
      if (nowSeconds - (iat as number) > maxAge + skew) fail('iat_invalid', `The token was issued more than ${maxAge} s ago.`);
    },
    async nonce() {
      const nonce = payload()['nonce'];
      if (typeof nonce !== 'string' || nonce === '') fail('nonce_missing');
      // Kept until the token could no longer pass the exp/iat checks anyway.
      const exp = payload()['exp'] as number;
      const keepUntil = new Date(Math.max(exp, nowSeconds + maxAge) * 1000 + 2 * skew * 1000);
      if (!(await expect.consumeNonce(nonce as string, keepUntil))) fail('nonce_replayed');
      if (expect.expectedNonce !== undefined && nonce !== expect.expectedNonce) fail('nonce_mismatch');
    },
    async deployment() {
      const deploymentId = payload()[claimNames.deploymentId];
      if (typeof deploymentId !== 'string' || deploymentId === '') fail('claim_missing', `The ${claimNames.deploymentId} claim is missing.`);
      const deployment = await expect.resolveDeployment(deploymentId as string);
      if (deployment === undefined) fail('deployment_unknown', `Deployment "${String(deploymentId).slice(0, 200)}" is not registered for this platform.`);
      ctx.deployment = deployment;
    },
    message_type() {
      const type = payload()[claimNames.messageType];
      if (typeof type !== 'string') fail('claim_missing', `The ${claimNames.messageType} claim is missing.`);
      if (!expect.messageTypes.includes(type as MessageType)) fail('message_type_unsupported', `Message type "${String(type).slice(0, 100)}" is not accepted here (accepted: ${expect.messageTypes.join(', ')}).`);
    },
    version() {
      const version = payload()[claimNames.version];
      if (version !== ltiVersion) fail('version_unsupported', `LTI version ${JSON.stringify(version ?? null).slice(0, 50)} is not ${ltiVersion}.`);
    },
    claims() {
      checkRequiredClaims(payload(), payload()[claimNames.messageType] as MessageType, expect.requireSubject);
    },
    roles() {
      ctx.roles = expandRoles(payload()[claimNames.roles] as string[]);
    },
  };

  const passed: ValidationStep[] = [];
  for (const name of validationSteps) {
    try {
      await steps[name]();
      passed.push(name);
    } catch (error) {
      const ltiError = isLtiError(error) ? error : new LtiError(name === 'kid' ? 'jwks_unavailable' : 'claim_invalid', undefined, { cause: error });
      return { ok: false, error: ltiError, failedStep: name, steps: passed, claims: ctx.payload };
    }
  }
  return { ok: true, message: toMessage(payload(), ctx.roles!, expect.clientId), deployment: ctx.deployment as D, steps: passed, header: ctx.header! };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** LTI Core §5.3 (resource link) and Deep Linking §4.4 (deep linking request) required claims. */
function checkRequiredClaims(p: Record<string, unknown>, type: MessageType, requireSubject: boolean): void {
  const missing = (claim: string) => fail('claim_missing', `The ${claim} claim is required for ${type}.`);
  const invalid = (claim: string, why: string) => fail('claim_invalid', `The ${claim} claim ${why}.`);
  if (requireSubject || p['sub'] !== undefined) {
    if (p['sub'] === undefined) missing('sub');
    if (typeof p['sub'] !== 'string' || p['sub'] === '' || p['sub'].length > 255) invalid('sub', 'must be a non-empty string of at most 255 characters');
  }
  if (p[claimNames.roles] === undefined) missing(claimNames.roles);
  if (!isStringArray(p[claimNames.roles])) invalid(claimNames.roles, 'must be an array of strings');
  if (type === 'LtiResourceLinkRequest') {
    if (p[claimNames.targetLinkUri] === undefined) missing(claimNames.targetLinkUri);
    const link = p[claimNames.resourceLink];
    if (link === undefined) missing(claimNames.resourceLink);
    if (!isObject(link) || typeof link['id'] !== 'string' || link['id'] === '') invalid(claimNames.resourceLink, 'must be an object with a non-empty string id');
  } else {
    const settings = p[claimNames.deepLinkingSettings];
    if (settings === undefined) missing(claimNames.deepLinkingSettings);
    if (!isObject(settings) || typeof settings['deep_link_return_url'] !== 'string') invalid(claimNames.deepLinkingSettings, 'must be an object with deep_link_return_url');
    const s = settings as Record<string, unknown>;
    if (!isStringArray(s['accept_types'])) invalid(claimNames.deepLinkingSettings, 'must list accept_types');
    if (!isStringArray(s['accept_presentation_document_targets'])) invalid(claimNames.deepLinkingSettings, 'must list accept_presentation_document_targets');
  }
  if (p[claimNames.targetLinkUri] !== undefined && typeof p[claimNames.targetLinkUri] !== 'string') invalid(claimNames.targetLinkUri, 'must be a string');
  const context = p[claimNames.context];
  if (context !== undefined && (!isObject(context) || typeof context['id'] !== 'string' || context['id'] === '')) invalid(claimNames.context, 'must be an object with a non-empty string id');
  if (isObject(context) && context['type'] !== undefined && !isStringArray(context['type'])) invalid(claimNames.context, 'type must be an array of strings');
  const custom = p[claimNames.custom];
  if (custom !== undefined && !isObject(custom)) invalid(claimNames.custom, 'must be an object');
  const ags = p[claimNames.agsEndpoint];
  if (ags !== undefined && (!isObject(ags) || !isStringArray(ags['scope']))) invalid(claimNames.agsEndpoint, 'must be an object with a scope array');
  const nrps = p[claimNames.nrps];
  if (nrps !== undefined && (!isObject(nrps) || typeof nrps['context_memberships_url'] !== 'string')) invalid(claimNames.nrps, 'must be an object with context_memberships_url');
}

const optionalString = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function toMessage(p: Record<string, unknown>, roles: string[], clientId: string): LtiMessage {
  const object = (name: string) => (isObject(p[name]) ? (p[name] as never) : undefined);
  const customRaw = isObject(p[claimNames.custom]) ? (p[claimNames.custom] as Record<string, unknown>) : {};
  // Custom values are strings by the spec; some platforms send numbers or booleans.
  const custom: Record<string, string> = {};
  for (const [k, v] of Object.entries(customRaw)) {
    if (typeof v === 'string') custom[k] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') custom[k] = String(v);
  }
  const nrps = object(claimNames.nrps) as { context_memberships_url: string; service_versions?: unknown } | undefined;
  return {
    issuer: p['iss'] as string,
    clientId,
    subject: optionalString(p['sub']),
    messageType: p[claimNames.messageType] as MessageType,
    version: p[claimNames.version] as string,
    deploymentId: p[claimNames.deploymentId] as string,
    targetLinkUri: (p[claimNames.targetLinkUri] as string | undefined) ?? '',
    roles,
    resourceLink: object(claimNames.resourceLink),
    context: object(claimNames.context),
    toolPlatform: object(claimNames.toolPlatform),
    launchPresentation: object(claimNames.launchPresentation),
    custom,
    agsEndpoint: object(claimNames.agsEndpoint),
    nrps: nrps ? { context_memberships_url: nrps.context_memberships_url, service_versions: isStringArray(nrps.service_versions) ? nrps.service_versions : ['2.0'] } : undefined,
    deepLinkingSettings: object(claimNames.deepLinkingSettings),
    name: optionalString(p['name']),
    givenName: optionalString(p['given_name']),
    familyName: optionalString(p['family_name']),
    email: optionalString(p['email']),
    nonce: p['nonce'] as string,
    payload: p,
  };
}

export { messageTypes };
