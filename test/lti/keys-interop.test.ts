import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportPKCS8 } from 'jose';
import jsonwebtoken from 'jsonwebtoken';
import { JwksClient } from 'jwks-rsa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signJwt } from '../../src/lti/core/signing.js';
import { runLaunch, setupLti, type LtiFixture } from './support.js';

let fx: LtiFixture;
let server: http.Server;
let cairnUrl: string;

beforeAll(async () => {
  fx = await setupLti({ jobs: true });
  server = http.createServer(fx.t.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cairnUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fx.platform.toolJwksUrl = `${cairnUrl}/.well-known/jwks.json`;
});
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => server?.close(() => resolve()) ?? resolve());
  await fx?.close();
});

const jwksStatus = async () => (await fx.t.agent().get('/.well-known/jwks.json')).body.keys.map((k: { kid: string }) => k.kid) as string[];

/** Verifies with Auth0's jsonwebtoken + jwks-rsa, reading Cairn's JWKS over HTTP: nothing shared with jose. */
async function verifyIndependently(token: string, audience: string): Promise<jsonwebtoken.JwtPayload> {
  const client = new JwksClient({ jwksUri: `${cairnUrl}/.well-known/jwks.json`, cache: false });
  const { header } = jsonwebtoken.decode(token, { complete: true })!;
  const key = await client.getSigningKey(header.kid);
  return jsonwebtoken.verify(token, key.getPublicKey(), { algorithms: ['RS256'], audience }) as jsonwebtoken.JwtPayload;
}

