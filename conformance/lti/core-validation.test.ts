import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { validateMessageJwt, validationSteps, type MessageExpectations } from '../../src/lti/core/validation.js';
import { LtiError } from '../../src/lti/core/errors.js';
import { RemoteJwksCache } from '../../src/lti/core/remote-jwks.js';

/**
 * LTI Core 1.3 §5 (message claims) and 1EdTech Security Framework 1.0 §5.1.3 (authentication
 * response validation): each check as its own step, in the specification's order, against
 * tokens signed here with jose and keys served from an in-memory JWKS.
 */
const issuer = 'https://platform.example';
const clientId = 'tool-client';
const claim = (n: string) => `https://purl.imsglobal.org/spec/lti/claim/${n}`;
const now = new Date('2026-11-21T12:00:00Z');
const nowS = Math.floor(now.getTime() / 1000);

let key: CryptoKey;
let otherKey: CryptoKey;
let jwks: RemoteJwksCache;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  key = pair.privateKey;
  otherKey = (await generateKeyPair('RS256')).privateKey;
  const body = JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }] });
  jwks = new RemoteJwksCache({ fetch: (async () => new Response(body, { status: 200 })) as typeof fetch, now: () => now.getTime() });
});

function resourceLinkClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const claims: Record<string, unknown> = {
    iss: issuer, aud: clientId, sub: 'user-1', iat: nowS, exp: nowS + 300, nonce: `n-${Math.random()}`,
    [claim('message_type')]: 'LtiResourceLinkRequest', [claim('version')]: '1.3.0', [claim('deployment_id')]: 'd1',
    [claim('target_link_uri')]: 'https://tool.example/launch', [claim('resource_link')]: { id: 'rl1' },
    [claim('roles')]: ['Instructor', 'http://purl.imsglobal.org/vocab/lis/v2/institution/person#Faculty'],
    ...overrides,
  };
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
  return claims;
}

async function sign(claims: Record<string, unknown>, header: Record<string, unknown> = {}, signingKey = key): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1', ...header } as { alg: string }).sign(signingKey);
}

function expectations(overrides: Partial<MessageExpectations<string>> = {}): MessageExpectations<string> {
  const seen = new Set<string>();
  return {
    issuer, clientId, trustedAudiences: async () => ['sibling-client'], keys: jwks.resolver('https://platform.example/jwks'),
    consumeNonce: async (nonce) => (seen.has(nonce) ? false : (seen.add(nonce), true)),
    resolveDeployment: async (id) => (id === 'd1' ? 'deployment-row' : undefined),
    messageTypes: ['LtiResourceLinkRequest', 'LtiDeepLinkingRequest'], requireSubject: true, now,
    ...overrides,
  };
}

async function failure(token: string, exp = expectations()) {
  const result = await validateMessageJwt(token, exp);
  if (result.ok) throw new Error('expected a refusal');
  return { code: result.error.code, step: result.failedStep, passed: result.steps };
}

