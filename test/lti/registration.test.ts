import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { TestPlatform } from './platform/platform.js';
import { learner, runLaunch, type LtiFixture } from './support.js';

let t: TestApp;
let admin: Awaited<ReturnType<TestApp['login']>>;
const platforms: TestPlatform[] = [];

beforeAll(async () => {
  t = await startTestApp();
  admin = await t.login();
});
afterAll(async () => {
  for (const p of platforms) await p.close();
  await t?.close();
});

async function newPlatform(): Promise<TestPlatform> {
  const platform = await TestPlatform.start();
  platforms.push(platform);
  platform.toolRedirectUris = [`${t.deps.config.publicUrl}/lti/launch`];
  platform.toolTargetLinkUri = `${t.deps.config.publicUrl}/lti/launch`;
  platform.now = () => t.clock.now().getTime();
  platform.users.set('learner-hint', learner);
  return platform;
}

async function registrationUrl(body: Record<string, unknown> = {}): Promise<string> {
  const res = await admin.post('/api/v1/lti/registration-links').send({ label: 'Moodle prod', ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.url as string;
}

describe('LTI Dynamic Registration 1.0 (Cairn as tool)', () => {
  it('the handshake: Cairn fetches the openid-configuration with the registration token, posts its registration, stores platform, client id and deployment, and closes the window', async () => {
    const platform = await newPlatform();
    const url = new URL(await registrationUrl());
    expect(url.pathname).toMatch(/^\/lti\/register\/cairn_reg_/);
    const res = await t.agent().get(url.pathname).query({ openid_configuration: platform.configurationUrl, registration_token: platform.registrationToken });
    expect(res.status, res.text).toBe(200);
    expect(res.text).toContain('<script src="/lti/assets/close.js">');
    const close = await t.agent().get('/lti/assets/close.js');
    expect(close.text).toContain("subject: 'org.imsglobal.lti.close'");

    expect(platform.configurationRequests).toEqual([{ authorization: `Bearer ${platform.registrationToken}` }]);
    expect(platform.registrationRequests).toHaveLength(1);
    const sent = platform.registrationRequests[0]!;
    expect(sent.headers['authorization']).toBe(`Bearer ${platform.registrationToken}`);
    expect(sent.headers['content-type']).toMatch(/application\/json/);
    const publicUrl = t.deps.config.publicUrl;
    expect(sent.body).toMatchObject({
      application_type: 'web', response_types: ['id_token'], grant_types: ['implicit', 'client_credentials'],
      initiate_login_uri: `${publicUrl}/lti/login`, redirect_uris: [`${publicUrl}/lti/launch`], jwks_uri: `${publicUrl}/.well-known/jwks.json`,
      token_endpoint_auth_method: 'private_key_jwt', client_name: 'Cairn',
    });
    // Only scopes the platform offers are asked for.
    expect((sent.body['scope'] as string).split(' ').sort()).toEqual([
      'https://purl.imsglobal.org/spec/lti-ags/scope/lineitem', 'https://purl.imsglobal.org/spec/lti-ags/scope/score',
      'https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly',
    ]);
    const toolConfig = sent.body['https://purl.imsglobal.org/spec/lti-tool-configuration'] as Record<string, unknown>;
    expect(toolConfig['domain']).toBe(new URL(publicUrl).host);
    expect(toolConfig['target_link_uri']).toBe(`${publicUrl}/lti/launch`);
    expect(toolConfig['claims']).toEqual(expect.arrayContaining(['iss', 'sub', 'name', 'email']));
    expect(toolConfig['messages']).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'LtiResourceLinkRequest' })]));

    const list = await admin.get('/api/v1/lti/platforms');
    const stored = list.body.data.find((p: { issuer: string }) => p.issuer === platform.issuer);
    expect(stored).toMatchObject({ source: 'dynamic', auth_url: platform.authUrl, jwks_url: platform.jwksUrl, token_url: platform.tokenUrl, product_family_code: 'moodle', status: 'active' });
    expect(stored.clients).toEqual([expect.objectContaining({ client_id: platform.clientId, source: 'dynamic', label: 'Moodle prod' })]);
    const deployments = await admin.get(`/api/v1/lti/platforms/${stored.id}/deployments`);
    expect(deployments.body.data).toEqual([expect.objectContaining({ deployment_id: platform.deploymentId, source: 'dynamic', client_id: platform.clientId })]);
    const audit = await admin.get('/api/v1/audit-log').query({ action: 'lti_platform.register_dynamic' });
    expect(audit.status, JSON.stringify(audit.body)).toBe(200);
    expect(audit.body.data[0]).toMatchObject({ target_id: stored.id });

    // The link is spent; the registration works for launches at once.
    const links = await admin.get('/api/v1/lti/registration-links');
    expect(links.body.data[0]).toMatchObject({ platform_id: stored.id });
    expect(links.body.data[0].used_at).not.toBeNull();
    const again = await t.agent().get(url.pathname).query({ openid_configuration: platform.configurationUrl, registration_token: platform.registrationToken });
    expect(again.status).toBe(404);
    expect(again.text).toContain('<code>registration_link_invalid</code>');
    const fx = { t, platform, admin, platformId: stored.id, close: async () => undefined } as LtiFixture;
    const flow = await runLaunch(fx);
    expect(flow.launch.status, flow.launch.text).toBe(303);
  });

  it('refuses a configuration whose issuer is on another host than the configuration URL (platform_configuration_invalid), and shows why', async () => {
    const platform = await newPlatform();
    platform.configurationOverrides = { issuer: 'https://moodle.evil.example' };
    const url = new URL(await registrationUrl());
    const res = await t.agent().get(url.pathname).query({ openid_configuration: platform.configurationUrl, registration_token: platform.registrationToken });
    expect(res.status).toBe(502);
    expect(res.text).toContain('<code>platform_configuration_invalid</code>');
    expect(res.text).toContain('moodle.evil.example');
    expect(platform.registrationRequests).toHaveLength(0);
    // A failed handshake leaves the link usable.
    platform.configurationOverrides = {};
    const retry = await t.agent().get(url.pathname).query({ openid_configuration: platform.configurationUrl, registration_token: platform.registrationToken });
    expect(retry.status).toBe(200);
  });

  it('a registration the platform refuses (wrong registration token) → registration_refused, nothing stored', async () => {
    const platform = await newPlatform();
    const url = new URL(await registrationUrl());
    const res = await t.agent().get(url.pathname).query({ openid_configuration: platform.configurationUrl, registration_token: 'wrong-token' });
    expect(res.status).toBe(502);
    expect(res.text).toContain('<code>registration_refused</code>');
    expect(res.text).toContain('invalid_token');
    const list = await admin.get('/api/v1/lti/platforms');
    expect(list.body.data.some((p: { issuer: string }) => p.issuer === platform.issuer)).toBe(false);
  });

  it('missing openid_configuration → registration_request_invalid; an unknown or expired link → registration_link_invalid', async () => {
    const url = new URL(await registrationUrl({ expires_in_days: 1 }));
    const missing = await t.agent().get(url.pathname);
    expect(missing.text).toContain('<code>registration_request_invalid</code>');
    const unknown = await t.agent().get('/lti/register/cairn_reg_forged').query({ openid_configuration: 'http://127.0.0.1:1/x' });
    expect(unknown.text).toContain('<code>registration_link_invalid</code>');
    t.clock.advance(25 * 3600_000);
    const expired = await t.agent().get(url.pathname).query({ openid_configuration: 'http://127.0.0.1:1/x' });
    expect(expired.text).toContain('<code>registration_link_invalid</code>');
    admin = await t.login();
  });

  it('a client id already registered (here or in another tenant) is a conflict, not a second registration', async () => {
    const platform = await newPlatform();
    const first = new URL(await registrationUrl());
    expect((await t.agent().get(first.pathname).query({ openid_configuration: platform.configurationUrl, registration_token: platform.registrationToken })).status).toBe(200);
    const second = new URL(await registrationUrl());
    const res = await t.agent().get(second.pathname).query({ openid_configuration: platform.configurationUrl, registration_token: platform.registrationToken });
    expect(res.status).toBe(409);
    expect(res.text).toContain('<code>registration_conflict</code>');
  });
});

