import request from 'supertest';
import { expect } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { TestPlatform, type PlatformUser, type TokenTweak } from './platform/platform.js';
import { ltiErrorCatalogue, type LtiErrorCode } from '../../src/lti/core/errors.js';

export const roles = {
  learner: 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner',
  instructor: 'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor',
  ta: 'http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant',
  mentor: 'http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor',
  institutionStudent: 'http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student',
};

export const learner: PlatformUser = { sub: 'u-learner-1', name: 'Lena Learner', given_name: 'Lena', family_name: 'Learner', email: 'lena@school.example', roles: [roles.learner, roles.institutionStudent] };
export const instructor: PlatformUser = { sub: 'u-teacher-1', name: 'Ivan Instructor', email: 'ivan@school.example', roles: [roles.instructor] };

export interface LtiFixture {
  readonly t: TestApp;
  readonly platform: TestPlatform;
  readonly admin: request.Agent;
  readonly platformId: string;
  close(): Promise<void>;
}

/** A Cairn app, a running test platform, and the platform registered in Cairn's default tenant. */
export async function setupLti(options: { env?: Record<string, string>; autoRegister?: boolean; jobs?: boolean } = {}): Promise<LtiFixture> {
  const t = await startTestApp({ ...(options.env ? { env: options.env } : {}), ...(options.jobs ? { jobs: true } : {}) });
  const platform = await TestPlatform.start();
  const publicUrl = t.deps.config.publicUrl;
  platform.toolRedirectUris = [`${publicUrl}/lti/launch`];
  platform.toolTargetLinkUri = `${publicUrl}/lti/launch`;
  platform.toolJwksUrl = `${publicUrl}/.well-known/jwks.json`;
  platform.now = () => t.clock.now().getTime();
  platform.users.set('learner-hint', learner);
  platform.users.set('teacher-hint', instructor);
  const admin = await t.login();
  const res = await admin.post('/api/v1/lti/platforms').send({
    name: 'Test LMS', issuer: platform.issuer, auth_url: platform.authUrl, token_url: platform.tokenUrl, jwks_url: platform.jwksUrl,
    auto_register_deployments: options.autoRegister ?? false,
    deployments: [{ client_id: platform.clientId, deployment_id: platform.deploymentId }],
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return {
    t, platform, admin, platformId: res.body.id as string,
    async close() {
      await platform.close();
      await t.close();
    },
  };
}

export function formFields(html: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields[match[1]!] = match[2]!.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  }
  return fields;
}

export interface FlowOptions {
  readonly loginHint?: string;
  readonly messageHint?: string;
  readonly method?: 'GET' | 'POST';
  readonly tweak?: TokenTweak;
  /** The browser: keeps Cairn's cookies between login and launch. */
  readonly agent?: request.Agent;
  readonly extraLoginParams?: Record<string, string>;
  readonly clientId?: string | null;
}

export interface FlowResult {
  readonly login: request.Response;
  readonly authUrl: URL;
  readonly idToken: string;
  readonly state: string;
  readonly launch: request.Response;
  readonly agent: request.Agent;
}

/** The browser's part of a launch: Cairn login → platform auth endpoint (real HTTP) → Cairn launch. */
export async function runLaunch(fx: LtiFixture, options: FlowOptions = {}): Promise<FlowResult> {
  const agent = options.agent ?? fx.t.agent();
  const params: Record<string, string> = {
    iss: fx.platform.issuer,
    login_hint: options.loginHint ?? 'learner-hint',
    target_link_uri: fx.platform.toolTargetLinkUri,
    lti_message_hint: options.messageHint ?? 'link-1',
    // What a platform announces at login is the deployment of the link being launched.
    lti_deployment_id: fx.platform.links.get(options.messageHint ?? 'link-1')?.deploymentId ?? fx.platform.deploymentId,
    ...(options.clientId === null ? {} : { client_id: options.clientId ?? fx.platform.clientId }),
    ...options.extraLoginParams,
  };
  const login = options.method === 'POST'
    ? await agent.post('/lti/login').type('form').send(params)
    : await agent.get('/lti/login').query(params);
  expect(login.status, login.text).toBe(302);
  const authUrl = new URL(login.headers['location'] as string);
  if (options.tweak) fx.platform.nextToken = options.tweak;
  const auth = await fetch(authUrl);
  expect(auth.status, await auth.clone().text()).toBe(200);
  const fields = formFields(await auth.text());
  const launch = await agent.post('/lti/launch').type('form').send({ id_token: fields['id_token']!, state: fields['state']! });
  return { login, authUrl, idToken: fields['id_token']!, state: fields['state']!, launch, agent };
}

/** The launch-log entry a launch response refers to (the reference on the page, or the latest). */
export async function lastLaunch(fx: LtiFixture): Promise<Record<string, unknown>> {
  const res = await fx.admin.get('/api/v1/lti/launches').query({ limit: 1 });
  expect(res.status).toBe(200);
  return res.body.data[0] as Record<string, unknown>;
}

/** Asserts a refused launch: a human HTML page naming the code, and the launch-log entry it refers to, with the failed step. */
export async function expectRefused(fx: LtiFixture, res: request.Response, code: string, step?: string): Promise<Record<string, unknown>> {
  expect(res.headers['content-type']).toMatch(/text\/html/);
  // Each refusal has its own HTTP status (e.g. 401 for a token the tool cannot trust, as
  // Security Framework §5.1.3 asks of a wrong audience), not only its own code.
  expect(res.status, `HTTP status of ${code}`).toBe(ltiErrorCatalogue[code as LtiErrorCode].status);
  expect(res.text).toContain(`<code>${code}</code>`);
  expect(res.text).not.toMatch(/at .*\.ts:\d+|Error:|stack/i);
  const reference = /<code>([0-9a-f-]{36})<\/code>/.exec(res.text)?.[1];
  expect(reference, 'the page gives the launch-log reference').toBeDefined();
  let found = await fx.admin.get(`/api/v1/lti/launches/${reference}`);
  // Refusals before any registration is known belong to no tenant: system administrators see them.
  if (found.status === 404) found = await fx.admin.get(`/api/v1/lti/launches/${reference}`).query({ unattributed: true });
  expect(found.status).toBe(200);
  const entry = found.body as Record<string, unknown>;
  expect(entry['outcome']).toBe('failure');
  expect(entry['error_code']).toBe(code);
  if (step) expect(entry['failed_step']).toBe(step);
  return entry;
}
