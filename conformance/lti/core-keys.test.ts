import { exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { RemoteJwksCache } from '../../src/lti/core/remote-jwks.js';
import { courseRoleFor, expandRole } from '../../src/lti/core/roles.js';

/**
 * Security Framework 1.0 §6.3 (key set URL, kid, rotation: "a party SHOULD refetch the key set
 * when it meets an unknown kid") for the remote JWKS cache, with a counting fetch; and the
 * LTI Core Appendix A role vocabularies.
 */
async function keySet(kids: string[]) {
  return { keys: await Promise.all(kids.map(async (kid) => ({ ...(await exportJWK((await generateKeyPair('RS256')).publicKey)), kid, alg: 'RS256', use: 'sig' }))) };
}

function server(initial: { keys: unknown[] }) {
  let body: unknown = initial;
  let status = 200;
  let cacheControl: string | undefined;
  const state = { hits: 0 };
  const fetchImpl = (async () => {
    state.hits++;
    return new Response(JSON.stringify(body), { status, headers: cacheControl ? { 'cache-control': cacheControl } : {} });
  }) as typeof fetch;
  return { state, fetchImpl, set: (b: unknown) => { body = b; }, fail: (s: number) => { status = s; }, cache: (c: string) => { cacheControl = c; } };
}

describe('Security Framework §6.3: remote key sets', () => {
  it('fetches once, serves known kids from the cache, and refetches on an unknown kid (rotation)', async () => {
    let now = 1_000_000;
    const s = server(await keySet(['a']));
    const cache = new RemoteJwksCache({ fetch: s.fetchImpl, now: () => now });
    await cache.getKey('u', 'a');
    await cache.getKey('u', 'a');
    expect(s.state.hits).toBe(1);
    s.set(await keySet(['a', 'b']));
    now += 31_000;
    await expect(cache.getKey('u', 'b')).resolves.toBeDefined();
    expect(s.state.hits).toBe(2);
  });

  it('rate-limits refetches caused by unknown kids (30 s per key set)', async () => {
    let now = 1_000_000;
    const s = server(await keySet(['a']));
    const cache = new RemoteJwksCache({ fetch: s.fetchImpl, now: () => now });
    await cache.getKey('u', 'a');
    for (const kid of ['x', 'y', 'z']) await expect(cache.getKey('u', kid)).rejects.toMatchObject({ code: 'kid_unknown' });
    expect(s.state.hits).toBe(1);
    now += 30_000;
    await expect(cache.getKey('u', 'x')).rejects.toMatchObject({ code: 'kid_unknown' });
    expect(s.state.hits).toBe(2);
  });

  it('deduplicates concurrent fetches of one key set', async () => {
    const s = server(await keySet(['a']));
    const cache = new RemoteJwksCache({ fetch: s.fetchImpl });
    await Promise.all(Array.from({ length: 20 }, () => cache.getKey('u', 'a')));
    expect(s.state.hits).toBe(1);
  });

  it('keeps serving known keys when a refresh fails; a key set never fetched is jwks_unavailable, and not retried at once', async () => {
    let now = 1_000_000;
    const s = server(await keySet(['a']));
    const cache = new RemoteJwksCache({ fetch: s.fetchImpl, now: () => now, maxAgeMs: 60_000 });
    await cache.getKey('u', 'a');
    s.fail(503);
    now += 61_000;
    await expect(cache.getKey('u', 'a')).resolves.toBeDefined();
    const broken = new RemoteJwksCache({ fetch: s.fetchImpl, now: () => now });
    await expect(broken.getKey('v', 'a')).rejects.toMatchObject({ code: 'jwks_unavailable' });
    const hits = s.state.hits;
    await expect(broken.getKey('v', 'a')).rejects.toMatchObject({ code: 'jwks_unavailable' });
    expect(s.state.hits).toBe(hits);
  });

  it('honours Cache-Control max-age within bounds, ignores non-RSA and non-signing keys, refuses bodies that are not key sets', async () => {
    let now = 1_000_000;
    const set = await keySet(['a']);
    const s = server({ keys: [...set.keys, { kty: 'EC', kid: 'ec', crv: 'P-256', x: 'x', y: 'y' }, { ...set.keys[0], kid: 'enc', use: 'enc' }] });
    s.cache('public, max-age=3600');
    const cache = new RemoteJwksCache({ fetch: s.fetchImpl, now: () => now });
    await cache.getKey('u', 'a');
    await expect(cache.getKey('u', 'ec')).rejects.toMatchObject({ code: 'kid_unknown' });
    now += 31_000;
    await expect(cache.getKey('u', 'enc')).rejects.toMatchObject({ code: 'kid_unknown' });
    now += 20 * 60_000;
    const hits = s.state.hits;
    await cache.getKey('u', 'a');
    expect(s.state.hits).toBe(hits);
    s.set({ nope: true });
    const fresh = new RemoteJwksCache({ fetch: s.fetchImpl, now: () => now });
    await expect(fresh.getKey('w', 'a')).rejects.toMatchObject({ code: 'jwks_unavailable' });
  });
});

describe('LTI Core 1.3 Appendix A: role vocabularies', () => {
  it.each([
    ['Instructor', 'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor'],
    ['Learner', 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'],
    ['ContentDeveloper', 'http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper'],
    ['TeachingAssistant', 'http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant'],
    ['Instructor#TeachingAssistant', 'http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant'],
    ['urn:lti:role:ims/lis/Learner/NonCreditLearner', 'http://purl.imsglobal.org/vocab/lis/v2/membership/Learner#NonCreditLearner'],
    ['urn:lti:instrole:ims/lis/Faculty', 'http://purl.imsglobal.org/vocab/lis/v2/institution/person#Faculty'],
    ['urn:lti:sysrole:ims/lis/Administrator', 'http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator'],
    ['http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor', 'http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor'],
    ['SomethingElse', 'SomethingElse'],
  ])('%s → %s', (role, full) => {
    expect(expandRole(role)).toBe(full);
  });

  it('course role: a TeachingAssistant sub-role wins over Instructor; platform administrators become instructors, never Cairn admins', () => {
    const m = (n: string) => `http://purl.imsglobal.org/vocab/lis/v2/membership#${n}`;
    expect(courseRoleFor([m('Instructor'), 'http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant'])).toBe('teaching_assistant');
    expect(courseRoleFor([m('Administrator')])).toBe('instructor');
    expect(courseRoleFor(['http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator'])).toBe('instructor');
    expect(courseRoleFor([m('Learner'), 'http://purl.imsglobal.org/vocab/lis/v2/institution/person#Faculty'])).toBe('learner');
    expect(courseRoleFor([m('Mentor')])).toBe('observer');
    expect(courseRoleFor(['http://purl.imsglobal.org/vocab/lti/system/person#TestUser'])).toBe('learner');
  });
});