describe('LTI registration admin API', () => {
  it('creates a platform with client ids and deployments, lists, reads, updates and deletes it, auditing each change', async () => {
    const create = await admin.post('/api/v1/lti/platforms').send({
      name: 'Canvas', issuer: 'https://canvas.instructure.com', auth_url: 'https://sso.canvaslms.com/api/lti/authorize_redirect',
      token_url: 'https://sso.canvaslms.com/login/oauth2/token', jwks_url: 'https://sso.canvaslms.com/api/lti/security/jwks',
      client_ids: ['10000000000001'], deployments: [{ client_id: '10000000000001', deployment_id: '6:abc' }, { client_id: '10000000000002', deployment_id: '7:def' }],
    });
    expect(create.status, JSON.stringify(create.body)).toBe(201);
    expect(create.body.clients.map((c: { client_id: string }) => c.client_id).sort()).toEqual(['10000000000001', '10000000000002']);
    const id = create.body.id as string;
    const dup = await admin.post('/api/v1/lti/platforms').send({ name: 'x', issuer: 'https://canvas.instructure.com', auth_url: 'https://a.example/a', jwks_url: 'https://a.example/j' });
    expect(dup.status).toBe(409);
    const addDeployment = await admin.post(`/api/v1/lti/platforms/${id}/deployments`).send({ client_id: '10000000000001', deployment_id: '8:ghi', label: 'Science' });
    expect(addDeployment.status).toBe(201);
    expect((await admin.post(`/api/v1/lti/platforms/${id}/deployments`).send({ client_id: '10000000000001', deployment_id: '8:ghi' })).status).toBe(409);
    expect((await admin.post(`/api/v1/lti/platforms/${id}/deployments`).send({ client_id: 'nope', deployment_id: '9' })).status).toBe(400);
    const deployments = await admin.get(`/api/v1/lti/platforms/${id}/deployments`);
    expect(deployments.body.data).toHaveLength(3);
    const patch = await admin.patch(`/api/v1/lti/platforms/${id}`).send({ name: 'Canvas Cloud', status: 'disabled' });
    expect(patch.body).toMatchObject({ name: 'Canvas Cloud', status: 'disabled' });
    const bad = await admin.post('/api/v1/lti/platforms').send({ name: 'x', issuer: 'y', auth_url: 'javascript:alert(1)', jwks_url: 'https://a.example/j' });
    expect(bad.status).toBe(400);
    const removeDeployment = await admin.delete(`/api/v1/lti/platforms/${id}/deployments/${addDeployment.body.id}`);
    expect(removeDeployment.status).toBe(204);
    const client = create.body.clients.find((c: { client_id: string }) => c.client_id === '10000000000002');
    expect((await admin.delete(`/api/v1/lti/platforms/${id}/clients/${client.id}`)).status).toBe(204);
    expect((await admin.get(`/api/v1/lti/platforms/${id}/deployments`)).body.data).toHaveLength(1);
    expect((await admin.delete(`/api/v1/lti/platforms/${id}`)).status).toBe(204);
    expect((await admin.get(`/api/v1/lti/platforms/${id}`)).status).toBe(404);
    const audit = await admin.get('/api/v1/audit-log').query({ action: 'lti_platform.*', target_id: id });
    expect(audit.body.data.map((e: { action: string }) => e.action).sort()).toEqual(['lti_platform.create', 'lti_platform.delete', 'lti_platform.remove_client', 'lti_platform.update']);
  });

  it('an issuer + client id pair belongs to one tenant: registering it in a second tenant is a conflict', async () => {
    const body = { name: 'Moodle', issuer: 'https://moodle.school.example', auth_url: 'https://moodle.school.example/mod/lti/auth.php', jwks_url: 'https://moodle.school.example/mod/lti/certs.php', client_ids: ['shared-client'] };
    expect((await admin.post('/api/v1/lti/platforms').send(body)).status).toBe(201);
    const tenant = await admin.post('/api/v1/tenants').send({ slug: 'other-school', name: 'Other school' });
    expect(tenant.status).toBe(201);
    const clash = await admin.post('/api/v1/lti/platforms').set('Cairn-Tenant', 'other-school').send(body);
    expect(clash.status).toBe(409);
    expect(clash.body.errors[0].pointer).toBe('/body/client_id');
    // Another client id of the same issuer is fine in the other tenant.
    const ok = await admin.post('/api/v1/lti/platforms').set('Cairn-Tenant', 'other-school').send({ ...body, client_ids: ['their-client'] });
    expect(ok.status).toBe(201);
    const mine = await admin.get('/api/v1/lti/platforms');
    expect(mine.body.data.some((p: { clients: { client_id: string }[] }) => p.clients.some((c) => c.client_id === 'their-client'))).toBe(false);
  });

  it('API tokens need lti:read to read and lti:write to change; learners get 403', async () => {
    const readToken = (await admin.post('/api/v1/tokens').send({ name: 'lti-read', scopes: ['lti:read'] })).body.token as string;
    const read = await t.agent().get('/api/v1/lti/platforms').set('Authorization', `Bearer ${readToken}`);
    expect(read.status).toBe(200);
    const write = await t.agent().post('/api/v1/lti/registration-links').set('Authorization', `Bearer ${readToken}`).send({});
    expect(write.status).toBe(403);
    const writeToken = (await admin.post('/api/v1/tokens').send({ name: 'lti-write', scopes: ['lti:write'] })).body.token as string;
    expect((await t.agent().post('/api/v1/lti/registration-links').set('Authorization', `Bearer ${writeToken}`).send({})).status).toBe(201);
    await admin.post('/api/v1/users').send({ email: 'student@test.example', name: 'S', role: 'learner', password: 'a learner password 1' });
    const student = await t.login('student@test.example', 'a learner password 1');
    expect((await student.get('/api/v1/lti/platforms')).status).toBe(403);
  });

  it('tool configuration, the Canvas developer-key JSON and the JWKS are served with Cairn\'s URLs', async () => {
    const publicUrl = t.deps.config.publicUrl;
    const config = await admin.get('/api/v1/lti/tool-configuration');
    expect(config.body).toEqual({
      login_url: `${publicUrl}/lti/login`, redirect_uris: [`${publicUrl}/lti/launch`], target_link_uri: `${publicUrl}/lti/launch`,
      jwks_url: `${publicUrl}/.well-known/jwks.json`, canvas_configuration_url: `${publicUrl}/lti/canvas.json`, domain: new URL(publicUrl).host,
    });
    const canvas = await t.agent().get('/lti/canvas.json');
    expect(canvas.status).toBe(200);
    expect(canvas.body).toMatchObject({
      title: 'Cairn', oidc_initiation_url: `${publicUrl}/lti/login`, target_link_uri: `${publicUrl}/lti/launch`,
      public_jwk_url: `${publicUrl}/.well-known/jwks.json`, redirect_uris: [`${publicUrl}/lti/launch`],
    });
    expect(canvas.body.scopes).toContain('https://purl.imsglobal.org/spec/lti-ags/scope/score');
    expect(canvas.body.extensions[0]).toMatchObject({ platform: 'canvas.instructure.com', privacy_level: 'public', domain: new URL(publicUrl).host });
    expect(canvas.body.extensions[0].settings.placements.map((p: { placement: string }) => p.placement)).toContain('link_selection');
    const jwks = await t.agent().get('/.well-known/jwks.json');
    expect(jwks.status).toBe(200);
    expect(jwks.body.keys).toHaveLength(2);
    for (const key of jwks.body.keys) {
      expect(key).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
      expect(Object.keys(key).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
    }
    expect((await t.agent().get('/lti/jwks')).body).toEqual(jwks.body);
  });
});
