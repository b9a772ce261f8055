import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { adminEmail, startTestApp, type TestApp } from '../support/app.js';
import { createCourse, createLineItem, createUser, enroll, expectProblem, uniqueEmail, userPassword, type Agent, type CreatedUser } from '../support/api.js';

let t: TestApp;
let system: Agent;
const slugB = 'tenant-b';
let tenantB: { id: string; slug: string };
let adminB: Agent;
let adminBUser: { id: string; email: string };
// Tenant A (the default tenant) data B must never reach.
let learnerA: CreatedUser;
let courseA: { id: string };
let enrollmentA: { id: string };
let lineItemA: { id: string };
let tokenA: { id: string; token: string };

beforeAll(async () => {
  t = await startTestApp();
  system = await t.login();
  const adminEmailB = uniqueEmail('admin-b');
  const created = await system.post('/api/v1/tenants').send({ slug: slugB, name: 'Tenant B', admin: { email: adminEmailB, name: 'B admin', password: userPassword } });
  expect(created.status).toBe(201);
  expect(created.body.admin).toMatchObject({ email: adminEmailB, role: 'admin', is_system_admin: false, tenant_id: created.body.tenant.id });
  tenantB = created.body.tenant;
  adminBUser = created.body.admin;
  adminB = await t.login(adminEmailB, userPassword, slugB);

  learnerA = await createUser(system, 'learner');
  courseA = await createCourse(system, { code: 'SHARED-CODE' });
  enrollmentA = await enroll(system, courseA.id, learnerA.id, 'learner');
  lineItemA = await createLineItem(system, courseA.id);
  expect((await system.put(`/api/v1/courses/${courseA.id}/line-items/${lineItemA.id}/scores/${learnerA.id}`).send({ score_given: 50 })).status).toBe(200);
  tokenA = (await system.post('/api/v1/tokens').send({ name: 'a-token', scopes: ['courses:read'] })).body;
});
afterAll(async () => { await t?.close(); });

