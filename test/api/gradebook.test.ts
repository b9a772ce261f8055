import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { auditRows, createCourse, createLineItem, createUser, enroll, expectProblem, type Agent, type CreatedUser } from '../support/api.js';

let t: TestApp;
let admin: Agent;
beforeAll(async () => {
  t = await startTestApp();
  admin = await t.login();
});
afterAll(async () => { await t?.close(); });

/** A course with two enrolled learners (logged in) and one line item. */
async function gradebook() {
  const course = await createCourse(admin);
  const learners: Array<{ user: CreatedUser; agent: Agent }> = [];
  for (let i = 0; i < 2; i++) {
    const user = await createUser(admin, 'learner');
    await enroll(admin, course.id, user.id, 'learner');
    learners.push({ user, agent: await t.login(user.email, user.password) });
  }
  const lineItem = await createLineItem(admin, course.id, { score_maximum: 20 });
  const scoreUrl = (userId: string) => `/api/v1/courses/${course.id}/line-items/${lineItem.id}/scores/${userId}`;
  return { course, learners: learners as [typeof learners[0], typeof learners[0]], lineItem, scoreUrl };
}

describe('line items', () => {
  it('creates, reads, updates and deletes a gradebook column', async () => {
    const course = await createCourse(admin);
    const created = await admin.post(`/api/v1/courses/${course.id}/line-items`).send({ label: 'Midterm', score_maximum: 50, tag: 'exam', resource_id: 'mid-1', start_at: '2027-03-01T00:00:00Z', end_at: '2027-03-02T00:00:00Z' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ label: 'Midterm', score_maximum: 50, tag: 'exam', resource_id: 'mid-1', course_item_id: null, start_at: '2027-03-01T00:00:00.000Z' });
    expect((await admin.get(`/api/v1/courses/${course.id}/line-items/${created.body.id}`)).body).toEqual(created.body);
    expect((await admin.get(`/api/v1/courses/${course.id}/line-items?tag=exam`)).body.data.map((l: { id: string }) => l.id)).toEqual([created.body.id]);
    expect((await admin.get(`/api/v1/courses/${course.id}/line-items?resource_id=nope`)).body.data).toEqual([]);

    const updated = await admin.patch(`/api/v1/courses/${course.id}/line-items/${created.body.id}`).send({ score_maximum: 60.5, label: 'Midterm exam' });
    expect(updated.body).toMatchObject({ score_maximum: 60.5, label: 'Midterm exam', tag: 'exam' });

    expect((await admin.delete(`/api/v1/courses/${course.id}/line-items/${created.body.id}`)).status).toBe(204);
    expectProblem(await admin.get(`/api/v1/courses/${course.id}/line-items/${created.body.id}`), 404, 'not_found');
    expectProblem(await admin.patch(`/api/v1/courses/${course.id}/line-items/${created.body.id}`).send({ label: 'x' }), 404, 'not_found');
  });

  it('validates score_maximum, label and dates', async () => {
    const course = await createCourse(admin);
    expectProblem(await admin.post(`/api/v1/courses/${course.id}/line-items`).send({ label: 'Zero', score_maximum: 0 }), 400, 'validation_failed');
    expectProblem(await admin.post(`/api/v1/courses/${course.id}/line-items`).send({ label: 'Negative', score_maximum: -5 }), 400, 'validation_failed');
    expectProblem(await admin.post(`/api/v1/courses/${course.id}/line-items`).send({ score_maximum: 5 }), 400, 'validation_failed');
    expectProblem(await admin.post(`/api/v1/courses/${course.id}/line-items`).send({ label: 'Backwards', score_maximum: 5, start_at: '2027-03-02T00:00:00Z', end_at: '2027-03-01T00:00:00Z' }), 400, 'validation_failed');
  });

  it('links a line item only to an item of the same course', async () => {
    const course = await createCourse(admin);
    const other = await createCourse(admin);
    const item = await admin.post(`/api/v1/courses/${other.id}/items`).send({ kind: 'scorm', title: 'Elsewhere' });
    const res = await admin.post(`/api/v1/courses/${course.id}/line-items`).send({ label: 'Linked', score_maximum: 5, course_item_id: item.body.id });
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors[0].pointer).toBe('/body/course_item_id');
  });

  it('keeps a line item and its scores when its course item is deleted (course_item_id becomes null)', async () => {
    const { course, learners, scoreUrl } = await gradebook();
    const item = await admin.post(`/api/v1/courses/${course.id}/items`).send({ kind: 'scorm', title: 'Package' });
    const linked = await createLineItem(admin, course.id, { course_item_id: item.body.id });
    expect(linked.course_item_id).toBe(item.body.id);
    const url = scoreUrl(learners[0].user.id).replace(/line-items\/[^/]+/, `line-items/${linked.id}`);
    expect((await admin.put(url).send({ score_given: 80 })).status).toBe(200);

    expect((await admin.delete(`/api/v1/courses/${course.id}/items/${item.body.id}`)).status).toBe(204);
    const after = await admin.get(`/api/v1/courses/${course.id}/line-items/${linked.id}`);
    expect(after.status).toBe(200);
    expect(after.body.course_item_id).toBeNull();
    const scores = await admin.get(`/api/v1/courses/${course.id}/scores?line_item_id=${linked.id}`);
    expect(scores.body.data.map((s: { score_given: number }) => s.score_given)).toEqual([80]);
  });

  it('deleting a line item deletes its scores', async () => {
    const { course, learners, lineItem, scoreUrl } = await gradebook();
    await admin.put(scoreUrl(learners[0].user.id)).send({ score_given: 5 });
    expect((await admin.delete(`/api/v1/courses/${course.id}/line-items/${lineItem.id}`)).status).toBe(204);
    expect(await t.deps.db('scores').where({ line_item_id: lineItem.id })).toEqual([]);
  });
});