describe('Security Framework §5.1.3: ID token validation, step by step in order', () => {
  it('a valid LtiResourceLinkRequest passes every step, in the specification\'s order, and yields its claims', async () => {
    const result = await validateMessageJwt(await sign(resourceLinkClaims()), expectations());
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.steps).toEqual([...validationSteps]);
    expect(result.deployment).toBe('deployment-row');
    expect(result.message).toMatchObject({ issuer, clientId, subject: 'user-1', messageType: 'LtiResourceLinkRequest', deploymentId: 'd1', resourceLink: { id: 'rl1' } });
  });

  it('§5.1.3 (1): the signature is checked with the platform key; alg must be RS256 (never none); the kid must be known', async () => {
    expect(await failure(await sign(resourceLinkClaims(), {}, otherKey))).toMatchObject({ code: 'signature_invalid', step: 'signature' });
    const parts = (await sign(resourceLinkClaims())).split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', kid: 'k1' })).toString('base64url')}.${parts[1]}.`;
    expect(await failure(none)).toMatchObject({ code: 'alg_not_allowed', step: 'alg', passed: ['format'] });
    expect(await failure(await sign(resourceLinkClaims(), { kid: 'unknown' }))).toMatchObject({ code: 'kid_unknown', step: 'kid' });
    expect(await failure(await sign(resourceLinkClaims(), { kid: undefined }))).toMatchObject({ code: 'kid_missing', step: 'kid' });
    expect(await failure('abc.def')).toMatchObject({ code: 'jwt_malformed', step: 'format', passed: [] });
  });

  it('§5.1.3 (2): iss must exactly match the registered issuer', async () => {
    expect(await failure(await sign(resourceLinkClaims({ iss: `${issuer}/` })))).toMatchObject({ code: 'iss_mismatch', step: 'iss' });
  });

  it('§5.1.3 (3)–(5): aud is a string or an array containing the client id; several audiences need azp = client id; untrusted audiences are refused', async () => {
    expect((await validateMessageJwt(await sign(resourceLinkClaims({ aud: [clientId] })), expectations())).ok).toBe(true);
    expect(await failure(await sign(resourceLinkClaims({ aud: 'other' })))).toMatchObject({ code: 'aud_mismatch', step: 'aud' });
    expect(await failure(await sign(resourceLinkClaims({ aud: [clientId, 'stranger'], azp: clientId })))).toMatchObject({ code: 'aud_mismatch' });
    expect(await failure(await sign(resourceLinkClaims({ aud: [clientId, 'sibling-client'] })))).toMatchObject({ code: 'azp_missing', step: 'azp' });
    expect((await validateMessageJwt(await sign(resourceLinkClaims({ aud: [clientId, 'sibling-client'], azp: clientId })), expectations())).ok).toBe(true);
    expect(await failure(await sign(resourceLinkClaims({ azp: 'sibling-client' })))).toMatchObject({ code: 'azp_mismatch', step: 'azp' });
  });

  it('§5.1.3 (7)–(8): exp must be in the future and iat not in the future nor too old, each with 60 s of skew', async () => {
    expect((await validateMessageJwt(await sign(resourceLinkClaims({ exp: nowS - 59 })), expectations())).ok).toBe(true);
    expect(await failure(await sign(resourceLinkClaims({ exp: nowS - 61 })))).toMatchObject({ code: 'token_expired', step: 'exp' });
    expect(await failure(await sign(resourceLinkClaims({ exp: undefined })))).toMatchObject({ code: 'token_expired' });
    expect(await failure(await sign(resourceLinkClaims({ iat: nowS + 120 })))).toMatchObject({ code: 'iat_invalid', step: 'iat' });
    expect(await failure(await sign(resourceLinkClaims({ iat: nowS - 7200, exp: nowS + 60 })))).toMatchObject({ code: 'iat_invalid' });
  });

  it('§5.1.3 (9): the nonce is required, single use, and must be the one sent in the authentication request', async () => {
    const exp = expectations();
    const token = await sign(resourceLinkClaims({ nonce: 'once' }));
    expect((await validateMessageJwt(token, exp)).ok).toBe(true);
    expect(await failure(token, exp)).toMatchObject({ code: 'nonce_replayed', step: 'nonce' });
    expect(await failure(await sign(resourceLinkClaims({ nonce: undefined })))).toMatchObject({ code: 'nonce_missing' });
    expect(await failure(await sign(resourceLinkClaims({ nonce: 'a' })), expectations({ expectedNonce: 'b' }))).toMatchObject({ code: 'nonce_mismatch' });
  });

  it('the order holds when several checks would fail: the earliest failing step is reported', async () => {
    // Wrong issuer, expired and a replayed nonce at once: iss comes first.
    expect(await failure(await sign(resourceLinkClaims({ iss: 'x', exp: nowS - 1000 })))).toMatchObject({ code: 'iss_mismatch' });
    // Expired and unknown deployment: exp comes before deployment.
    expect(await failure(await sign(resourceLinkClaims({ exp: nowS - 1000, [claim('deployment_id')]: 'zzz' })))).toMatchObject({ code: 'token_expired' });
  });
});

