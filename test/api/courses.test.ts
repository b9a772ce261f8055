import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { auditRows, createCourse, createUser, enroll, expectProblem, type Agent } from '../support/api.js';

let t: TestApp;
let admin: Agent;
beforeAll(async () => {
  t = await startTestApp();
  admin = await t.login();
});
afterAll(async () => { await t?.close(); });

describe('courses', () => {
  it('creates a course with every field, answers 201 with Location, and reads it back', async () => {
    const body = { code: 'BIO-101', title: 'Biology', description: 'Cells and more', status: 'active', starts_at: '2027-01-10T09:00:00.000Z', ends_at: '2027-06-30T17:00:00.000Z' };
    const res = await admin.post('/api/v1/courses').send(body);
    expect(res.status).toBe(201);
    expect(res.headers['location']).toBe(`/api/v1/courses/${res.body.id}`);
    expect(res.body).toMatchObject(body);
    const read = await admin.get(`/api/v1/courses/${res.body.id}`);
    expect(read.body).toEqual(res.body);
  });

  it('refuses a duplicate code with 409, on create and on update', async () => {
    await createCourse(admin, { code: 'DUP-1' });
    const dup = await admin.post('/api/v1/courses').send({ code: 'DUP-1', title: 'Again' });
    expectProblem(dup, 409, 'conflict');
    expect(dup.body.errors).toEqual([{ pointer: '/body/code', message: 'is taken' }]);
    const other = await createCourse(admin, { code: 'DUP-2' });
    expectProblem(await admin.patch(`/api/v1/courses/${other.id}`).send({ code: 'DUP-1' }), 409, 'conflict');
    // Keeping one's own code is not a clash; courses without a code never clash.
    expect((await admin.patch(`/api/v1/courses/${other.id}`).send({ code: 'DUP-2', title: 'Same code' })).status).toBe(200);
    await createCourse(admin);
    await createCourse(admin);
  });

  it('refuses ends_at before starts_at with 400, also when only one side changes', async () => {
    const bad = await admin.post('/api/v1/courses').send({ title: 'Backwards', starts_at: '2027-05-01T00:00:00Z', ends_at: '2027-04-01T00:00:00Z' });
    expectProblem(bad, 400, 'validation_failed');
    expect(bad.body.errors[0].pointer).toBe('/body/ends_at');
    const course = await createCourse(admin, { starts_at: '2027-05-01T00:00:00Z', ends_at: '2027-06-01T00:00:00Z' });
    expectProblem(await admin.patch(`/api/v1/courses/${course.id}`).send({ ends_at: '2027-04-01T00:00:00Z' }), 400, 'validation_failed');
    expectProblem(await admin.patch(`/api/v1/courses/${course.id}`).send({ starts_at: '2027-07-01T00:00:00Z' }), 400, 'validation_failed');
    // Clearing one side is fine.
    const cleared = await admin.patch(`/api/v1/courses/${course.id}`).send({ starts_at: null });
    expect(cleared.status).toBe(200);
    expect(cleared.body.starts_at).toBeNull();
    expect(cleared.body.ends_at).toBe('2027-06-01T00:00:00.000Z');
  });

  it('validates the body: title required, unknown fields and bad dates rejected', async () => {
    expectProblem(await admin.post('/api/v1/courses').send({}), 400, 'validation_failed');
    expectProblem(await admin.post('/api/v1/courses').send({ title: '' }), 400, 'validation_failed');
    expectProblem(await admin.post('/api/v1/courses').send({ title: 'x', starts_at: 'next tuesday' }), 400, 'validation_failed');
    expectProblem(await admin.patch(`/api/v1/courses/${(await createCourse(admin)).id}`).send({}), 400, 'validation_failed');
  });

  it('updates, archives, filters and deletes', async () => {
    const course = await createCourse(admin, { title: 'Chemistry for filters', code: 'CHEM-1' });
    const updated = await admin.patch(`/api/v1/courses/${course.id}`).send({ status: 'archived', description: 'Old' });
    expect(updated.body).toMatchObject({ status: 'archived', description: 'Old', title: 'Chemistry for filters' });
    const archived = await admin.get('/api/v1/courses?status=archived');
    expect(archived.body.data.map((c: { id: string }) => c.id)).toContain(course.id);
    expect((await admin.get('/api/v1/courses?status=active')).body.data.map((c: { id: string }) => c.id)).not.toContain(course.id);
    expect((await admin.get('/api/v1/courses?q=chemistry%20for')).body.data.map((c: { id: string }) => c.id)).toEqual([course.id]);
    expect((await admin.get('/api/v1/courses?code=CHEM-1')).body.data.map((c: { id: string }) => c.id)).toEqual([course.id]);
    // LIKE wildcards in a search are literal.
    expect((await admin.get('/api/v1/courses?q=%25')).body.data).toEqual([]);

    const learner = await createUser(admin, 'learner');
    await enroll(admin, course.id, learner.id, 'learner');
    expect((await admin.delete(`/api/v1/courses/${course.id}`)).status).toBe(204);
    expectProblem(await admin.get(`/api/v1/courses/${course.id}`), 404, 'not_found');
    expectProblem(await admin.delete(`/api/v1/courses/${course.id}`), 404, 'not_found');
    expect(await t.deps.db('enrollments').where({ course_id: course.id })).toEqual([]);
    expect(await auditRows(t, { action: 'course.delete', target_id: course.id })).toHaveLength(1);
  });
});

