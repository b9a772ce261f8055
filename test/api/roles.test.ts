import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { adminEmail, adminPassword, startTestApp, type TestApp } from '../support/app.js';
import { createCourse, createLineItem, createUser, enroll, expectProblem, uniqueEmail, userAgent, userPassword, type Agent } from '../support/api.js';

let t: TestApp;
let admin: Agent;
beforeAll(async () => {
  t = await startTestApp();
  admin = await t.login();
});
afterAll(async () => { await t?.close(); });

describe('tenant roles', () => {
  it('a learner cannot create courses or users', async () => {
    const { agent } = await userAgent(t, admin, 'learner');
    expectProblem(await agent.post('/api/v1/courses').send({ title: 'Mine' }), 403, 'forbidden');
    expectProblem(await agent.post('/api/v1/users').send({ email: uniqueEmail('x'), role: 'learner' }), 403, 'forbidden');
    expectProblem(await agent.get('/api/v1/users'), 403, 'forbidden');
    expectProblem(await agent.get('/api/v1/audit-log'), 403, 'forbidden');
    expectProblem(await agent.patch('/api/v1/tenant').send({ name: 'Mine now' }), 403, 'forbidden');
  });

  it('a user reads themselves but not other users', async () => {
    const { user, agent } = await userAgent(t, admin, 'instructor');
    const other = await createUser(admin, 'learner');
    expect((await agent.get(`/api/v1/users/${user.id}`)).body.email).toBe(user.email);
    expectProblem(await agent.get(`/api/v1/users/${other.id}`), 404, 'not_found');
    expectProblem(await agent.get('/api/v1/users'), 403, 'forbidden');
  });

  it('an instructor creates a course and is enrolled in it as instructor; it manages that course only', async () => {
    const { user, agent } = await userAgent(t, admin, 'instructor');
    const course = await createCourse(agent, { title: 'Taught by me' });
    const enrollments = await agent.get(`/api/v1/courses/${course.id}/enrollments`);
    expect(enrollments.status).toBe(200);
    expect(enrollments.body.data).toEqual([expect.objectContaining({ user_id: user.id, role: 'instructor', status: 'active', source: 'manual' })]);
    expect((await agent.get('/api/v1/courses')).body.data.map((c: { id: string }) => c.id)).toEqual([course.id]);
    expect((await agent.patch(`/api/v1/courses/${course.id}`).send({ title: 'Renamed by me' })).status).toBe(200);
    const learner = await createUser(admin, 'learner');
    expect((await agent.post(`/api/v1/courses/${course.id}/enrollments`).send({ user_id: learner.id, role: 'learner' })).status).toBe(201);
    // Deleting a course is an admin's call.
    expectProblem(await agent.delete(`/api/v1/courses/${course.id}`), 403, 'forbidden');
    // Someone else's course does not exist for them.
    const foreign = await createCourse(admin);
    expectProblem(await agent.get(`/api/v1/courses/${foreign.id}`), 404, 'not_found');
    expectProblem(await agent.patch(`/api/v1/courses/${foreign.id}`).send({ title: 'Mine' }), 404, 'not_found');
  });

  it('a learner sees only the courses they are actively enrolled in', async () => {
    const { user, agent } = await userAgent(t, admin, 'learner');
    const enrolled = await createCourse(admin);
    const inactive = await createCourse(admin);
    const other = await createCourse(admin);
    await enroll(admin, enrolled.id, user.id, 'learner');
    await enroll(admin, inactive.id, user.id, 'learner', 'inactive');
    const list = await agent.get('/api/v1/courses');
    expect(list.body.data.map((c: { id: string }) => c.id)).toEqual([enrolled.id]);
    expect((await agent.get(`/api/v1/courses/${enrolled.id}`)).status).toBe(200);
    expectProblem(await agent.get(`/api/v1/courses/${other.id}`), 404, 'not_found');
    expectProblem(await agent.get(`/api/v1/courses/${inactive.id}`), 404, 'not_found');
    expectProblem(await agent.get(`/api/v1/courses/${other.id}/items`), 404, 'not_found');
    // Enrolled, but a learner: no roster, no edits.
    expectProblem(await agent.get(`/api/v1/courses/${enrolled.id}/enrollments`), 403, 'forbidden');
    expectProblem(await agent.patch(`/api/v1/courses/${enrolled.id}`).send({ title: 'Mine' }), 403, 'forbidden');
    expectProblem(await agent.post(`/api/v1/courses/${enrolled.id}/items`).send({ kind: 'xapi_activity', title: 'x', activity_id: 'https://x.example/a' }), 403, 'forbidden');
  });

  it('a teaching assistant sets scores but cannot edit the course', async () => {
    const { user: ta, agent } = await userAgent(t, admin, 'learner');
    const learner = await createUser(admin, 'learner');
    const course = await createCourse(admin);
    await enroll(admin, course.id, ta.id, 'teaching_assistant');
    await enroll(admin, course.id, learner.id, 'learner');
    const lineItem = await createLineItem(admin, course.id);

    const scored = await agent.put(`/api/v1/courses/${course.id}/line-items/${lineItem.id}/scores/${learner.id}`).send({ score_given: 7 });
    expect(scored.status).toBe(200);
    expect(scored.body).toMatchObject({ score_given: 7, applied: true });
    expect((await agent.get(`/api/v1/courses/${course.id}/scores`)).body.data).toHaveLength(1);
    expect((await agent.get(`/api/v1/courses/${course.id}/enrollments`)).status).toBe(200);

    expectProblem(await agent.patch(`/api/v1/courses/${course.id}`).send({ title: 'TA edit' }), 403, 'forbidden');
    expectProblem(await agent.post(`/api/v1/courses/${course.id}/items`).send({ kind: 'xapi_activity', title: 'x', activity_id: 'https://x.example/a' }), 403, 'forbidden');
    expectProblem(await agent.post(`/api/v1/courses/${course.id}/line-items`).send({ label: 'x', score_maximum: 1 }), 403, 'forbidden');
    expectProblem(await agent.post(`/api/v1/courses/${course.id}/enrollments`).send({ user_id: ta.id, role: 'instructor' }), 403, 'forbidden');
    expectProblem(await agent.patch(`/api/v1/courses/${course.id}/enrollments/${(await agent.get(`/api/v1/courses/${course.id}/enrollments?role=teaching_assistant`)).body.data[0].id}`).send({ role: 'instructor' }), 403, 'forbidden');
  });

  it('a learner cannot score anyone, themselves included', async () => {
    const { user, agent } = await userAgent(t, admin, 'learner');
    const course = await createCourse(admin);
    await enroll(admin, course.id, user.id, 'learner');
    const lineItem = await createLineItem(admin, course.id);
    expectProblem(await agent.put(`/api/v1/courses/${course.id}/line-items/${lineItem.id}/scores/${user.id}`).send({ score_given: 100 }), 403, 'forbidden');
  });

  it('learners and observers see published items only; staff see all', async () => {
    const { user: learner, agent: learnerAgent } = await userAgent(t, admin, 'learner');
    const { user: observer, agent: observerAgent } = await userAgent(t, admin, 'learner');
    const { user: ta, agent: taAgent } = await userAgent(t, admin, 'learner');
    const course = await createCourse(admin);
    await enroll(admin, course.id, learner.id, 'learner');
    await enroll(admin, course.id, observer.id, 'observer');
    await enroll(admin, course.id, ta.id, 'teaching_assistant');
    const published = await admin.post(`/api/v1/courses/${course.id}/items`).send({ kind: 'xapi_activity', title: 'Open', activity_id: 'https://x.example/open' });
    const draft = await admin.post(`/api/v1/courses/${course.id}/items`).send({ kind: 'xapi_activity', title: 'Draft', activity_id: 'https://x.example/draft', published: false });
    expect(draft.body.published).toBe(false);
    for (const agent of [learnerAgent, observerAgent]) {
      const list = await agent.get(`/api/v1/courses/${course.id}/items`);
      expect(list.body.data.map((i: { id: string }) => i.id)).toEqual([published.body.id]);
      expectProblem(await agent.get(`/api/v1/courses/${course.id}/items/${draft.body.id}`), 404, 'not_found');
    }
    expect((await taAgent.get(`/api/v1/courses/${course.id}/items`)).body.data).toHaveLength(2);
    expect((await admin.get(`/api/v1/courses/${course.id}/items/${draft.body.id}`)).status).toBe(200);
    // Publishing makes it visible.
    expect((await admin.patch(`/api/v1/courses/${course.id}/items/${draft.body.id}`).send({ published: true })).status).toBe(200);
    expect((await learnerAgent.get(`/api/v1/courses/${course.id}/items`)).body.data).toHaveLength(2);
  });
});