describe('LTI Core 1.3 §5.3–5.4: deployment, message type, version and required claims', () => {
  it('§5.3.3: the deployment id must be registered for this platform and client', async () => {
    expect(await failure(await sign(resourceLinkClaims({ [claim('deployment_id')]: 'd2' })))).toMatchObject({ code: 'deployment_unknown', step: 'deployment' });
    expect(await failure(await sign(resourceLinkClaims({ [claim('deployment_id')]: undefined })))).toMatchObject({ code: 'claim_missing', step: 'deployment' });
  });

  it('§5.3.1–5.3.2: the message type must be one accepted here and the version 1.3.0', async () => {
    expect(await failure(await sign(resourceLinkClaims({ [claim('message_type')]: 'LtiStartProctoring' })))).toMatchObject({ code: 'message_type_unsupported', step: 'message_type' });
    expect(await failure(await sign(resourceLinkClaims({ [claim('message_type')]: 'LtiDeepLinkingRequest' })), expectations({ messageTypes: ['LtiResourceLinkRequest'] }))).toMatchObject({ code: 'message_type_unsupported' });
    expect(await failure(await sign(resourceLinkClaims({ [claim('version')]: '1.3' })))).toMatchObject({ code: 'version_unsupported', step: 'version' });
  });

  it('§5.3.5–5.3.7 and §5.4: a resource link request needs resource_link.id, roles (an array, possibly empty), target_link_uri and sub', async () => {
    expect((await validateMessageJwt(await sign(resourceLinkClaims({ [claim('roles')]: [] })), expectations())).ok).toBe(true);
    for (const name of [claim('resource_link'), claim('roles'), claim('target_link_uri'), 'sub']) {
      expect(await failure(await sign(resourceLinkClaims({ [name]: undefined }))), name).toMatchObject({ code: 'claim_missing', step: 'claims' });
    }
    expect(await failure(await sign(resourceLinkClaims({ [claim('roles')]: 'Instructor' })))).toMatchObject({ code: 'claim_invalid' });
    expect(await failure(await sign(resourceLinkClaims({ [claim('context')]: { title: 'no id' } })))).toMatchObject({ code: 'claim_invalid' });
    // Anonymous launches are allowed by the spec when the tool accepts them.
    expect((await validateMessageJwt(await sign(resourceLinkClaims({ sub: undefined })), expectations({ requireSubject: false }))).ok).toBe(true);
  });

  it('Deep Linking 2.0 §4.4: a deep linking request needs deep_link_return_url, accept_types and accept_presentation_document_targets, and no resource link', async () => {
    const settings = { deep_link_return_url: 'https://platform.example/dl', accept_types: ['ltiResourceLink'], accept_presentation_document_targets: ['iframe'] };
    const base = { [claim('message_type')]: 'LtiDeepLinkingRequest', [claim('resource_link')]: undefined, 'https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings': settings };
    const ok = await validateMessageJwt(await sign(resourceLinkClaims(base)), expectations());
    expect(ok.ok && ok.message.deepLinkingSettings?.deep_link_return_url).toBe('https://platform.example/dl');
    expect(await failure(await sign(resourceLinkClaims({ ...base, 'https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings': undefined })))).toMatchObject({ code: 'claim_missing' });
    expect(await failure(await sign(resourceLinkClaims({ ...base, 'https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings': { ...settings, accept_types: undefined } })))).toMatchObject({ code: 'claim_invalid' });
  });

  it('Appendix A: roles in short, full and LTI 1.1 forms come out as full LIS v2 URIs', async () => {
    const result = await validateMessageJwt(await sign(resourceLinkClaims({ [claim('roles')]: ['Learner', 'urn:lti:instrole:ims/lis/Student', 'http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant', 'Instructor/TeachingAssistant'] })), expectations());
    expect(result.ok && result.message.roles).toEqual([
      'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner',
      'http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student',
      'http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant',
    ]);
  });

  it('every failure is an LtiError whose code belongs to the closed catalogue', async () => {
    const result = await validateMessageJwt(await sign(resourceLinkClaims({ iss: 'x' })), expectations());
    expect(!result.ok && result.error).toBeInstanceOf(LtiError);
  });
});