describe('enrollments', () => {
  it('enrolls, refuses a duplicate with 409, changes role and status, removes', async () => {
    const course = await createCourse(admin);
    const learner = await createUser(admin, 'learner', { name: 'Lena Learner' });
    const res = await admin.post(`/api/v1/courses/${course.id}/enrollments`).send({ user_id: learner.id, role: 'learner' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ course_id: course.id, user_id: learner.id, user_email: learner.email, user_name: 'Lena Learner', role: 'learner', status: 'active', source: 'manual' });

    const dup = await admin.post(`/api/v1/courses/${course.id}/enrollments`).send({ user_id: learner.id, role: 'instructor' });
    expectProblem(dup, 409, 'conflict');

    const changed = await admin.patch(`/api/v1/courses/${course.id}/enrollments/${res.body.id}`).send({ role: 'teaching_assistant', status: 'inactive' });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ role: 'teaching_assistant', status: 'inactive', user_email: learner.email });
    const tas = await admin.get(`/api/v1/courses/${course.id}/enrollments?role=teaching_assistant`);
    expect(tas.body.data.map((e: { id: string }) => e.id)).toEqual([res.body.id]);
    expect((await admin.get(`/api/v1/courses/${course.id}/enrollments?status=active`)).body.data).toEqual([]);

    expect((await admin.delete(`/api/v1/courses/${course.id}/enrollments/${res.body.id}`)).status).toBe(204);
    expectProblem(await admin.delete(`/api/v1/courses/${course.id}/enrollments/${res.body.id}`), 404, 'not_found');
    expectProblem(await admin.patch(`/api/v1/courses/${course.id}/enrollments/${res.body.id}`).send({ role: 'learner' }), 404, 'not_found');
  });

  it('refuses an unknown user with 400 naming user_id', async () => {
    const course = await createCourse(admin);
    const res = await admin.post(`/api/v1/courses/${course.id}/enrollments`).send({ user_id: '00000000-0000-4000-8000-000000000000', role: 'learner' });
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors[0].pointer).toBe('/body/user_id');
  });

  it('refuses a user of another tenant with 400', async () => {
    const other = await admin.post('/api/v1/tenants').send({ slug: 'elsewhere', name: 'Elsewhere' });
    const stranger = await createUser(admin, 'learner', { headers: { 'Cairn-Tenant': 'elsewhere' } });
    expect(stranger.tenant_id).toBe(other.body.tenant.id);
    const course = await createCourse(admin);
    const res = await admin.post(`/api/v1/courses/${course.id}/enrollments`).send({ user_id: stranger.id, role: 'learner' });
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors[0].pointer).toBe('/body/user_id');
  });

  it('answers 404 for enrollments in a course that does not exist', async () => {
    const learner = await createUser(admin, 'learner');
    expectProblem(await admin.post('/api/v1/courses/00000000-0000-4000-8000-000000000000/enrollments').send({ user_id: learner.id, role: 'learner' }), 404, 'not_found');
  });
});

