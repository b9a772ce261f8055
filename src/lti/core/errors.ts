/**
 * Why an LTI message or flow was refused: a closed list, so a `switch` over `LtiError.code`
 * is exhaustive and the launch log, the HTML page and the docs (docs/lti.md) all speak of the
 * same codes. Each code belongs to exactly one validation step.
 */
export const ltiErrorCatalogue = {
  // OIDC login initiation (tool role)
  login_invalid: { status: 400, title: 'Invalid login request', hint: 'The platform sent a login initiation without iss, login_hint or target_link_uri, or with a malformed value.' },
  registration_unknown: { status: 400, title: 'Unknown platform registration', hint: 'No platform is registered in Cairn with this issuer and client id. An administrator must register the platform first.' },
  registration_disabled: { status: 403, title: 'Platform registration disabled', hint: 'The platform is registered but an administrator disabled it.' },
  target_link_uri_invalid: { status: 400, title: 'Invalid target link', hint: 'The target_link_uri does not point at this Cairn installation.' },

  // Authentication response (launch endpoint), state and browser binding
  platform_error: { status: 400, title: 'The platform refused the login', hint: 'The platform answered the authentication request with an error instead of an id_token.' },
  id_token_missing: { status: 400, title: 'No id_token', hint: 'The launch request carried no id_token.' },
  state_missing: { status: 400, title: 'No state', hint: 'The launch request carried no state parameter.' },
  state_unknown: { status: 400, title: 'Unknown state', hint: 'The state was not issued by Cairn, or it has already been cleaned up.' },
  state_expired: { status: 400, title: 'Login took too long', hint: 'More than ten minutes passed between the login and the launch.' },
  state_used: { status: 400, title: 'Launch already used', hint: 'This launch was already completed; a launch can be used only once. Reload the page in the platform.' },
  state_not_bound: { status: 400, title: 'Browser could not be verified', hint: 'The browser did not send back the cookie set at login and the platform offers no postMessage storage (third-party cookies are probably blocked).' },
  state_binding_mismatch: { status: 400, title: 'Browser mismatch', hint: 'The launch arrived in a different browser from the one that started the login.' },

  // id_token checks, in the order of the Security Framework §5.1.3
  jwt_malformed: { status: 400, title: 'Malformed token', hint: 'The token is not a compact JWS with a JSON header and payload.' },
  alg_not_allowed: { status: 401, title: 'Signature algorithm not allowed', hint: 'Only RS256 is accepted; `none` and symmetric algorithms are refused.' },
  kid_missing: { status: 401, title: 'No key id', hint: 'The token header has no kid, so the signing key cannot be chosen.' },
  jwks_unavailable: { status: 502, title: 'Platform keys unavailable', hint: 'The platform\'s JWKS URL could not be fetched or is not a valid key set.' },
  kid_unknown: { status: 401, title: 'Unknown signing key', hint: 'No key with this kid is in the platform\'s JWKS, even after fetching it again.' },
  signature_invalid: { status: 401, title: 'Bad signature', hint: 'The signature does not verify with the platform\'s key.' },
  iss_mismatch: { status: 401, title: 'Wrong issuer', hint: 'The token\'s iss is not the registered issuer.' },
  aud_mismatch: { status: 401, title: 'Wrong audience', hint: 'The token\'s aud does not contain Cairn\'s client id, or names audiences Cairn does not trust.' },
  azp_missing: { status: 401, title: 'No authorized party', hint: 'The token has several audiences but no azp claim.' },
  azp_mismatch: { status: 401, title: 'Wrong authorized party', hint: 'The token\'s azp is not Cairn\'s client id.' },
  token_expired: { status: 401, title: 'Token expired', hint: 'The token\'s exp is in the past (beyond the allowed clock skew), or missing.' },
  iat_invalid: { status: 401, title: 'Bad issue time', hint: 'The token\'s iat is missing, in the future, or too long ago.' },
  nonce_missing: { status: 401, title: 'No nonce', hint: 'The token has no nonce claim.' },
  nonce_replayed: { status: 401, title: 'Replayed token', hint: 'This nonce was already used: the token is being replayed.' },
  nonce_mismatch: { status: 401, title: 'Nonce mismatch', hint: 'The token\'s nonce is not the one Cairn sent in the authentication request.' },
  deployment_unknown: { status: 403, title: 'Unknown deployment', hint: 'The deployment id is not registered for this platform and client, and automatic registration of deployments is off.' },
  message_type_unsupported: { status: 400, title: 'Unsupported message type', hint: 'Cairn does not accept this LTI message type at this endpoint.' },
  version_unsupported: { status: 400, title: 'Unsupported LTI version', hint: 'Only LTI version 1.3.0 is accepted.' },
  claim_missing: { status: 400, title: 'Required claim missing', hint: 'A claim the message type requires is absent.' },
  claim_invalid: { status: 400, title: 'Invalid claim', hint: 'A claim has the wrong type or shape.' },
  target_link_uri_mismatch: { status: 400, title: 'Target link changed', hint: 'The token\'s target_link_uri differs from the one given at login.' },
  deployment_mismatch: { status: 400, title: 'Deployment changed', hint: 'The token\'s deployment_id differs from the lti_deployment_id given at login.' },

  // After validation
  context_expired: { status: 401, title: 'Link expired', hint: 'This page was opened from a launch more than two hours ago, or its link is damaged. Open the activity again from your course.' },
  account_suspended: { status: 403, title: 'Account suspended', hint: 'The Cairn account linked to this platform user is suspended.' },
  provisioning_failed: { status: 500, title: 'Launch could not be completed', hint: 'The launch was valid but Cairn could not set up the user, course or item.' },

  // Dynamic Registration
  registration_link_invalid: { status: 404, title: 'Registration link not valid', hint: 'The registration link is unknown, expired or already used. Ask a Cairn administrator for a new one.' },
  registration_request_invalid: { status: 400, title: 'Invalid registration request', hint: 'The platform did not send openid_configuration, or sent a URL Cairn cannot use.' },
  platform_configuration_invalid: { status: 502, title: 'Platform configuration unusable', hint: 'The platform\'s openid-configuration could not be fetched or lacks what LTI needs.' },
  registration_refused: { status: 502, title: 'Platform refused the registration', hint: 'The platform\'s registration endpoint did not accept Cairn\'s registration.' },
  registration_conflict: { status: 409, title: 'Already registered', hint: 'This issuer and client id are already registered with another Cairn tenant or platform.' },
} as const satisfies Record<string, { status: number; title: string; hint: string }>;

export type LtiErrorCode = keyof typeof ltiErrorCatalogue;

export class LtiError extends Error {
  constructor(readonly code: LtiErrorCode, detail?: string, options: { cause?: unknown } = {}) {
    super(detail ?? ltiErrorCatalogue[code].hint, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LtiError';
  }

  get status(): number {
    return ltiErrorCatalogue[this.code].status;
  }
}

export function isLtiError(error: unknown): error is LtiError {
  return error instanceof LtiError;
}

/** docs/lti.md table, generated from the catalogue (a test keeps the doc in sync). */
export function renderLtiErrorTable(): string {
  const rows = Object.entries(ltiErrorCatalogue).map(([code, e]) => `| \`${code}\` | ${e.status} | ${e.title} | ${e.hint} |`);
  return ['| Code | Status | Title | Meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
