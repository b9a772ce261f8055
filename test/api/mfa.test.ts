import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';
import { auditRows, createUser, expectProblem, uniqueEmail, userPassword, type Agent } from '../support/api.js';

// ---------------------------------------------------------------------------------------
// An independent TOTP generator (RFC 6238 over RFC 4226), written from the RFCs with
// node:crypto only, so the server's library is checked against something it does not share.

function hotp(key: Buffer, counter: bigint, digits: number): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(counter);
  const mac = createHmac('sha1', key).update(message).digest();
  // Dynamic truncation (RFC 4226 §5.3): the low nibble of the last byte picks 4 bytes.
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = ((mac[offset]! & 0x7f) << 24) | (mac[offset + 1]! << 16) | (mac[offset + 2]! << 8) | mac[offset + 3]!;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

function totp(key: Buffer, unixSeconds: number, digits = 6, step = 30): string {
  return hotp(key, BigInt(Math.floor(unixSeconds / step)), digits);
}

/** RFC 4648 base32 (the alphabet authenticator apps use), padding optional. */
function base32Decode(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const char of text.replace(/=+$/, '').toUpperCase()) {
    const index = alphabet.indexOf(char);
    if (index < 0) throw new Error(`not base32: ${char}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

describe('the test\'s own TOTP generator', () => {
  // RFC 6238 Appendix B, SHA-1 rows: seed "12345678901234567890", 8 digits, 30 s steps.
  const seed = Buffer.from('12345678901234567890', 'ascii');
  it.each([
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130'],
  ])('matches RFC 6238 at T=%i', (time, expected) => {
    expect(totp(seed, time, 8)).toBe(expected);
  });

  it('decodes base32 as RFC 4648 §10 does', () => {
    expect(base32Decode('MZXW6YTBOI======').toString()).toBe('foobar');
  });
});

// ---------------------------------------------------------------------------------------

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t?.close(); });

const admin = () => t.login();

/** The code for the app's current time, after moving to the next 30 s step (codes are single-use per step). */
function nextCode(secret: string): string {
  t.clock.advance(30_000);
  return totp(base32Decode(secret), t.clock.now().getTime() / 1000);
}

async function enroll(agent: Agent): Promise<{ secret: string; recoveryCodes: string[] }> {
  const setup = await agent.post('/api/v1/auth/mfa/setup');
  expect(setup.status).toBe(200);
  const confirm = await agent.post('/api/v1/auth/mfa/confirm').send({ code: nextCode(setup.body.secret) });
  expect(confirm.status).toBe(200);
  return { secret: setup.body.secret, recoveryCodes: confirm.body.recovery_codes };
}

async function passwordLogin(email: string, password = userPassword, tenant?: string): Promise<{ agent: Agent; res: request.Response }> {
  const agent = t.agent();
  const res = await agent.post('/api/v1/auth/login').send({ email, password, ...(tenant ? { tenant } : {}) });
  return { agent, res };
}

describe('TOTP enrollment and login', () => {
  it('enrolls, then demands and accepts a code at login; other endpoints answer 401 mfa_required until then', async () => {
    const user = await createUser(await admin(), 'instructor');
    const agent = await t.login(user.email, user.password);

    const setup = await agent.post('/api/v1/auth/mfa/setup');
    expect(setup.status).toBe(200);
    const secret: string = setup.body.secret;
    expect(base32Decode(secret).length).toBe(20);
    const uri = new URL(setup.body.otpauth_uri);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(uri.searchParams.get('secret')).toBe(secret);
    expect(uri.searchParams.get('issuer')).toBe('Cairn');
    expect(uri.searchParams.get('algorithm')).toBe('SHA1');
    expect(uri.searchParams.get('digits')).toBe('6');
    expect(uri.searchParams.get('period')).toBe('30');
    // Not enabled until confirmed.
    expect((await agent.get('/api/v1/me')).body.user.mfa_enabled).toBe(false);
    // The seed is stored encrypted, never in clear.
    const row = await t.deps.db('users').where({ id: user.id }).first();
    expect(row.mfa_secret_encrypted).not.toContain(secret);

    expectProblem(await agent.post('/api/v1/auth/mfa/confirm').send({ code: '000000' === totp(base32Decode(secret), t.clock.now().getTime() / 1000) ? '111111' : '000000' }), 401, 'invalid_credentials');
    const confirm = await agent.post('/api/v1/auth/mfa/confirm').send({ code: nextCode(secret) });
    expect(confirm.status).toBe(200);
    const codes: string[] = confirm.body.recovery_codes;
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[a-z0-9]{5}-[a-z0-9]{5}$/);
    expect((await agent.get('/api/v1/me')).body.user.mfa_enabled).toBe(true);
    // The confirming session stays fully usable.
    expect((await agent.get('/api/v1/courses')).status).toBe(200);

    expect((await agent.post('/api/v1/auth/logout')).status).toBe(204);

    const { agent: second, res } = await passwordLogin(user.email, user.password);
    expect(res.status).toBe(200);
    expect(res.body.mfa_required).toBe(true);
    expectProblem(await second.get('/api/v1/courses'), 401, 'mfa_required');
    expectProblem(await second.post('/api/v1/courses').send({ title: 'Before MFA' }), 401, 'mfa_required');
    expectProblem(await second.post('/api/v1/tokens').send({ name: 'sneaky', scopes: ['courses:read'] }), 401, 'mfa_required');
    // Whoami tells the console what to show.
    const me = await second.get('/api/v1/me');
    expect(me.status).toBe(200);
    expect(me.body.mfa_required).toBe(true);

    expect((await second.post('/api/v1/auth/mfa/verify').send({ code: nextCode(secret) })).status).toBe(204);
    expect((await second.get('/api/v1/courses')).status).toBe(200);
    expect((await second.get('/api/v1/me')).body.mfa_required).toBe(false);
    expect(await auditRows(t, { action: 'auth.mfa_verified', target_id: user.id })).toHaveLength(1);
    expect(await auditRows(t, { action: 'user.mfa_enabled', target_id: user.id })).toHaveLength(1);
  });

  it('refuses to replay a code that was already accepted', async () => {
    const user = await createUser(await admin(), 'learner');
    const { secret } = await enroll(await t.login(user.email, user.password));
    const code = nextCode(secret);

    const first = await passwordLogin(user.email);
    expect((await first.agent.post('/api/v1/auth/mfa/verify').send({ code })).status).toBe(204);

    const second = await passwordLogin(user.email);
    expectProblem(await second.agent.post('/api/v1/auth/mfa/verify').send({ code }), 401, 'invalid_credentials');
    expectProblem(await second.agent.get('/api/v1/courses'), 401, 'mfa_required');
    // An older code (the previous step, still inside the drift window) is no good either.
    const previous = totp(base32Decode(secret), t.clock.now().getTime() / 1000 - 30);
    expectProblem(await second.agent.post('/api/v1/auth/mfa/verify').send({ code: previous }), 401, 'invalid_credentials');
    expect((await second.agent.post('/api/v1/auth/mfa/verify').send({ code: nextCode(secret) })).status).toBe(204);
  });

  it('accepts a code from the adjacent step (clock drift) but not two steps away', async () => {
    const user = await createUser(await admin(), 'learner');
    const { secret } = await enroll(await t.login(user.email, user.password));
    t.clock.advance(120_000);
    const now = t.clock.now().getTime() / 1000;
    const { agent } = await passwordLogin(user.email);
    expectProblem(await agent.post('/api/v1/auth/mfa/verify').send({ code: totp(base32Decode(secret), now + 60) }), 401, 'invalid_credentials');
    expect((await agent.post('/api/v1/auth/mfa/verify').send({ code: totp(base32Decode(secret), now + 30) })).status).toBe(204);
  });

  it('accepts each recovery code exactly once', async () => {
    const user = await createUser(await admin(), 'learner');
    const { recoveryCodes } = await enroll(await t.login(user.email, user.password));
    const code = recoveryCodes[3]!;

    const first = await passwordLogin(user.email);
    // Typed with capitals and spaces around it, as people do.
    expect((await first.agent.post('/api/v1/auth/mfa/verify').send({ recovery_code: ` ${code.toUpperCase()} ` })).status).toBe(204);
    expect((await first.agent.get('/api/v1/courses')).status).toBe(200);
    const audit = await auditRows(t, { action: 'auth.mfa_verified', target_id: user.id });
    expect(audit[0]!['details']).toMatchObject({ method: 'recovery_code' });

    const second = await passwordLogin(user.email);
    expectProblem(await second.agent.post('/api/v1/auth/mfa/verify').send({ recovery_code: code }), 401, 'invalid_credentials');
    expect((await second.agent.post('/api/v1/auth/mfa/verify').send({ recovery_code: recoveryCodes[4] })).status).toBe(204);
    const stored = await t.deps.db('mfa_recovery_codes').where({ user_id: user.id });
    expect(stored.filter((r) => r.used_at !== null)).toHaveLength(2);
    // Only hashes are stored.
    expect(stored.map((r) => r.code_hash)).not.toContain(code);
  });

  it('counts wrong codes toward the lockout, and a fresh password login does not reset that count', async () => {
    const user = await createUser(await admin(), 'learner');
    const { secret } = await enroll(await t.login(user.email, user.password));
    const wrong = () => {
      const right = totp(base32Decode(secret), t.clock.now().getTime() / 1000);
      return right === '123456' ? '654321' : '123456';
    };

    // Three wrong codes, then the attacker (who knows the password) starts over…
    const first = await passwordLogin(user.email);
    for (let i = 0; i < 3; i++) expectProblem(await first.agent.post('/api/v1/auth/mfa/verify').send({ code: wrong() }), 401, 'invalid_credentials');
    const second = await passwordLogin(user.email);
    expect(second.res.status).toBe(200);
    expectProblem(await second.agent.post('/api/v1/auth/mfa/verify').send({ code: wrong() }), 401, 'invalid_credentials');
    // …and the fifth wrong code in a row locks the account and ends the session.
    const locked = await second.agent.post('/api/v1/auth/mfa/verify').send({ code: wrong() });
    expectProblem(locked, 423, 'account_locked');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expectProblem(await second.agent.get('/api/v1/me'), 401, 'unauthenticated');
    expectProblem((await passwordLogin(user.email)).res, 423, 'account_locked');
    expect(await auditRows(t, { action: 'auth.mfa_failed', target_id: user.id })).toHaveLength(5);
    expect(await auditRows(t, { action: 'user.locked', target_id: user.id })).toHaveLength(1);

    t.clock.advance(15 * 60_000);
    const after = await passwordLogin(user.email);
    expect(after.res.body.mfa_required).toBe(true);
    expect((await after.agent.post('/api/v1/auth/mfa/verify').send({ code: nextCode(secret) })).status).toBe(204);
  });

  it('lets a user turn MFA off with the password', async () => {
    const user = await createUser(await admin(), 'learner');
    const agent = await t.login(user.email, user.password);
    await enroll(agent);
    expectProblem(await agent.delete('/api/v1/auth/mfa').send({ password: 'not my password' }), 401, 'invalid_credentials');
    expect((await agent.delete('/api/v1/auth/mfa').send({ password: user.password })).status).toBe(204);
    const again = await passwordLogin(user.email);
    expect(again.res.body.mfa_required).toBe(false);
    expect((await again.agent.get('/api/v1/courses')).status).toBe(200);
  });

  it('will not start a second enrollment over an active one', async () => {
    const user = await createUser(await admin(), 'learner');
    const agent = await t.login(user.email, user.password);
    await enroll(agent);
    expectProblem(await agent.post('/api/v1/auth/mfa/setup'), 409, 'conflict');
  });
});

describe('tenant policy: MFA required for admins', () => {
  it('blocks an admin without MFA (403 mfa_enrollment_required) except for enrollment, then lets them in', async () => {
    const system = await admin();
    const slug = `mfa-${Date.now().toString(36)}`;
    const adminEmail = uniqueEmail('tenant-admin');
    const created = await system.post('/api/v1/tenants').send({ slug, name: 'MFA tenant', admin: { email: adminEmail, password: userPassword } });
    expect(created.status).toBe(201);

    const { agent: tenantAdmin } = await passwordLogin(adminEmail, userPassword, slug);
    const learner = await createUser(tenantAdmin, 'learner');
    expect((await tenantAdmin.patch('/api/v1/tenant').send({ require_mfa_for_admins: true })).status).toBe(200);

    // The policy applies to the session already open.
    expectProblem(await tenantAdmin.get('/api/v1/courses'), 403, 'mfa_enrollment_required');
    expectProblem(await tenantAdmin.post('/api/v1/users').send({ email: uniqueEmail('x'), role: 'learner' }), 403, 'mfa_enrollment_required');
    expect((await tenantAdmin.get('/api/v1/me')).body.mfa_enrollment_required).toBe(true);
    // A fresh login says so up front.
    const fresh = await passwordLogin(adminEmail, userPassword, slug);
    expect(fresh.res.body).toMatchObject({ mfa_required: false, mfa_enrollment_required: true });
    // Learners are not affected.
    const learnerLogin = await passwordLogin(learner.email, learner.password, slug);
    expect((await learnerLogin.agent.get('/api/v1/courses')).status).toBe(200);

    await enroll(tenantAdmin);
    expect((await tenantAdmin.get('/api/v1/courses')).status).toBe(200);
    expect((await tenantAdmin.get('/api/v1/me')).body.mfa_enrollment_required).toBe(false);
    // Other sessions opened without the second factor were ended by the enrollment.
    expectProblem(await fresh.agent.get('/api/v1/me'), 401, 'unauthenticated');
  });
});

describe('tenant policy and the system administrator', () => {
  it('requires MFA of an operator acting inside a tenant that requires it of its admins', async () => {
    const system = await admin();
    const slug = `strict-${Date.now().toString(36)}`;
    expect((await system.post('/api/v1/tenants').send({ slug, name: 'Strict', require_mfa_for_admins: true })).status).toBe(201);
    expectProblem(await system.get('/api/v1/users').set('Cairn-Tenant', slug), 403, 'mfa_enrollment_required');
    // At home, where the policy is off, nothing changes.
    expect((await system.get('/api/v1/users')).status).toBe(200);
  });
});

describe('admin reset of a user\'s MFA', () => {
  it('removes the enrollment, ends the user\'s sessions and lets them log in with the password alone', async () => {
    const system = await admin();
    const user = await createUser(system, 'instructor');
    const userAgent = await t.login(user.email, user.password);
    const { recoveryCodes } = await enroll(userAgent);

    // Not something a non-admin may do.
    const other = await createUser(system, 'instructor');
    const otherAgent = await t.login(other.email, other.password);
    expectProblem(await otherAgent.post(`/api/v1/users/${user.id}/mfa/reset`), 403, 'forbidden');

    const reset = await system.post(`/api/v1/users/${user.id}/mfa/reset`);
    expect(reset.status).toBe(204);
    expectProblem(await userAgent.get('/api/v1/me'), 401, 'unauthenticated');
    const seen = await system.get(`/api/v1/users/${user.id}`);
    expect(seen.body.mfa_enabled).toBe(false);

    const again = await passwordLogin(user.email);
    expect(again.res.body.mfa_required).toBe(false);
    expect((await again.agent.get('/api/v1/courses')).status).toBe(200);
    // The old recovery codes died with the enrollment.
    expect(await t.deps.db('mfa_recovery_codes').where({ user_id: user.id })).toHaveLength(0);
    expect(recoveryCodes).toHaveLength(10);
    const audit = await auditRows(t, { action: 'user.mfa_reset', target_id: user.id });
    expect(audit).toHaveLength(1);
    expect(audit[0]!['actor_label']).toBe('admin@test.example');
  });

  it('answers 404 for a user that does not exist', async () => {
    expectProblem(await (await admin()).post('/api/v1/users/00000000-0000-4000-8000-000000000000/mfa/reset'), 404, 'not_found');
  });
});