describe('a tenant admin sees only their tenant', () => {
  it('cannot read, change or delete tenant A\'s users', async () => {
    expectProblem(await adminB.get(`/api/v1/users/${learnerA.id}`), 404, 'not_found');
    expectProblem(await adminB.patch(`/api/v1/users/${learnerA.id}`).send({ name: 'Hijacked' }), 404, 'not_found');
    expectProblem(await adminB.post(`/api/v1/users/${learnerA.id}/unlock`), 404, 'not_found');
    expectProblem(await adminB.post(`/api/v1/users/${learnerA.id}/mfa/reset`), 404, 'not_found');
    expectProblem(await adminB.delete(`/api/v1/users/${learnerA.id}`), 404, 'not_found');
    const list = await adminB.get('/api/v1/users?limit=200');
    expect(list.status).toBe(200);
    expect(list.body.data.map((u: { id: string }) => u.id)).toEqual([adminBUser.id]);
    expect((await adminB.get(`/api/v1/users?email=${encodeURIComponent(learnerA.email)}`)).body.data).toEqual([]);
    // Untouched.
    expect((await system.get(`/api/v1/users/${learnerA.id}`)).body.name).not.toBe('Hijacked');
  });

  it('cannot reach tenant A\'s courses, enrollments, items, line items or scores', async () => {
    expectProblem(await adminB.get(`/api/v1/courses/${courseA.id}`), 404, 'not_found');
    expect((await adminB.get('/api/v1/courses')).body.data).toEqual([]);
    expect((await adminB.get('/api/v1/courses?code=SHARED-CODE')).body.data).toEqual([]);
    expectProblem(await adminB.patch(`/api/v1/courses/${courseA.id}`).send({ title: 'Hijacked' }), 404, 'not_found');
    expectProblem(await adminB.delete(`/api/v1/courses/${courseA.id}`), 404, 'not_found');
    expectProblem(await adminB.get(`/api/v1/courses/${courseA.id}/enrollments`), 404, 'not_found');
    expectProblem(await adminB.delete(`/api/v1/courses/${courseA.id}/enrollments/${enrollmentA.id}`), 404, 'not_found');
    expectProblem(await adminB.post(`/api/v1/courses/${courseA.id}/enrollments`).send({ user_id: adminBUser.id, role: 'instructor' }), 404, 'not_found');
    expectProblem(await adminB.get(`/api/v1/courses/${courseA.id}/items`), 404, 'not_found');
    expectProblem(await adminB.get(`/api/v1/courses/${courseA.id}/line-items`), 404, 'not_found');
    expectProblem(await adminB.get(`/api/v1/courses/${courseA.id}/line-items/${lineItemA.id}`), 404, 'not_found');
    expectProblem(await adminB.get(`/api/v1/courses/${courseA.id}/scores`), 404, 'not_found');
    expectProblem(await adminB.put(`/api/v1/courses/${courseA.id}/line-items/${lineItemA.id}/scores/${learnerA.id}`).send({ score_given: 0 }), 404, 'not_found');
    // Still as it was.
    const score = await system.get(`/api/v1/courses/${courseA.id}/scores?user_id=${learnerA.id}`);
    expect(score.body.data[0].score_given).toBe(50);
    expect((await system.get(`/api/v1/courses/${courseA.id}`)).body.title).not.toBe('Hijacked');
  });

  it('cannot attach tenant A\'s objects to its own: enrolling A\'s user, linking A\'s course item', async () => {
    const courseB = await createCourse(adminB, { code: 'SHARED-CODE' });
    const enrolling = await adminB.post(`/api/v1/courses/${courseB.id}/enrollments`).send({ user_id: learnerA.id, role: 'learner' });
    expectProblem(enrolling, 400, 'validation_failed');
    expect(enrolling.body.errors[0].pointer).toBe('/body/user_id');
    const itemA = await system.post(`/api/v1/courses/${courseA.id}/items`).send({ kind: 'xapi_activity', title: 'A activity', activity_id: 'https://a.example/act' });
    expect(itemA.status).toBe(201);
    expectProblem(await adminB.post(`/api/v1/courses/${courseB.id}/line-items`).send({ label: 'x', score_maximum: 10, course_item_id: itemA.body.id }), 400, 'validation_failed');
    const lineB = await createLineItem(adminB, courseB.id);
    expectProblem(await adminB.patch(`/api/v1/courses/${courseB.id}/line-items/${lineB.id}`).send({ course_item_id: itemA.body.id }), 400, 'validation_failed');
  });

  it('cannot see or revoke tenant A\'s API tokens', async () => {
    const all = await adminB.get('/api/v1/tokens?all=true');
    expect(all.body.data.map((d: { id: string }) => d.id)).not.toContain(tokenA.id);
    expectProblem(await adminB.delete(`/api/v1/tokens/${tokenA.id}`), 404, 'not_found');
    expect((await request(t.app).get('/api/v1/courses').set('Authorization', `Bearer ${tokenA.token}`)).status).toBe(200);
  });

  it('reads only its own audit log', async () => {
    const log = await adminB.get('/api/v1/audit-log?limit=200');
    expect(log.status).toBe(200);
    expect(log.body.data.length).toBeGreaterThan(0);
    for (const entry of log.body.data) expect(entry.tenant_id).toBe(tenantB.id);
    const targets = log.body.data.map((e: { target_id: string }) => e.target_id);
    for (const id of [learnerA.id, courseA.id, lineItemA.id, enrollmentA.id]) expect(targets).not.toContain(id);
    expect((await adminB.get(`/api/v1/audit-log?target_id=${learnerA.id}`)).body.data).toEqual([]);
    // Tenant A's log does not carry B's entries either.
    const logA = await system.get('/api/v1/audit-log?limit=200&action=course.create');
    for (const entry of logA.body.data) expect(entry.tenant_id).not.toBe(tenantB.id);
  });

  it('cannot use /api/v1/tenants nor the Cairn-Tenant header', async () => {
    expectProblem(await adminB.get('/api/v1/tenants'), 403, 'forbidden');
    expectProblem(await adminB.get(`/api/v1/tenants/${tenantB.id}`), 403, 'forbidden');
    expectProblem(await adminB.post('/api/v1/tenants').send({ slug: 'c-tenant', name: 'C' }), 403, 'forbidden');
    expectProblem(await adminB.patch(`/api/v1/tenants/${tenantB.id}`).send({ name: 'Renamed' }), 403, 'forbidden');
    expectProblem(await adminB.get('/api/v1/users').set('Cairn-Tenant', 'default'), 403, 'forbidden');
    expectProblem(await adminB.get('/api/v1/users').set('Cairn-Tenant', slugB), 403, 'forbidden');
    // A learner neither.
    const learner = await t.login(learnerA.email, learnerA.password);
    expectProblem(await learner.get('/api/v1/courses').set('Cairn-Tenant', slugB), 403, 'forbidden');
  });

  it('can manage its own tenant settings but only its own', async () => {
    const res = await adminB.patch('/api/v1/tenant').send({ name: 'Tenant B renamed' });
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(tenantB.id);
    expect((await system.get('/api/v1/tenant')).body.name).toBe('Default');
  });

  it('logs in only to its own tenant', async () => {
    const wrongTenant = await request(t.app).post('/api/v1/auth/login').send({ email: adminBUser.email, password: userPassword });
    expectProblem(wrongTenant, 401, 'invalid_credentials');
  });

  it('allows the same email in two tenants as two different users', async () => {
    const twin = await createUser(adminB, 'learner', { email: learnerA.email, password: 'the B twin password' });
    expect(twin.id).not.toBe(learnerA.id);
    expect((await request(t.app).post('/api/v1/auth/login').send({ email: learnerA.email, password: 'the B twin password', tenant: slugB })).body.user.id).toBe(twin.id);
    expect((await request(t.app).post('/api/v1/auth/login').send({ email: learnerA.email, password: learnerA.password })).body.user.id).toBe(learnerA.id);
  });
});

