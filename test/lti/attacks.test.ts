import { generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectRefused, formFields, lastLaunch, runLaunch, setupLti, type LtiFixture } from './support.js';

let fx: LtiFixture;
beforeAll(async () => {
  fx = await setupLti();
});
afterAll(async () => {
  await fx?.close();
});

const claim = (name: string) => `https://purl.imsglobal.org/spec/lti/claim/${name}`;

/** A login by this browser, then the platform's form_post fields for it. */
async function loginAndAuthorize(agent = fx.t.agent(), messageHint = 'link-1') {
  const login = await agent.get('/lti/login').query({
    iss: fx.platform.issuer, login_hint: 'learner-hint', target_link_uri: fx.platform.toolTargetLinkUri,
    lti_message_hint: messageHint, client_id: fx.platform.clientId,
  });
  expect(login.status).toBe(302);
  const auth = await fetch(login.headers['location'] as string);
  const cookie = (login.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('cairn_lti_'))!.split(';')[0]!;
  return { agent, fields: formFields(await auth.text()), cookie };
}

describe('LTI launch attacks: each refused with its own code, shown to the learner as a page, logged with the failed check', () => {
  it('bad signature (signed with a key that is not the platform\'s) → signature_invalid', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const flow = await runLaunch(fx, { tweak: { key: privateKey } });
    expect(flow.launch.status).toBe(401);
    const entry = await expectRefused(fx, flow.launch, 'signature_invalid', 'signature');
    expect(entry['steps_passed']).toEqual(['state', 'id_token', 'browser', 'format', 'alg', 'kid']);
    // Claims of a token whose signature failed are not trusted enough to record who it claims to be.
    expect(entry['subject']).toBeNull();
  });

  it('alg none → alg_not_allowed; HS256 → alg_not_allowed', async () => {
    const none = await runLaunch(fx, { tweak: { unsigned: true } });
    await expectRefused(fx, none.launch, 'alg_not_allowed', 'alg');
    const hs = await loginAndAuthorize();
    const [, payload] = hs.fields['id_token']!.split('.');
    const forged = `${Buffer.from(JSON.stringify({ alg: 'HS256', kid: fx.platform.currentKid })).toString('base64url')}.${payload}.c2lnbmF0dXJl`;
    const res = await hs.agent.post('/lti/launch').type('form').send({ id_token: forged, state: hs.fields['state']! });
    await expectRefused(fx, res, 'alg_not_allowed', 'alg');
  });

  it('malformed token → jwt_malformed; missing kid → kid_missing', async () => {
    const a = await loginAndAuthorize();
    const res = await a.agent.post('/lti/launch').type('form').send({ id_token: 'not.a.jwt!', state: a.fields['state']! });
    await expectRefused(fx, res, 'jwt_malformed', 'format');
    const noKid = await runLaunch(fx, { tweak: { header: { kid: undefined } } });
    await expectRefused(fx, noKid.launch, 'kid_missing', 'kid');
  });

  it('unknown kid: the platform\'s rotation is picked up by one JWKS refetch; a random kid is refused and cannot make Cairn refetch again within the cooldown', async () => {
    const ok = await runLaunch(fx);
    expect(ok.launch.status).toBe(303);
    const hitsBefore = fx.platform.jwksHits;
    const newKid = await fx.platform.rotateKey();
    fx.t.clock.advance(31_000);
    const rotated = await runLaunch(fx);
    expect(rotated.launch.status, rotated.launch.text).toBe(303);
    expect(fx.platform.jwksHits).toBe(hitsBefore + 1);
    expect(rotated.idToken.split('.')[0]).toBe(Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: newKid })).toString('base64url'));

    const bogus = await runLaunch(fx, { tweak: { header: { kid: 'no-such-key' } } });
    await expectRefused(fx, bogus.launch, 'kid_unknown', 'kid');
    const bogus2 = await runLaunch(fx, { tweak: { header: { kid: 'another-unknown' } } });
    await expectRefused(fx, bogus2.launch, 'kid_unknown', 'kid');
    // The first unknown kid came right after the rotation's fetch: neither attack fetched again.
    expect(fx.platform.jwksHits).toBe(hitsBefore + 1);
    fx.t.clock.advance(31_000);
    const bogus3 = await runLaunch(fx, { tweak: { header: { kid: 'third-unknown' } } });
    await expectRefused(fx, bogus3.launch, 'kid_unknown', 'kid');
    expect(fx.platform.jwksHits).toBe(hitsBefore + 2);
  });

  it('wrong iss → iss_mismatch', async () => {
    const flow = await runLaunch(fx, { tweak: { claims: (c) => ({ ...c, iss: 'https://evil.example' }) } });
    await expectRefused(fx, flow.launch, 'iss_mismatch', 'iss');
  });

  it('wrong aud → aud_mismatch; an extra untrusted audience → aud_mismatch', async () => {
    const wrong = await runLaunch(fx, { tweak: { claims: (c) => ({ ...c, aud: 'someone-else' }) } });
    // Security Framework 1.0 §5.1.3 (3): "The request message will be rejected with a HTTP code of 401."
    expect(wrong.launch.status).toBe(401);
    await expectRefused(fx, wrong.launch, 'aud_mismatch', 'aud');
    const extra = await runLaunch(fx, { tweak: { claims: (c) => ({ ...c, aud: [fx.platform.clientId, 'untrusted'], azp: fx.platform.clientId }) } });
    await expectRefused(fx, extra.launch, 'aud_mismatch', 'aud');
  });

  it('several audiences without azp → azp_missing; azp naming another client → azp_mismatch', async () => {
    await fx.admin.post(`/api/v1/lti/platforms/${fx.platformId}/clients`).send({ client_id: 'sibling-client' });
    const missing = await runLaunch(fx, { tweak: { claims: (c) => ({ ...c, aud: [fx.platform.clientId, 'sibling-client'] }) } });
    await expectRefused(fx, missing.launch, 'azp_missing', 'azp');
    const wrong = await runLaunch(fx, { tweak: { claims: (c) => ({ ...c, azp: 'sibling-client' }) } });
    await expectRefused(fx, wrong.launch, 'azp_mismatch', 'azp');
  });

  it('expired token → token_expired (beyond the 60 s skew); issued in the future → iat_invalid', async () => {
    const now = Math.floor(fx.t.clock.now().getTime() / 1000);
    const expired = await runLaunch(fx, { tweak: { claims: (c) => ({ ...c, iat: now - 600, exp: now - 61 }) } });
    await expectRefused(fx, expired.launch, 'token_expired', 'exp');
    const withinSkew = await runLaunch(fx, { tweak: { claims: (c) => ({ ...c, exp: now - 30 }) } });
    expect(withinSkew.launch.status).toBe(303);
    const future = await runLaunch(fx, { tweak: { claims: (c) => ({ ...c, iat: now + 600, exp: now + 900 }) } });
    await expectRefused(fx, future.launch, 'iat_invalid', 'iat');
  });

  it('replayed id_token (its nonce already used) with a fresh login → nonce_replayed; a nonce Cairn did not send → nonce_mismatch; none → nonce_missing', async () => {
    const first = await runLaunch(fx);
    expect(first.launch.status).toBe(303);
    const fresh = await loginAndAuthorize();
    const replay = await fresh.agent.post('/lti/launch').type('form').send({ id_token: first.idToken, state: fresh.fields['state']! });
    await expectRefused(fx, replay, 'nonce_replayed', 'nonce');
    const other = await runLaunch(fx, { tweak: { claims: (c) => ({ ...c, nonce: 'a-nonce-cairn-never-sent' }) } });
    await expectRefused(fx, other.launch, 'nonce_mismatch', 'nonce');
    const none = await runLaunch(fx, { tweak: { claims: (c) => ({ ...c, nonce: undefined }) } });
    await expectRefused(fx, none.launch, 'nonce_missing', 'nonce');
  });

  it('the same launch posted twice → state_used; unknown state → state_unknown; no state → state_missing; no id_token → id_token_missing', async () => {
    const first = await runLaunch(fx);
    expect(first.launch.status).toBe(303);
    const again = await first.agent.post('/lti/launch').type('form').send({ id_token: first.idToken, state: first.state });
    await expectRefused(fx, again, 'state_used', 'state');
    const unknown = await fx.t.agent().post('/lti/launch').type('form').send({ id_token: first.idToken, state: 'forged-state' });
    await expectRefused(fx, unknown, 'state_unknown', 'state');
    const missing = await fx.t.agent().post('/lti/launch').type('form').send({ id_token: first.idToken });
    await expectRefused(fx, missing, 'state_missing', 'state');
    const a = await loginAndAuthorize();
    const noToken = await a.agent.post('/lti/launch').type('form').send({ state: a.fields['state']! });
    await expectRefused(fx, noToken, 'id_token_missing', 'id_token');
  });

  it('state older than ten minutes → state_expired', async () => {
    const a = await loginAndAuthorize();
    fx.t.clock.advance(11 * 60_000);
    const res = await a.agent.post('/lti/launch').type('form').send({ id_token: a.fields['id_token']!, state: a.fields['state']! });
    await expectRefused(fx, res, 'state_expired', 'state');
  });

  it('launch in another browser than the login (login CSRF): no cookie → state_not_bound with a new-window button; someone else\'s cookie → state_binding_mismatch', async () => {
    const a = await loginAndAuthorize();
    const victim = fx.t.agent();
    const res = await victim.post('/lti/launch').type('form').send({ id_token: a.fields['id_token']!, state: a.fields['state']! });
    await expectRefused(fx, res, 'state_not_bound', 'browser');
    expect(res.text).toMatch(/<a class="button" href="http:\/\/localhost:\d+\/lti\/login\?[^"]*" target="_blank"/);

    const b = await loginAndAuthorize();
    const c = await loginAndAuthorize();
    // Browser c's own (valid) binding secret presented under b's cookie name.
    const [bName] = b.cookie.split('=');
    const cValue = c.cookie.slice(c.cookie.indexOf('=') + 1);
    const mixed = await fx.t.agent().post('/lti/launch').set('Cookie', `${bName}=${cValue}`).type('form').send({ id_token: b.fields['id_token']!, state: b.fields['state']! });
    await expectRefused(fx, mixed, 'state_binding_mismatch', 'browser');
  });

  it('unknown deployment → deployment_unknown; with auto-registration allowed the deployment is registered by its first launch', async () => {
    fx.platform.links.set('link-dep', { deploymentId: 'unannounced-deployment' });
    const refused = await runLaunch(fx, { messageHint: 'link-dep' });
    await expectRefused(fx, refused.launch, 'deployment_unknown', 'deployment');
    expect((await lastLaunch(fx))['deployment_id']).toBe('unannounced-deployment');

    const patch = await fx.admin.patch(`/api/v1/lti/platforms/${fx.platformId}`).send({ auto_register_deployments: true });
    expect(patch.status).toBe(200);
    const accepted = await runLaunch(fx, { messageHint: 'link-dep' });
    expect(accepted.launch.status).toBe(303);
    const deployments = await fx.admin.get(`/api/v1/lti/platforms/${fx.platformId}/deployments`);
    expect(deployments.body.data).toEqual(expect.arrayContaining([expect.objectContaining({ deployment_id: 'unannounced-deployment', source: 'auto' })]));
    await fx.admin.patch(`/api/v1/lti/platforms/${fx.platformId}`).send({ auto_register_deployments: false });
  });

  it('missing required claims → claim_missing (resource_link, roles, sub, deployment_id); malformed → claim_invalid', async () => {
    for (const [name, drop] of [['resource_link', claim('resource_link')], ['roles', claim('roles')], ['sub', 'sub']] as const) {
      const flow = await runLaunch(fx, { tweak: { claims: (c) => ({ ...c, [drop]: undefined }) } });
      const entry = await expectRefused(fx, flow.launch, 'claim_missing', 'claims');
      expect(entry['detail'], name).toContain(drop);
    }
    const noDeployment = await runLaunch(fx, { tweak: { claims: (c) => ({ ...c, [claim('deployment_id')]: undefined }) } });
    await expectRefused(fx, noDeployment.launch, 'claim_missing', 'deployment');
    const badLink = await runLaunch(fx, { tweak: { claims: (c) => ({ ...c, [claim('resource_link')]: { title: 'no id' } }) } });
    await expectRefused(fx, badLink.launch, 'claim_invalid', 'claims');
  });

  it('wrong message type → message_type_unsupported; wrong version → version_unsupported', async () => {
    const type = await runLaunch(fx, { tweak: { claims: (c) => ({ ...c, [claim('message_type')]: 'LtiSubmissionReviewRequest' }) } });
    await expectRefused(fx, type.launch, 'message_type_unsupported', 'message_type');
    const version = await runLaunch(fx, { tweak: { claims: (c) => ({ ...c, [claim('version')]: '1.1' }) } });
    await expectRefused(fx, version.launch, 'version_unsupported', 'version');
  });

  it('a target_link_uri differing from the login\'s → target_link_uri_mismatch; a login to a foreign target → target_link_uri_invalid', async () => {
    const flow = await runLaunch(fx, { tweak: { claims: (c) => ({ ...c, [claim('target_link_uri')]: `${fx.platform.toolTargetLinkUri}?other` }) } });
    await expectRefused(fx, flow.launch, 'target_link_uri_mismatch', 'target_link_uri');
    const login = await fx.t.agent().get('/lti/login').query({ iss: fx.platform.issuer, login_hint: 'learner-hint', target_link_uri: 'https://evil.example/steal', client_id: fx.platform.clientId });
    await expectRefused(fx, login, 'target_link_uri_invalid', 'login');
  });

  it('a token whose deployment_id differs from the login\'s lti_deployment_id → deployment_mismatch (LTI Core §4.1)', async () => {
    // Both deployments are registered, so only the login/launch comparison can refuse it.
    const added = await fx.admin.post(`/api/v1/lti/platforms/${fx.platformId}/deployments`).send({ client_id: fx.platform.clientId, deployment_id: 'deployment-other' });
    expect(added.status, added.text).toBe(201);
    const flow = await runLaunch(fx, { tweak: { claims: (c) => ({ ...c, [claim('deployment_id')]: 'deployment-other' }) } });
    const entry = await expectRefused(fx, flow.launch, 'deployment_mismatch', 'login_deployment');
    expect(entry['detail']).toContain('deployment-other');
    // Without lti_deployment_id at login (it is optional) the same token is accepted.
    const unhinted = await runLaunch(fx, { extraLoginParams: { lti_deployment_id: '' }, tweak: { claims: (c) => ({ ...c, [claim('deployment_id')]: 'deployment-other' }) } });
    expect(unhinted.launch.status, unhinted.launch.text).toBe(303);
  });

  it('the platform answering with an OIDC error → platform_error; an unknown issuer → registration_unknown; a disabled platform → registration_disabled', async () => {
    const a = await loginAndAuthorize();
    const res = await a.agent.post('/lti/launch').type('form').send({ error: 'login_required', error_description: 'The user is not logged in', state: a.fields['state']! });
    const entry = await expectRefused(fx, res, 'platform_error', 'state');
    expect(entry['detail']).toContain('login_required');
    const unknown = await fx.t.agent().get('/lti/login').query({ iss: 'https://unknown.example', login_hint: 'x', target_link_uri: fx.platform.toolTargetLinkUri });
    expect(unknown.status).toBe(400);
    expect(unknown.text).toContain('<code>registration_unknown</code>');
    await fx.admin.patch(`/api/v1/lti/platforms/${fx.platformId}`).send({ status: 'disabled' });
    const disabled = await fx.t.agent().get('/lti/login').query({ iss: fx.platform.issuer, login_hint: 'learner-hint', target_link_uri: fx.platform.toolTargetLinkUri, client_id: fx.platform.clientId });
    await expectRefused(fx, disabled, 'registration_disabled', 'login');
    await fx.admin.patch(`/api/v1/lti/platforms/${fx.platformId}`).send({ status: 'active' });
    const missing = await fx.t.agent().get('/lti/login').query({ iss: fx.platform.issuer });
    await expectRefused(fx, missing, 'login_invalid', 'login');
  });

  it('a suspended Cairn account cannot launch → account_suspended', async () => {
    const ok = await runLaunch(fx);
    expect(ok.launch.status).toBe(303);
    const identity = await fx.t.deps.db('user_identities').where({ subject: 'u-learner-1' }).first();
    await fx.t.deps.db('users').where({ id: identity.user_id }).update({ status: 'suspended' });
    const flow = await runLaunch(fx);
    await expectRefused(fx, flow.launch, 'account_suspended', 'provisioning');
    await fx.t.deps.db('users').where({ id: identity.user_id }).update({ status: 'active' });
  });
});
