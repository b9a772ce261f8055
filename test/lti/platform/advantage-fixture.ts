import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import { formFields, setupLti, type LtiFixture } from '../support.js';
import { PlatformServices } from './services.js';

export interface AdvantageFixture extends LtiFixture {
  readonly services: PlatformServices;
  readonly tenantId: string;
}

/**
 * setupLti with job workers on (grade passback and roster sync run as pg-boss jobs), short
 * retry delays, and the test platform's Advantage services: the registration's token URL is
 * the services' token endpoint.
 */
export async function setupAdvantage(options: { env?: Record<string, string> } = {}): Promise<AdvantageFixture> {
  const fx = await setupLti({ jobs: true, env: { CAIRN_LTI_SERVICE_RETRY_SECONDS: '1', ...options.env } });
  // Cairn's JWKS over real HTTP, for the platform to verify client assertions and deep-linking responses.
  const server = http.createServer(fx.t.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fx.platform.toolJwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  const services = await PlatformServices.start(fx.platform);
  const res = await fx.admin.patch(`/api/v1/lti/platforms/${fx.platformId}`).send({ token_url: services.tokenUrl });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const tenant = await fx.t.deps.db('tenants').where({ slug: 'default' }).first();
  return {
    ...fx, services, tenantId: tenant.id as string,
    async close() {
      await services.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await fx.close();
    },
  };
}

/** Polls until `check` returns a value (not undefined/false), or fails with `what`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The auto-posting form of a deep-linking response page: where it posts and the JWT it carries. */
export function responseForm(html: string): { action: string; jwt: string } {
  const action = /<form id="cairn-autopost" method="post" action="([^"]+)"/.exec(html)?.[1]?.replace(/&amp;/g, '&');
  const jwt = formFields(html)['JWT'];
  expect(action, 'an auto-posting form').toBeDefined();
  expect(jwt, 'a JWT field').toBeDefined();
  return { action: action!, jwt: jwt! };
}

/** What the browser does with that page: post the form to the platform. */
export async function postToPlatform(form: { action: string; jwt: string }): Promise<Response> {
  return fetch(form.action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ JWT: form.jwt }).toString() });
}