describe('scores', () => {
  it('uses the line item\'s maximum when score_maximum is omitted, and keeps an explicit one', async () => {
    const { learners, scoreUrl } = await gradebook();
    const implicit = await admin.put(scoreUrl(learners[0].user.id)).send({ score_given: 15.5, comment: 'Good' });
    expect(implicit.status).toBe(200);
    expect(implicit.body).toMatchObject({ score_given: 15.5, score_maximum: 20, comment: 'Good', activity_progress: 'Completed', grading_progress: 'FullyGraded', source: 'manual', applied: true });
    const explicit = await admin.put(scoreUrl(learners[1].user.id)).send({ score_given: 3, score_maximum: 4 });
    expect(explicit.body).toMatchObject({ score_given: 3, score_maximum: 4 });
  });

  it('stores progress without a score', async () => {
    const { learners, scoreUrl } = await gradebook();
    const res = await admin.put(scoreUrl(learners[0].user.id)).send({ activity_progress: 'InProgress', grading_progress: 'Pending' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ score_given: null, score_maximum: null, activity_progress: 'InProgress', grading_progress: 'Pending' });
  });

  it('refuses a negative score, a non-positive maximum, and unknown progress values with 400', async () => {
    const { learners, scoreUrl } = await gradebook();
    const negative = await admin.put(scoreUrl(learners[0].user.id)).send({ score_given: -1 });
    expectProblem(negative, 400, 'validation_failed');
    expect(negative.body.errors[0].pointer).toBe('/body/score_given');
    expectProblem(await admin.put(scoreUrl(learners[0].user.id)).send({ score_given: 1, score_maximum: 0 }), 400, 'validation_failed');
    expectProblem(await admin.put(scoreUrl(learners[0].user.id)).send({ score_given: 1, activity_progress: 'Done' }), 400, 'validation_failed');
    expect(await t.deps.db('scores').where({ user_id: learners[0].user.id })).toEqual([]);
  });

  it('refuses to score a user who is not enrolled with 400', async () => {
    const { scoreUrl } = await gradebook();
    const outsider = await createUser(admin, 'learner');
    const res = await admin.put(scoreUrl(outsider.id)).send({ score_given: 10 });
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors[0].pointer).toBe('/params/userId');
    expectProblem(await admin.put(scoreUrl('00000000-0000-4000-8000-000000000000')).send({ score_given: 10 }), 400, 'validation_failed');
  });

  it('does not let an older score overwrite a newer one (applied: false)', async () => {
    const { learners, scoreUrl } = await gradebook();
    const url = scoreUrl(learners[0].user.id);
    const newer = await admin.put(url).send({ score_given: 18, scored_at: '2027-02-01T12:00:00.000Z' });
    expect(newer.body).toMatchObject({ applied: true, score_given: 18 });
    const older = await admin.put(url).send({ score_given: 2, scored_at: '2027-02-01T11:59:59.000Z' });
    expect(older.status).toBe(200);
    expect(older.body).toMatchObject({ applied: false, score_given: 18, scored_at: '2027-02-01T12:00:00.000Z' });
    const stored = await admin.get(`/api/v1/courses/${(await t.deps.db('line_items').where({ id: newer.body.line_item_id }).first()).course_id}/scores?user_id=${learners[0].user.id}`);
    expect(stored.body.data.map((s: { score_given: number }) => s.score_given)).toEqual([18]);
    const later = await admin.put(url).send({ score_given: 19, scored_at: '2027-02-02T00:00:00.000Z' });
    expect(later.body).toMatchObject({ applied: true, score_given: 19 });
    // The ignored write is on record as such, not as a change.
    expect(await auditRows(t, { action: 'score.set', target_id: newer.body.id })).toHaveLength(2);
    expect(await auditRows(t, { action: 'score.stale_ignored', target_id: newer.body.id })).toHaveLength(1);
  });

  it('shows a learner only their own scores', async () => {
    const { course, learners, scoreUrl } = await gradebook();
    await admin.put(scoreUrl(learners[0].user.id)).send({ score_given: 11 });
    await admin.put(scoreUrl(learners[1].user.id)).send({ score_given: 12 });
    const [first, second] = learners;
    const own = await first.agent.get(`/api/v1/courses/${course.id}/scores`);
    expect(own.status).toBe(200);
    expect(own.body.data.map((s: { user_id: string; score_given: number }) => [s.user_id, s.score_given])).toEqual([[first.user.id, 11]]);
    expect((await first.agent.get(`/api/v1/courses/${course.id}/scores?user_id=${first.user.id}`)).body.data).toHaveLength(1);
    expectProblem(await first.agent.get(`/api/v1/courses/${course.id}/scores?user_id=${second.user.id}`), 403, 'forbidden');
    // Learners can read the columns.
    expect((await first.agent.get(`/api/v1/courses/${course.id}/line-items`)).body.data).toHaveLength(1);
    // Staff see everyone.
    expect((await admin.get(`/api/v1/courses/${course.id}/scores`)).body.data).toHaveLength(2);
  });

  it('clears a score, then answers 404 for it', async () => {
    const { learners, scoreUrl } = await gradebook();
    await admin.put(scoreUrl(learners[0].user.id)).send({ score_given: 9 });
    expect((await admin.delete(scoreUrl(learners[0].user.id))).status).toBe(204);
    expectProblem(await admin.delete(scoreUrl(learners[0].user.id)), 404, 'not_found');
  });

  it('does not reach a line item through another course', async () => {
    const { learners, lineItem } = await gradebook();
    const other = await createCourse(admin);
    await enroll(admin, other.id, learners[0].user.id, 'learner');
    expectProblem(await admin.put(`/api/v1/courses/${other.id}/line-items/${lineItem.id}/scores/${learners[0].user.id}`).send({ score_given: 1 }), 404, 'not_found');
  });
});
