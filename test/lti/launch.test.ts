import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRows, createUser, expectProblem } from '../support/api.js';
import { instructor, lastLaunch, learner, roles, runLaunch, setupLti, type LtiFixture } from './support.js';

let fx: LtiFixture;
beforeAll(async () => {
  fx = await setupLti();
});
afterAll(async () => {
  await fx?.close();
});

const db = () => fx.t.deps.db;

describe('LTI 1.3 tool: login → platform authentication → launch → provisioning → landing page', () => {
  it('GET login redirects to the platform authentication endpoint with every OIDC parameter and sets the browser-binding cookie', async () => {
    const agent = fx.t.agent();
    const res = await agent.get('/lti/login').query({
      iss: fx.platform.issuer, login_hint: 'learner-hint', target_link_uri: fx.platform.toolTargetLinkUri,
      lti_message_hint: 'link-1', lti_deployment_id: fx.platform.deploymentId, client_id: fx.platform.clientId,
    });
    expect(res.status).toBe(302);
    const location = new URL(res.headers['location'] as string);
    expect(`${location.origin}${location.pathname}`).toBe(fx.platform.authUrl);
    const q = Object.fromEntries(location.searchParams);
    expect(q).toMatchObject({
      scope: 'openid', response_type: 'id_token', response_mode: 'form_post', prompt: 'none',
      client_id: fx.platform.clientId, redirect_uri: `${fx.t.deps.config.publicUrl}/lti/launch`,
      login_hint: 'learner-hint', lti_message_hint: 'link-1',
    });
    expect(q['state']!.length).toBeGreaterThanOrEqual(40);
    expect(q['nonce']!.length).toBeGreaterThanOrEqual(30);
    const cookie = (res.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('cairn_lti_'))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/Path=\/lti/);
    // State lives server-side, hashed: the state value itself is not in the table.
    const stored = await db()('lti_states').select('id', 'nonce');
    expect(stored.some((s: { nonce: string }) => s.nonce === q['nonce'])).toBe(true);
    expect(stored.some((s: { id: string }) => s.id === q['state'])).toBe(false);
  });

  it('a learner launch provisions the user (iss+sub, name, email), the course by context, the enrollment and the resource link, then lands on the course page', async () => {
    const flow = await runLaunch(fx, { messageHint: 'link-learner' });
    expect(flow.launch.status, flow.launch.text).toBe(303);
    const landing = flow.launch.headers['location'] as string;
    expect(landing.startsWith(`${fx.t.deps.config.publicUrl}/lti/course/`)).toBe(true);
    // The Set-Cookie of the launch clears the binding cookie: the state is spent.
    expect((flow.launch.headers['set-cookie'] as unknown as string[]).join(';')).toMatch(/cairn_lti_[^=]+=;/);

    const identity = await db()('user_identities').where({ issuer: fx.platform.issuer, subject: learner.sub }).first();
    expect(identity).toMatchObject({ email: learner.email, name: learner.name, given_name: 'Lena', family_name: 'Learner' });
    const user = await db()('users').where({ id: identity.user_id }).first();
    expect(user).toMatchObject({ email: learner.email, name: learner.name, role: 'learner', password_hash: null });
    const context = await db()('course_contexts').where({ context_id: 'course-1' }).first();
    expect(context).toMatchObject({ title: 'Biology 101', label: 'BIO101' });
    expect(context.nrps).toMatchObject({ context_memberships_url: `${fx.platform.baseUrl}/courses/1/memberships` });
    const course = await db()('courses').where({ id: context.course_id }).first();
    expect(course.title).toBe('Biology 101');
    const enrollment = await db()('enrollments').where({ course_id: course.id, user_id: user.id }).first();
    expect(enrollment).toMatchObject({ role: 'learner', source: 'lti', status: 'active' });
    const link = await db()('lti_resource_links').where({ resource_link_id: 'link-link-learner' }).first();
    expect(link).toMatchObject({ course_id: course.id, title: 'Week 1 quiz' });
    expect(link.ags.lineitems).toBe(`${fx.platform.baseUrl}/courses/1/lineitems`);

    const page = await flow.agent.get(new URL(landing).pathname);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.text).toContain('Biology 101');
    expect(page.text).toContain('Lena Learner');
    // Framed by the LMS: no X-Frame-Options, any ancestor, scripts only from Cairn.
    expect(page.headers['x-frame-options']).toBeUndefined();
    expect(page.headers['content-security-policy']).toContain('frame-ancestors *');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");

    const entry = await lastLaunch(fx);
    expect(entry).toMatchObject({ outcome: 'success', error_code: null, user_id: user.id, course_id: course.id, message_type: 'LtiResourceLinkRequest', subject: learner.sub, resource_link_id: 'link-link-learner', deployment_id: fx.platform.deploymentId });
    expect(entry['steps_passed']).toEqual(['state', 'id_token', 'browser', 'format', 'alg', 'kid', 'signature', 'iss', 'aud', 'azp', 'exp', 'iat', 'nonce', 'deployment', 'message_type', 'version', 'claims', 'roles', 'target_link_uri', 'login_deployment', 'provisioning']);
  });

  it('the landing page works from its token alone: a browser without Cairn cookies sees it, a tampered token gets the expired-link page', async () => {
    const flow = await runLaunch(fx, { messageHint: 'link-cookieless' });
    const path = new URL(flow.launch.headers['location'] as string).pathname;
    const stranger = await fx.t.agent().get(path);
    expect(stranger.status).toBe(200);
    expect(stranger.text).toContain('Biology 101');
    const tampered = await fx.t.agent().get(`${path.slice(0, -3)}abc`);
    expect(tampered.status).toBe(401);
    expect(tampered.text).toContain('<code>context_expired</code>');
  });

  it('POST login works like GET, and a second launch reuses the user, follows renamed names and does not duplicate anything', async () => {
    fx.platform.users.set('renamed-hint', { ...learner, name: 'Lena Renamed' });
    const first = await runLaunch(fx, { method: 'POST', messageHint: 'link-learner' });
    expect(first.launch.status).toBe(303);
    const second = await runLaunch(fx, { loginHint: 'renamed-hint', messageHint: 'link-learner' });
    expect(second.launch.status).toBe(303);
    expect(await db()('user_identities').where({ issuer: fx.platform.issuer, subject: learner.sub }).count<{ count: string }[]>('* as count')).toEqual([{ count: '1' }]);
    const identity = await db()('user_identities').where({ subject: learner.sub }).first();
    expect((await db()('users').where({ id: identity.user_id }).first()).name).toBe('Lena Renamed');
    expect(await db()('course_contexts').where({ context_id: 'course-1' }).count<{ count: string }[]>('* as count')).toEqual([{ count: '1' }]);
    expect(await db()('lti_resource_links').where({ resource_link_id: 'link-link-learner' }).count<{ count: string }[]>('* as count')).toEqual([{ count: '1' }]);
  });

  it('maps context roles to course roles: Instructor, TeachingAssistant (sub-role wins), short names, Mentor, LTI 1.1 URNs', async () => {
    const cases: [string, string[], string, string][] = [
      ['t1', [roles.instructor], 'instructor', 'instructor'],
      ['t2', [roles.instructor, roles.ta], 'teaching_assistant', 'instructor'],
      ['t3', ['Learner'], 'learner', 'learner'],
      ['t4', ['Instructor'], 'instructor', 'instructor'],
      ['t5', [roles.mentor], 'observer', 'learner'],
      ['t6', ['urn:lti:role:ims/lis/TeachingAssistant'], 'teaching_assistant', 'instructor'],
      ['t7', ['http://purl.imsglobal.org/vocab/lis/v2/institution/person#Faculty'], 'instructor', 'instructor'],
      ['t8', [], 'learner', 'learner'],
    ];
    for (const [sub, userRoles, courseRole, tenantRole] of cases) {
      fx.platform.users.set(`hint-${sub}`, { sub: `role-${sub}`, name: sub, roles: userRoles });
      const flow = await runLaunch(fx, { loginHint: `hint-${sub}`, messageHint: 'link-roles' });
      expect(flow.launch.status, `${sub}: ${flow.launch.text}`).toBe(303);
      const identity = await db()('user_identities').where({ subject: `role-${sub}` }).first();
      const user = await db()('users').where({ id: identity.user_id }).first();
      const enrollment = await db()('enrollments').where({ user_id: user.id }).first();
      expect([sub, enrollment.role, user.role]).toEqual([sub, courseRole, tenantRole]);
      if (userRoles.includes('Instructor')) expect((await lastLaunch(fx))['roles']).toContain(roles.instructor);
    }
  });

  it('an instructor launch makes the instructor a teacher of the course; a manual enrollment keeps the role an admin gave it', async () => {
    const flow = await runLaunch(fx, { loginHint: 'teacher-hint', messageHint: 'link-teacher' });
    expect(flow.launch.status).toBe(303);
    const identity = await db()('user_identities').where({ subject: instructor.sub }).first();
    const enrollment = await db()('enrollments').where({ user_id: identity.user_id }).first();
    expect(enrollment.role).toBe('instructor');
    await db()('enrollments').where({ id: enrollment.id }).update({ source: 'manual', role: 'teaching_assistant' });
    await runLaunch(fx, { loginHint: 'teacher-hint', messageHint: 'link-teacher' });
    expect((await db()('enrollments').where({ id: enrollment.id }).first()).role).toBe('teaching_assistant');
  });

  it('a platform email already used by a Cairn account is not linked to it (no takeover by email): the LTI user gets its own account', async () => {
    const admin = await db()('users').where({ is_system_admin: true }).first();
    fx.platform.users.set('spoof-hint', { sub: 'spoofer', name: 'Mallory', email: admin.email, roles: [roles.instructor] });
    const flow = await runLaunch(fx, { loginHint: 'spoof-hint' });
    expect(flow.launch.status).toBe(303);
    const identity = await db()('user_identities').where({ subject: 'spoofer' }).first();
    expect(identity.user_id).not.toBe(admin.id);
    const user = await db()('users').where({ id: identity.user_id }).first();
    expect(user.email).toMatch(/@lti\.invalid$/);
    expect(user.is_system_admin).toBe(false);
  });

  it('a link whose custom parameter names a Cairn item opens that item: the resource link is linked and the course page highlights it', async () => {
    const first = await runLaunch(fx, { loginHint: 'teacher-hint', messageHint: 'link-item-setup' });
    expect(first.launch.status).toBe(303);
    const context = await db()('course_contexts').where({ context_id: 'course-1' }).first();
    const [item] = await db()('course_items').insert({ tenant_id: context.tenant_id, course_id: context.course_id, kind: 'xapi_activity', title: 'Lab safety', activity_id: 'https://example.org/lab', position: 0 }).returning('*');
    fx.platform.links.set('link-item', { resourceLink: { id: 'rl-item', title: 'Lab safety' }, custom: { cairn_item_id: item.id } });
    const flow = await runLaunch(fx, { messageHint: 'link-item' });
    expect(flow.launch.status).toBe(303);
    const link = await db()('lti_resource_links').where({ resource_link_id: 'rl-item' }).first();
    expect(link.course_item_id).toBe(item.id);
    expect((await lastLaunch(fx))['course_item_id']).toBe(item.id);
    const page = await flow.agent.get(new URL(flow.launch.headers['location'] as string).pathname);
    expect(page.text).toMatch(/<li class="current" aria-current="true">Lab safety/);
  });

  it('a link placed without Cairn\'s picker (no custom parameter) opens the course page until an admin connects it to an item; then it opens that item', async () => {
    fx.platform.links.set('link-manual', { resourceLink: { id: 'rl-manual', title: 'Added by hand in Moodle' } });
    const before = await runLaunch(fx, { messageHint: 'link-manual' });
    expect(before.launch.status).toBe(303);
    expect((await lastLaunch(fx))['course_item_id']).toBeNull();
    const unlinked = await fx.admin.get('/api/v1/lti/resource-links').query({ linked: false });
    expect(unlinked.status, JSON.stringify(unlinked.body)).toBe(200);
    const link = (unlinked.body.data as Array<{ id: string; resource_link_id: string; course_id: string; course_item_id: string | null }>).find((l) => l.resource_link_id === 'rl-manual')!;
    expect(link).toMatchObject({ course_item_id: null, title: 'Added by hand in Moodle' });
    const [item] = await db()('course_items').insert({ tenant_id: (await db()('courses').where({ id: link.course_id }).first()).tenant_id, course_id: link.course_id, kind: 'xapi_activity', title: 'Field trip', activity_id: 'https://example.org/trip', position: 0 }).returning('*');

    // Only an item of the link's own course, only for admins, only existing links.
    const otherCourse = await fx.admin.post('/api/v1/courses').send({ title: 'Elsewhere' });
    const [foreign] = await db()('course_items').insert({ tenant_id: item.tenant_id, course_id: otherCourse.body.id, kind: 'xapi_activity', title: 'Other', activity_id: 'https://example.org/other', position: 0 }).returning('*');
    expectProblem(await fx.admin.patch(`/api/v1/lti/resource-links/${link.id}`).send({ course_item_id: foreign.id }), 400, 'validation_failed');
    expectProblem(await fx.admin.patch(`/api/v1/lti/resource-links/${randomUUID()}`).send({ course_item_id: item.id }), 404, 'not_found');
    const learner = await createUser(fx.admin, 'learner');
    expectProblem(await (await fx.t.login(learner.email, learner.password)).patch(`/api/v1/lti/resource-links/${link.id}`).send({ course_item_id: item.id }), 403, 'forbidden');

    const patched = await fx.admin.patch(`/api/v1/lti/resource-links/${link.id}`).send({ course_item_id: item.id });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body).toMatchObject({ id: link.id, course_item_id: item.id });
    const [audit] = await auditRows(fx.t, { action: 'lti_resource_link.update' });
    expect(audit).toMatchObject({ target_id: link.id, details: { from: null, to: item.id } });

    const after = await runLaunch(fx, { messageHint: 'link-manual' });
    expect(after.launch.status).toBe(303);
    expect((await lastLaunch(fx))['course_item_id']).toBe(item.id);
    const page = await after.agent.get(new URL(after.launch.headers['location'] as string).pathname);
    expect(page.text).toMatch(/<li class="current" aria-current="true">Field trip/);
    expect((await fx.admin.get('/api/v1/lti/resource-links').query({ linked: false })).body.data.map((l: { id: string }) => l.id)).not.toContain(link.id);
  });

  it('a course copied in the LMS (new context, links still naming the old item) gets its own copy of the item', async () => {
    const context = await db()('course_contexts').where({ context_id: 'course-1' }).first();
    const item = await db()('course_items').where({ course_id: context.course_id, title: 'Lab safety' }).first();
    fx.platform.links.set('link-copy', { resourceLink: { id: 'rl-copied' }, context: { id: 'course-1-copy', title: 'Biology 101 (2027)' }, custom: { cairn_item_id: item.id } });
    const flow = await runLaunch(fx, { messageHint: 'link-copy' });
    expect(flow.launch.status).toBe(303);
    const copyContext = await db()('course_contexts').where({ context_id: 'course-1-copy' }).first();
    const link = await db()('lti_resource_links').where({ resource_link_id: 'rl-copied' }).first();
    const copy = await db()('course_items').where({ id: link.course_item_id }).first();
    expect(copy.course_id).toBe(copyContext.course_id);
    expect(copy.id).not.toBe(item.id);
    expect(copy).toMatchObject({ kind: 'xapi_activity', title: 'Lab safety', activity_id: 'https://example.org/lab' });
  });

  it('several client ids under one issuer: the login picks the client by client_id; without client_id an ambiguous issuer is refused', async () => {
    const add = await fx.admin.post(`/api/v1/lti/platforms/${fx.platformId}/clients`).send({ client_id: 'second-client', label: 'sub-account' });
    expect(add.status).toBe(201);
    const viaSecond = await fx.t.agent().get('/lti/login').query({ iss: fx.platform.issuer, login_hint: 'learner-hint', target_link_uri: fx.platform.toolTargetLinkUri, client_id: 'second-client' });
    expect(viaSecond.status).toBe(302);
    expect(new URL(viaSecond.headers['location'] as string).searchParams.get('client_id')).toBe('second-client');
    const ambiguous = await fx.t.agent().get('/lti/login').query({ iss: fx.platform.issuer, login_hint: 'learner-hint', target_link_uri: fx.platform.toolTargetLinkUri });
    expect(ambiguous.status).toBe(400);
    expect(ambiguous.text).toContain('<code>registration_unknown</code>');
    const entry = await lastLaunch(fx);
    expect(entry).toMatchObject({ outcome: 'failure', failed_step: 'login', error_code: 'registration_unknown' });
  });

  it('an id_token naming both registered client ids as audiences passes with azp set to the login\'s client id', async () => {
    const flow = await runLaunch(fx, { tweak: { claims: (c) => ({ ...c, aud: [fx.platform.clientId, 'second-client'], azp: fx.platform.clientId }) } });
    expect(flow.launch.status, flow.launch.text).toBe(303);
  });

  it('the launch log is visible to admins with filters and by id, and a learner cannot read it', async () => {
    const failures = await fx.admin.get('/api/v1/lti/launches').query({ outcome: 'failure' });
    expect(failures.status).toBe(200);
    expect(failures.body.data.length).toBeGreaterThan(0);
    expect(failures.body.data.every((e: { outcome: string }) => e.outcome === 'failure')).toBe(true);
    const one = await fx.admin.get(`/api/v1/lti/launches/${failures.body.data[0].id}`);
    expect(one.status).toBe(200);
    expect(one.body.error_title).toBe('Unknown platform registration');
    const byCode = await fx.admin.get('/api/v1/lti/launches').query({ error_code: 'registration_unknown' });
    expect(byCode.body.data.length).toBeGreaterThan(0);
    const anonymous = await fx.t.agent().get('/api/v1/lti/launches');
    expect(anonymous.status).toBe(401);
  });
});