describe('keeping a tenant administrable', () => {
  it('an admin cannot demote, suspend or delete themselves', async () => {
    const { user, agent } = await userAgent(t, admin, 'admin');
    expectProblem(await agent.patch(`/api/v1/users/${user.id}`).send({ role: 'learner' }), 409, 'conflict');
    expectProblem(await agent.patch(`/api/v1/users/${user.id}`).send({ status: 'suspended' }), 409, 'conflict');
    expectProblem(await agent.delete(`/api/v1/users/${user.id}`), 409, 'conflict');
    expect((await admin.get(`/api/v1/users/${user.id}`)).body).toMatchObject({ role: 'admin', status: 'active' });
    // Harmless self-edits are fine.
    expect((await agent.patch(`/api/v1/users/${user.id}`).send({ name: 'New name' })).status).toBe(200);
  });

  it('nobody can demote, suspend or delete the last active admin of a tenant', async () => {
    const adminEmailC = uniqueEmail('only-admin');
    const created = await admin.post('/api/v1/tenants').send({ slug: 'solo', name: 'Solo', admin: { email: adminEmailC, password: userPassword } });
    const onlyAdmin = created.body.admin.id as string;
    const inSolo = (req: request.Test) => req.set('Cairn-Tenant', 'solo');
    expectProblem(await inSolo(admin.patch(`/api/v1/users/${onlyAdmin}`)).send({ role: 'instructor' }), 409, 'conflict');
    expectProblem(await inSolo(admin.patch(`/api/v1/users/${onlyAdmin}`)).send({ status: 'suspended' }), 409, 'conflict');
    expectProblem(await inSolo(admin.delete(`/api/v1/users/${onlyAdmin}`)), 409, 'conflict');

    // With a second admin it is allowed.
    const second = await inSolo(admin.post('/api/v1/users')).send({ email: uniqueEmail('second'), role: 'admin', password: userPassword });
    expect(second.status).toBe(201);
    expect((await inSolo(admin.patch(`/api/v1/users/${onlyAdmin}`)).send({ role: 'instructor' })).status).toBe(200);
    // And now the second one is the last.
    expectProblem(await inSolo(admin.delete(`/api/v1/users/${second.body.id}`)), 409, 'conflict');
    // A suspended admin does not count as one who can administer.
    expect((await inSolo(admin.patch(`/api/v1/users/${onlyAdmin}`)).send({ role: 'admin', status: 'suspended' })).status).toBe(200);
    expectProblem(await inSolo(admin.patch(`/api/v1/users/${second.body.id}`)).send({ role: 'learner' }), 409, 'conflict');
  });

  it('a tenant admin cannot take over a system administrator\'s account or make one', async () => {
    const { user: tenantAdmin, agent } = await userAgent(t, admin, 'admin');
    const system = (await admin.get('/api/v1/me')).body.user.id as string;
    expectProblem(await agent.patch(`/api/v1/users/${system}`).send({ password: 'taken over password' }), 403, 'forbidden');
    expectProblem(await agent.patch(`/api/v1/users/${system}`).send({ email: 'mine@test.example' }), 403, 'forbidden');
    expectProblem(await agent.patch(`/api/v1/users/${system}`).send({ status: 'suspended' }), 403, 'forbidden');
    expectProblem(await agent.delete(`/api/v1/users/${system}`), 403, 'forbidden');
    expectProblem(await agent.post(`/api/v1/users/${system}/mfa/reset`), 403, 'forbidden');
    expectProblem(await agent.post('/api/v1/users').send({ email: uniqueEmail('sys'), role: 'admin', password: userPassword, is_system_admin: true }), 403, 'forbidden');
    expectProblem(await agent.patch(`/api/v1/users/${tenantAdmin.id}`).send({ is_system_admin: true }), 403, 'forbidden');
    expect((await request(t.app).post('/api/v1/auth/login').send({ email: adminEmail, password: adminPassword })).status).toBe(200);
    // The system admin may edit a system admin.
    expect((await admin.patch(`/api/v1/users/${system}`).send({ name: 'Operator' })).status).toBe(200);
  });

  it('role changes take effect at once: the demoted user\'s sessions end', async () => {
    const { user, agent } = await userAgent(t, admin, 'instructor');
    expect((await admin.patch(`/api/v1/users/${user.id}`).send({ role: 'learner' })).status).toBe(200);
    expectProblem(await agent.get('/api/v1/me'), 401, 'unauthenticated');
    const again = await t.login(user.email, user.password);
    expectProblem(await again.post('/api/v1/courses').send({ title: 'x' }), 403, 'forbidden');
  });
});