describe('Cairn\'s signing keys: storage, JWKS, rotation with overlap, and an independent verifier', () => {
  it('stores keys encrypted at rest and publishes only public halves of the current and next keys', async () => {
    await fx.t.deps.lti.keys.ensureKeys();
    const rows = await fx.t.deps.db('lti_keys').orderBy('created_at');
    expect(rows.map((r: { status: string }) => r.status).sort()).toEqual(['current', 'next']);
    for (const row of rows) {
      expect(row.private_key_encrypted).toMatch(/^v1\./);
      expect(row.private_key_encrypted).not.toContain('PRIVATE KEY');
      expect(fx.t.deps.secrets.decrypt('lti-signing-key', row.private_key_encrypted)).toContain('BEGIN PRIVATE KEY');
    }
    const jwks = await fx.t.agent().get('/.well-known/jwks.json');
    expect(jwks.headers['cache-control']).toBe('public, max-age=300');
    expect(jwks.body.keys.map((k: { kid: string }) => k.kid).sort()).toEqual(rows.map((r: { kid: string }) => r.kid).sort());
    expect(JSON.stringify(jwks.body)).not.toMatch(/"d"|"p"|"q"|"dp"|"dq"|"qi"/);
  });

  it('a JWT Cairn signs verifies with jsonwebtoken + jwks-rsa, before and after a rotation, until the overlap ends', async () => {
    const beforeRotation = await signJwt(fx.t.deps.lti.keys, { purpose: 'interop' }, { issuer: 'cairn-test', audience: 'peer', expiresIn: 86_400 * 30 });
    expect((await verifyIndependently(beforeRotation, 'peer'))['purpose']).toBe('interop');
    const oldKid = jsonwebtoken.decode(beforeRotation, { complete: true })!.header.kid!;
    const nextKid = (await fx.t.deps.db('lti_keys').where({ status: 'next' }).first()).kid as string;

    const rotate = await fx.admin.post('/api/v1/lti/keys/rotate');
    expect(rotate.status).toBe(200);
    expect(rotate.body.current).toBe(nextKid);
    const kids = await jwksStatus();
    expect(kids).toEqual(expect.arrayContaining([oldKid, nextKid, rotate.body.next]));
    expect(kids).toHaveLength(3);

    const afterRotation = await signJwt(fx.t.deps.lti.keys, { purpose: 'interop' }, { issuer: 'cairn-test', audience: 'peer' });
    expect(jsonwebtoken.decode(afterRotation, { complete: true })!.header.kid).toBe(nextKid);
    expect((await verifyIndependently(afterRotation, 'peer'))['iss']).toBe('cairn-test');
    // The previous key stays published during the overlap: what it signed still verifies.
    expect((await verifyIndependently(beforeRotation, 'peer'))['purpose']).toBe('interop');

    const keys = await fx.admin.get('/api/v1/lti/keys');
    expect(keys.body.data.find((k: { kid: string }) => k.kid === oldKid)).toMatchObject({ status: 'previous' });
    const audit = await fx.admin.get('/api/v1/audit-log').query({ action: 'lti_key.rotate' });
    expect(audit.body.data[0]).toMatchObject({ target_id: nextKid });

    fx.t.clock.advance((fx.t.deps.config.lti.keyOverlapDays * 86_400 + 60) * 1000);
    fx.t.deps.lti.keys.forget();
    await fx.t.deps.lti.keys.rotateIfDue();
    expect(await jwksStatus()).not.toContain(oldKid);
    const retired = await fx.t.deps.db('lti_keys').where({ kid: oldKid }).first();
    expect(retired).toMatchObject({ status: 'retired', private_key_encrypted: null });
    await expect(verifyIndependently(beforeRotation, 'peer')).rejects.toThrow();
  });

  it('the scheduled job rotates once the current key is older than CAIRN_LTI_KEY_ROTATION_DAYS, and not before', async () => {
    const current = async () => (await fx.t.deps.db('lti_keys').where({ status: 'current' }).first()).kid as string;
    const before = await current();
    const runJob = async () => {
      const id = await fx.t.deps.jobs!.send('lti-key-rotation', {});
      for (let i = 0; i < 100; i++) {
        const job = await fx.t.deps.jobs!.get('lti-key-rotation', id);
        if (job?.state === 'completed') return job.output as { rotated: boolean };
        if (job?.state === 'failed') throw new Error(JSON.stringify(job.output));
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('job did not finish');
    };
    expect((await runJob()).rotated).toBe(false);
    expect(await current()).toBe(before);
    fx.t.clock.advance(fx.t.deps.config.lti.keyRotationDays * 86_400_000);
    expect((await runJob()).rotated).toBe(true);
    expect(await current()).not.toBe(before);
  });

  it('a client assertion Cairn signs (private_key_jwt) is accepted by the test platform\'s token endpoint, which verifies it against Cairn\'s JWKS', async () => {
    fx.t.deps.lti.keys.forget();
    const assertion = await signJwt(fx.t.deps.lti.keys, {}, {
      issuer: fx.platform.clientId, subject: fx.platform.clientId, audience: fx.platform.tokenUrl, jti: true, now: Math.floor(Date.now() / 1000),
    });
    const res = await fetch(fx.platform.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion, scope: 'https://purl.imsglobal.org/spec/lti-ags/scope/score',
      }),
    });
    const body = await res.json() as Record<string, unknown>;
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body['token_type']).toBe('Bearer');
    // And a forged one (another key, same kid) is refused by the same verifier.
    const [h, p] = assertion.split('.');
    const forged = await fetch(fx.platform.tokenUrl, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: `${h}.${p}.AAAA` }),
    });
    expect(forged.status).toBe(401);
  });

  it('an id_token signed by jsonwebtoken (not jose) launches Cairn', async () => {
    const flow = await runLaunch(fx, {
      tweak: {
        signer: async (claims, key) => jsonwebtoken.sign(claims, await exportPKCS8(key.privateKey), { algorithm: 'RS256', keyid: key.kid }),
      },
    });
    expect(flow.launch.status, flow.launch.text).toBe(303);
    expect(JSON.parse(Buffer.from(flow.idToken.split('.')[0]!, 'base64url').toString())).toEqual({ alg: 'RS256', typ: 'JWT', kid: fx.platform.currentKid });
  });
});