describe('the system admin', () => {
  it('sees every tenant', async () => {
    const list = await system.get('/api/v1/tenants');
    expect(list.body.data.map((x: { slug: string }) => x.slug)).toEqual(expect.arrayContaining(['default', slugB]));
    expect((await system.get(`/api/v1/tenants/${tenantB.id}`)).body.slug).toBe(slugB);
  });

  it('does not see tenant B\'s data without naming it', async () => {
    const users = await system.get('/api/v1/users?limit=200');
    expect(users.body.data.map((u: { id: string }) => u.id)).not.toContain(adminBUser.id);
    expectProblem(await system.get(`/api/v1/users/${adminBUser.id}`), 404, 'not_found');
  });

  it('acts inside tenant B with Cairn-Tenant (slug or id), and the audit log of B records it', async () => {
    const users = await system.get('/api/v1/users').set('Cairn-Tenant', slugB);
    expect(users.status).toBe(200);
    expect(users.body.data.map((u: { id: string }) => u.id)).toContain(adminBUser.id);
    expect((await system.get(`/api/v1/users/${adminBUser.id}`).set('Cairn-Tenant', tenantB.id)).status).toBe(200);

    const created = await system.post('/api/v1/courses').set('Cairn-Tenant', slugB).send({ title: 'Made by the operator' });
    expect(created.status).toBe(201);
    const seenByB = await adminB.get(`/api/v1/courses/${created.body.id}`);
    expect(seenByB.status).toBe(200);
    expectProblem(await system.get(`/api/v1/courses/${created.body.id}`), 404, 'not_found');
    // No enrollment is created for the operator: admins need none.
    expect((await adminB.get(`/api/v1/courses/${created.body.id}/enrollments`)).body.data).toEqual([]);

    const me = await system.get('/api/v1/me').set('Cairn-Tenant', slugB);
    expect(me.body.acting_tenant_id).toBe(tenantB.id);
    expect(me.body.user.email).toBe(adminEmail);

    const audit = await adminB.get(`/api/v1/audit-log?target_id=${created.body.id}`);
    expect(audit.body.data).toHaveLength(1);
    expect(audit.body.data[0]).toMatchObject({ action: 'course.create', actor_label: adminEmail, tenant_id: tenantB.id });
  });

  it('gets 404 for a tenant that does not exist', async () => {
    expectProblem(await system.get('/api/v1/users').set('Cairn-Tenant', 'no-such-tenant'), 404, 'not_found');
  });

  it('refuses a duplicate tenant slug with 409 and a bad one with 400', async () => {
    expectProblem(await system.post('/api/v1/tenants').send({ slug: slugB, name: 'Again' }), 409, 'conflict');
    expectProblem(await system.post('/api/v1/tenants').send({ slug: 'Bad Slug!', name: 'Bad' }), 400, 'validation_failed');
  });

  it('cannot delete its own tenant, can delete another with everything in it', async () => {
    expectProblem(await system.delete(`/api/v1/tenants/${(await system.get('/api/v1/tenant')).body.id}`), 409, 'conflict');
    const doomed = await system.post('/api/v1/tenants').send({ slug: 'doomed', name: 'Doomed', admin: { email: uniqueEmail('doomed'), password: userPassword } });
    expect((await system.post('/api/v1/courses').set('Cairn-Tenant', 'doomed').send({ title: 'Doomed course' })).status).toBe(201);
    expect((await system.delete(`/api/v1/tenants/${doomed.body.tenant.id}`)).status).toBe(204);
    expectProblem(await system.get(`/api/v1/tenants/${doomed.body.tenant.id}`), 404, 'not_found');
    expect(await t.deps.db('users').where({ tenant_id: doomed.body.tenant.id })).toEqual([]);
  });
});