describe('course items', () => {
  it('refuses a SCORM item whose ref_id is not one of the tenant\'s packages, on create and on update', async () => {
    const course = await createCourse(admin);
    const bad = await admin.post(`/api/v1/courses/${course.id}/items`).send({ kind: 'scorm', title: 'Nowhere', ref_id: '00000000-0000-4000-8000-000000000000' });
    expectProblem(bad, 400, 'validation_failed');
    expect(bad.body.errors).toEqual([{ pointer: '/body/ref_id', message: 'is not a SCORM package of this tenant' }]);
    const item = await admin.post(`/api/v1/courses/${course.id}/items`).send({ kind: 'scorm', title: 'Later' });
    expect(item.status).toBe(201);
    expectProblem(await admin.patch(`/api/v1/courses/${course.id}/items/${item.body.id}`).send({ ref_id: '00000000-0000-4000-8000-000000000000' }), 400, 'validation_failed');
  });

  it('requires an absolute IRI for xapi_activity items', async () => {
    const course = await createCourse(admin);
    for (const activityId of [undefined, 'activities/1', 'no scheme here', '://missing-scheme', 'http:// space.example/x']) {
      const res = await admin.post(`/api/v1/courses/${course.id}/items`).send({ kind: 'xapi_activity', title: 'A', ...(activityId !== undefined ? { activity_id: activityId } : {}) });
      expectProblem(res, 400, 'validation_failed');
      expect(res.body.errors[0].pointer).toBe('/body/activity_id');
    }
    for (const activityId of ['https://example.com/activities/1', 'urn:uuid:2f7f6f3e-5a1a-4b3c-9a52-7d2b7b0b6f1e', 'tag:example.com,2027:act']) {
      expect((await admin.post(`/api/v1/courses/${course.id}/items`).send({ kind: 'xapi_activity', title: 'A', activity_id: activityId })).status).toBe(201);
    }
    // activity_id is for xAPI items only.
    expectProblem(await admin.post(`/api/v1/courses/${course.id}/items`).send({ kind: 'lti_tool', title: 'Tool', activity_id: 'https://example.com/a' }), 400, 'validation_failed');
  });

  it('places new items after the last one, lists them in order, and keeps their settings', async () => {
    const course = await createCourse(admin);
    const first = await admin.post(`/api/v1/courses/${course.id}/items`).send({ kind: 'lti_tool', title: 'First', settings: { window: 'iframe', height: 600 } });
    const second = await admin.post(`/api/v1/courses/${course.id}/items`).send({ kind: 'scorm', title: 'Second' });
    const zeroth = await admin.post(`/api/v1/courses/${course.id}/items`).send({ kind: 'scorm', title: 'Zeroth', position: 0 });
    expect([first.body.position, second.body.position]).toEqual([0, 1]);
    expect(first.body.settings).toEqual({ window: 'iframe', height: 600 });
    const list = await admin.get(`/api/v1/courses/${course.id}/items`);
    expect(list.body.data.map((i: { title: string }) => i.title).slice(-1)).toEqual(['Second']);
    expect(list.body.data).toHaveLength(3);
    expect(list.body.data.map((i: { id: string }) => i.id)).toContain(zeroth.body.id);
    const scormOnly = await admin.get(`/api/v1/courses/${course.id}/items?kind=scorm`);
    expect(scormOnly.body.data.every((i: { kind: string }) => i.kind === 'scorm')).toBe(true);

    const patched = await admin.patch(`/api/v1/courses/${course.id}/items/${first.body.id}`).send({ title: 'First (renamed)', settings: { window: 'new' } });
    expect(patched.body).toMatchObject({ title: 'First (renamed)', settings: { window: 'new' }, kind: 'lti_tool' });
    expectProblem(await admin.patch(`/api/v1/courses/${course.id}/items/${first.body.id}`).send({ activity_id: 'https://x.example/a' }), 400, 'validation_failed');
    expect((await admin.delete(`/api/v1/courses/${course.id}/items/${second.body.id}`)).status).toBe(204);
    expectProblem(await admin.get(`/api/v1/courses/${course.id}/items/${second.body.id}`), 404, 'not_found');
    expectProblem(await admin.patch(`/api/v1/courses/${course.id}/items/${second.body.id}`).send({ title: 'gone' }), 404, 'not_found');
  });

  it('does not find an item through another course', async () => {
    const a = await createCourse(admin);
    const b = await createCourse(admin);
    const item = await admin.post(`/api/v1/courses/${a.id}/items`).send({ kind: 'scorm', title: 'In A' });
    expectProblem(await admin.get(`/api/v1/courses/${b.id}/items/${item.body.id}`), 404, 'not_found');
    expectProblem(await admin.delete(`/api/v1/courses/${b.id}/items/${item.body.id}`), 404, 'not_found');
  });
});
