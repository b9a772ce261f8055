import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminEmail, startTestApp, type TestApp } from '../support/app.js';
import { createUser, enroll, expectProblem, type Agent } from '../support/api.js';
import { importFixture, openPlayer, scormCourse, type ScormCourse } from './runtime-support.js';

/**
 * The SCORM runtime over real HTTP: launch on the main origin, player, files and commits on the
 * content origin, against the real database, blob store, gradebook and LRS.
 */
let t: TestApp;
let admin: Agent;
let tenantId: string;
const lrsAuth = `Basic ${Buffer.from('runtime-test-key:runtime-test-secret-123').toString('base64')}`;

beforeAll(async () => {
  t = await startTestApp({ env: { CAIRN_LRS_KEY: 'runtime-test-key', CAIRN_LRS_SECRET: 'runtime-test-secret-123' } });
  admin = await t.login();
  tenantId = (await t.deps.db('users').where({ email: adminEmail }).first()).tenant_id;
});
afterAll(async () => { await t?.close(); });

const content = () => request(t.content.app);

async function launch(agent: Agent, c: Pick<ScormCourse, 'courseId' | 'itemId'>, body: Record<string, unknown> = {}) {
  return agent.post(`/api/v1/courses/${c.courseId}/items/${c.itemId}/launch`).send(body);
}

/** Launch → player → session of the one SCO; returns what a player would hold. */
async function startQuiz(c: ScormCourse, agent = c.learnerAgent) {
  const launched = await launch(agent, c);
  expect(launched.status, JSON.stringify(launched.body)).toBe(200);
  const player = await openPlayer(t, launched.body.launch_url);
  const session = await content().post(`${player.runtime}scos/QUIZ/sessions`).set('Content-Type', 'application/json').send('{}');
  expect(session.status, session.text).toBe(201);
  return { launched: launched.body, player, session: session.body, commitUrl: player.runtime + session.body.commit_url_path };
}

function quizCmi(over: { status?: string; raw?: string; exit?: string; session?: string; suspend?: string; interactions?: Record<string, unknown> } = {}) {
  return {
    cmi: {
      suspend_data: over.suspend ?? '', launch_data: 'round=1', comments: '',
      core: {
        student_id: 'x', student_name: 'x', lesson_location: '', credit: 'credit', lesson_status: over.status ?? 'incomplete', entry: 'ab-initio',
        lesson_mode: 'normal', exit: over.exit ?? '', session_time: over.session ?? '00:00:10', score: { raw: over.raw ?? '', min: '0', max: '100' },
      },
      objectives: {}, student_data: { mastery_score: '60', max_time_allowed: '', time_limit_action: '' },
      interactions: over.interactions ?? {},
    },
  };
}

describe('launch', () => {
  it('gives an enrolled learner a launch URL on the content origin, with a registration pinned to the package version and attempt 1', async () => {
    const c = await scormCourse(t, admin, tenantId, 'runtime-scorm12-quiz.zip');
    const res = await launch(c.learnerAgent, c);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.launch_url.startsWith(`${t.deps.config.contentUrl}/play/`)).toBe(true);
    expect(res.body).toMatchObject({ attempt_number: 1, new_attempt: true, package_id: c.packageId, mode: 'normal' });

    // A newer version of the package does not move the registration.
    const lineage = (await t.deps.db('scorm_packages').where({ id: c.packageId }).first()).lineage_id;
    const v2 = await importFixture(t, tenantId, 'runtime-scorm12-quiz.zip', lineage);
    expect(v2).not.toBe(c.packageId);
    const again = await launch(c.learnerAgent, c);
    expect(again.body).toMatchObject({ registration_id: res.body.registration_id, attempt_id: res.body.attempt_id, attempt_number: 1, new_attempt: false, package_id: c.packageId });

    // A new learner registers on the newest ready version.
    const other = await createUser(admin, 'learner');
    await enroll(admin, c.courseId, other.id, 'learner');
    const otherLaunch = await launch(await t.login(other.email, other.password), c);
    expect(otherLaunch.body.package_id).toBe(v2);

    const registrations = await c.instructorAgent.get(`/api/v1/courses/${c.courseId}/items/${c.itemId}/registrations`);
    expect(registrations.status).toBe(200);
    expect(registrations.body.data.map((r: { user_id: string }) => r.user_id).sort()).toEqual([c.learner.id, other.id].sort());
    const own = await c.learnerAgent.get(`/api/v1/courses/${c.courseId}/items/${c.itemId}/registrations`);
    expect(own.body.data.map((r: { user_id: string }) => r.user_id)).toEqual([c.learner.id]);

    // The pinned version cannot be deleted while the registration may resume it.
    const del = await admin.delete(`/api/v1/packages/${c.packageId}`);
    expectProblem(del, 409, 'conflict');
    expect(del.body.registrations).toBe(1);
  });

  it('lets instructors preview in browse mode without credit, refuses observers, non-members and non-SCORM items', async () => {
    const c = await scormCourse(t, admin, tenantId, 'runtime-scorm12-quiz.zip');
    const preview = await launch(c.instructorAgent, c);
    expect(preview.status).toBe(200);
    expect(preview.body.mode).toBe('browse');
    const player = await openPlayer(t, preview.body.launch_url);
    const session = await content().post(`${player.runtime}scos/QUIZ/sessions`).send('{}');
    expect(session.body.cmi.core).toMatchObject({ credit: 'no-credit', lesson_mode: 'browse' });

    const observer = await createUser(admin, 'learner');
    await enroll(admin, c.courseId, observer.id, 'observer');
    expectProblem(await launch(await t.login(observer.email, observer.password), c), 403, 'forbidden');
    const stranger = await createUser(admin, 'learner');
    expectProblem(await launch(await t.login(stranger.email, stranger.password), c), 404, 'not_found');
    const lti = await admin.post(`/api/v1/courses/${c.courseId}/items`).send({ kind: 'lti_tool', title: 'A tool' });
    expectProblem(await launch(c.learnerAgent, { courseId: c.courseId, itemId: lti.body.id }), 409, 'conflict');
  });
});

describe('player and tokens', () => {
  it('serves the player page without cookies and with a strict CSP; bad or expired launch tokens are 401', async () => {
    const c = await scormCourse(t, admin, tenantId, 'runtime-scorm12-quiz.zip');
    const launched = await launch(c.learnerAgent, c);
    const url = new URL(launched.body.launch_url);
    const page = await content().get(url.pathname).set('Cookie', 'cairn_session=stolen');
    expect(page.status).toBe(200);
    expect(page.headers['set-cookie']).toBeUndefined();
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.text).toContain('/player/scorm12.js');
    for (const asset of ['player.js', 'scorm12.js', 'scorm2004.js', 'player.css']) {
      const res = await content().get(`/player/${asset}`);
      expect(res.status, asset).toBe(200);
    }

    const tampered = url.pathname.slice(0, -3) + (url.pathname.endsWith('AAA') ? 'BBB' : 'AAA');
    expect((await content().get(tampered)).status).toBe(401);
    const { runtime } = await openPlayer(t, launched.body.launch_url);
    // A session token is not a launch token, and the reverse.
    expect((await content().get(`/play/${runtime.split('/')[2]}`)).status).toBe(401);
    expect((await content().get(`/r/${url.pathname.split('/')[2]}/state`)).status).toBe(401);

    t.clock.advance(11 * 60 * 1000);
    try {
      const expired = await content().get(url.pathname);
      expect(expired.status).toBe(401);
      expect(expired.text).toContain('expired');
      // The session token minted before lives on for the sitting.
      expect((await content().get(`${runtime}state`)).status).toBe(200);
      t.clock.advance(13 * 60 * 60 * 1000);
      expectProblem(await content().get(`${runtime}state`), 401, 'unauthenticated');
    } finally {
      t.clock.advance(-(11 * 60 * 1000 + 13 * 60 * 60 * 1000));
    }
  });

  it('serves package files with their MIME type, ETag/304, Range 206/416, HEAD, a CSP, and nothing outside the package', async () => {
    const c = await scormCourse(t, admin, tenantId, 'runtime-scorm12-quiz.zip');
    const { player } = await startQuiz(c);
    const base = player.content;
    const page = await content().get(`${base}quiz.html`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'self'");
    expect(page.headers['cache-control']).toBe('private, max-age=3600');
    expect(page.text).toContain('Capitals quiz');
    const js = await content().get(`${base}scorm.js`);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    const length = Number(js.headers['content-length']);

    const etag = page.headers['etag']!;
    expect((await content().get(`${base}quiz.html`).set('If-None-Match', etag)).status).toBe(304);
    const ranged = await content().get(`${base}scorm.js`).set('Range', 'bytes=3-12');
    expect(ranged.status).toBe(206);
    expect(ranged.headers['content-range']).toBe(`bytes 3-12/${length}`);
    expect(ranged.text).toBe(js.text.slice(3, 13));
    const suffix = await content().get(`${base}scorm.js`).set('Range', 'bytes=-5');
    expect(suffix.text).toBe(js.text.slice(-5));
    const beyond = await content().get(`${base}scorm.js`).set('Range', `bytes=${length + 10}-`);
    expect(beyond.status).toBe(416);
    expect(beyond.headers['content-range']).toBe(`bytes */${length}`);
    const head = await content().head(`${base}quiz.html`);
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(page.headers['content-length']);

    expect((await content().get(`${base}nope.html`)).status).toBe(404);
    expect((await content().get(`${base}..%2F..%2Fupload.zip`)).status).toBe(404);
    expect((await content().get(`${base}%2e%2e/imsmanifest.xml`)).status).toBe(404);
  });
});

describe('sessions and commits', () => {
  it('loads the prior CMI before the SCO starts: learner, credit, mastery score, launch data, entry', async () => {
    const c = await scormCourse(t, admin, tenantId, 'runtime-scorm12-quiz.zip');
    const { session, launched } = await startQuiz(c);
    expect(session.entry).toBe('ab-initio');
    expect(session.cmi).toMatchObject({
      core: { student_id: c.learner.id, student_name: 'Learner, Jane Q', credit: 'credit', entry: 'ab-initio', lesson_mode: 'normal', total_time: '0000:00:00.00' },
      launch_data: 'round=1',
      student_data: { mastery_score: '60' },
    });
    const state = await content().get(`${(await openPlayer(t, (await launch(c.learnerAgent, c)).body.launch_url)).runtime}state`);
    expect(state.body).toMatchObject({ family: '1.2', learner: { id: c.learner.id, name: 'Jane Q Learner' }, attempt: { id: launched.attempt_id, number: 1 }, start_item: 'QUIZ', sequencing: null });
  });

  it.each([
    ['40 against mastery 60 → failed', 'completed', '40', 'failed'],
    ['70 against mastery 60 → passed', 'completed', '70', 'passed'],
    ['a SCO reporting passed below the mastery score → failed', 'passed', '59', 'failed'],
    ['no raw score → the SCO\'s own status stands', 'completed', '', 'completed'],
  ])('1.2 RTE 3.4.4 — the mastery score sets lesson_status on the final commit: %s', async (_title, status, raw, expected) => {
    const c = await scormCourse(t, admin, tenantId, 'runtime-scorm12-quiz.zip');
    const { commitUrl, launched } = await startQuiz(c);
    // Mid-session commits are stored as sent.
    const mid = await content().post(commitUrl).set('Content-Type', 'application/json').send(JSON.stringify({ ...quizCmi({ status, raw }), commitSequence: 1 }));
    expect(mid.status, mid.text).toBe(200);
    const final = await content().post(commitUrl).set('Content-Type', 'application/json').send(JSON.stringify({ ...quizCmi({ status, raw }), commitSequence: 2, terminate: true }));
    expect(final.status, final.text).toBe(200);
    await t.content.runtime.drain();
    const attempt = await c.learnerAgent.get(`/api/v1/scorm/registrations/${launched.registration_id}/attempts/${launched.attempt_id}`);
    expect(attempt.body.scos[0].cmi.core.lesson_status).toBe(expected);
    expect(attempt.body).toMatchObject({ completion_status: 'completed', success_status: expected === 'completed' ? 'unknown' : expected });
  });

  it('1.2 — a browse (preview) session keeps the SCO\'s own status whatever the mastery score', async () => {
    const c = await scormCourse(t, admin, tenantId, 'runtime-scorm12-quiz.zip');
    const preview = await launch(c.instructorAgent, c);
    expect(preview.status, JSON.stringify(preview.body)).toBe(200);
    const player = await openPlayer(t, preview.body.launch_url);
    const session = await content().post(`${player.runtime}scos/QUIZ/sessions`).set('Content-Type', 'application/json').send('{}');
    const final = await content().post(player.runtime + session.body.commit_url_path).set('Content-Type', 'application/json').send(JSON.stringify({ ...quizCmi({ status: 'completed', raw: '10' }), commitSequence: 1, terminate: true }));
    expect(final.status, final.text).toBe(200);
    await t.content.runtime.drain();
    const stored = await t.deps.db('scorm_runtime_data').where({ attempt_id: preview.body.attempt_id }).first('cmi');
    expect((stored.cmi as { core: { lesson_status: string } }).core.lesson_status).toBe('completed');
  });

  it('stores commits (JSON and the text/plain beacon), rolls results into the attempt, registration, gradebook and LRS', async () => {
    const c = await scormCourse(t, admin, tenantId, 'runtime-scorm12-quiz.zip');
    const { commitUrl, launched } = await startQuiz(c);
    const first = await content().post(commitUrl).set('Content-Type', 'application/json').send(JSON.stringify({ ...quizCmi(), commitSequence: 1 }));
    expect(first.status, first.text).toBe(200);
    expect(first.body).toEqual({ result: 'true', errorCode: 0 });

    const final = quizCmi({
      status: 'passed', raw: '67', session: '00:02:30',
      interactions: { 0: { id: 'q1', type: 'choice', student_response: 'a', result: 'correct', correct_responses: { 0: { pattern: 'a' } } }, 1: { id: 'q2', type: 'choice', student_response: 'a', result: 'wrong', correct_responses: { 0: { pattern: 'b' } } } },
    });
    const beacon = await content().post(commitUrl).set('Content-Type', 'text/plain;charset=UTF-8').send(JSON.stringify({ ...final, commitSequence: 2, terminate: true }));
    expect(beacon.status, beacon.text).toBe(200);
    await t.content.runtime.drain();

    const attempt = await c.learnerAgent.get(`/api/v1/scorm/registrations/${launched.registration_id}/attempts/${launched.attempt_id}`);
    expect(attempt.status).toBe(200);
    expect(attempt.body).toMatchObject({ status: 'ended', completion_status: 'completed', success_status: 'passed', score: { raw: 67, min: 0, max: 100, scaled: 0.67 }, total_seconds: 150 });
    expect(attempt.body.scos[0]).toMatchObject({ item_identifier: 'QUIZ', exit: '', session_count: 1 });
    expect(attempt.body.scos[0].cmi.core.lesson_status).toBe('passed');

    const registration = await c.learnerAgent.get(`/api/v1/scorm/registrations/${launched.registration_id}`);
    expect(registration.body).toMatchObject({ completion_status: 'completed', success_status: 'passed', score: { scaled: 0.67 }, attempt_count: 1 });
    expect(registration.body.completed_at).not.toBeNull();

    const history = await c.learnerAgent.get(`/api/v1/scorm/registrations/${launched.registration_id}/attempts/${launched.attempt_id}/commits`);
    expect(history.body.data.map((h: { via: string; terminate: boolean; applied: boolean; sequence: number }) => [h.via, h.terminate, h.applied, h.sequence])).toEqual([['xhr', false, true, 1], ['beacon', true, true, 2]]);

    const scores = await c.instructorAgent.get(`/api/v1/courses/${c.courseId}/scores`);
    expect(scores.status, JSON.stringify(scores.body)).toBe(200);
    const mine = scores.body.data.find((s: { user_id: string }) => s.user_id === c.learner.id);
    expect(mine).toMatchObject({ score_given: 67, score_maximum: 100, activity_progress: 'Completed', grading_progress: 'FullyGraded', source: 'scorm' });
    const lineItems = await c.instructorAgent.get(`/api/v1/courses/${c.courseId}/line-items`);
    expect(lineItems.body.data.filter((l: { course_item_id: string }) => l.course_item_id === c.itemId)).toHaveLength(1);

    const xapi = await request(t.app).get('/xapi/statements').query({ registration: launched.registration_id, limit: 50 })
      .set('Authorization', lrsAuth).set('X-Experience-API-Version', '1.0.3');
    expect(xapi.status, xapi.text).toBe(200);
    const verbs = (xapi.body.statements as Array<{ verb: { id: string } }>).map((s) => s.verb.id.split('/').pop()).sort();
    expect(verbs).toEqual(['answered', 'answered', 'completed', 'initialized', 'passed', 'scored', 'terminated']);
    const passed = (xapi.body.statements as Array<Record<string, any>>).find((s) => s.verb.id.endsWith('/passed'))!;
    expect(passed.context.registration).toBe(launched.registration_id);
    expect(passed.context.contextActivities.category[0].id).toBe('http://adlnet.gov/xapi/profile/scorm');
    expect(passed.result).toMatchObject({ success: true, completion: true, score: { scaled: 0.67, raw: 67 } });
    expect(passed.actor.account).toEqual({ homePage: t.deps.config.publicUrl, name: c.learner.id });

    // The ended attempt takes no more data; the next launch is attempt 2 with a fresh CMI.
    const late = await content().post(commitUrl).set('Content-Type', 'application/json').send(JSON.stringify(quizCmi({ raw: '0' })));
    expectProblem(late, 403, 'forbidden');
    const next = await launch(c.learnerAgent, c);
    expect(next.body).toMatchObject({ attempt_number: 2, new_attempt: true, registration_id: launched.registration_id });
  });

  it('refuses malformed commits with 400 and keeps the previous CMI', async () => {
    const c = await scormCourse(t, admin, tenantId, 'runtime-scorm12-quiz.zip');
    const { commitUrl, launched } = await startQuiz(c);
    expect((await content().post(commitUrl).set('Content-Type', 'application/json').send(JSON.stringify(quizCmi({ raw: '40', status: 'incomplete' })))).status).toBe(200);
    for (const bad of ['{not json', '[]', '{"cmi": 5}', '{"cmi": {"core": [1,2]}}', '{"cmi": {}, "commitSequence": -1}']) {
      const res = await content().post(commitUrl).set('Content-Type', 'application/json').send(bad);
      expectProblem(res, 400, 'bad_request');
    }
    const attempt = await c.learnerAgent.get(`/api/v1/scorm/registrations/${launched.registration_id}/attempts/${launched.attempt_id}`);
    expect(attempt.body.scos[0].cmi.core.score.raw).toBe('40');
    // Older commits arriving late (lower commitSequence) are recorded but not applied.
    await content().post(commitUrl).send(JSON.stringify({ ...quizCmi({ raw: '50' }), commitSequence: 5 }));
    const stale = await content().post(commitUrl).send(JSON.stringify({ ...quizCmi({ raw: '10' }), commitSequence: 4 }));
    expect(stale.body.result).toBe('true');
    const after = await c.learnerAgent.get(`/api/v1/scorm/registrations/${launched.registration_id}/attempts/${launched.attempt_id}`);
    expect(after.body.scos[0].cmi.core.score.raw).toBe('50');
  });

  it('keeps 1.2 suspend data over 4,096 characters whole (with a warning), resumes with entry=resume and accumulates total time', async () => {
    const c = await scormCourse(t, admin, tenantId, 'runtime-scorm12-quiz.zip');
    const { commitUrl, launched } = await startQuiz(c);
    const big = `state:${'y'.repeat(6000)}`;
    const res = await content().post(commitUrl).send(JSON.stringify({ ...quizCmi({ suspend: big, exit: 'suspend', session: '00:05:00' }), terminate: true }));
    expect(res.status).toBe(200);
    expect(res.body.warnings[0]).toContain('over SCORM 1.2');
    const history = await c.learnerAgent.get(`/api/v1/scorm/registrations/${launched.registration_id}/attempts/${launched.attempt_id}/commits`);
    expect(history.body.data[0].warnings).toHaveLength(1);

    const reg = await c.learnerAgent.get(`/api/v1/scorm/registrations/${launched.registration_id}`);
    expect(reg.body.attempts[0].status).toBe('suspended');

    const second = await startQuiz(c);
    expect(second.launched).toMatchObject({ attempt_id: launched.attempt_id, new_attempt: false });
    expect(second.session.entry).toBe('resume');
    expect(second.session.cmi.suspend_data).toBe(big);
    expect(second.session.cmi.core).toMatchObject({ entry: 'resume', total_time: '0000:05:00.00' });
    await content().post(second.commitUrl).send(JSON.stringify({ ...quizCmi({ suspend: big, status: 'completed', session: '00:01:30' }), terminate: true }));
    const attempt = await c.learnerAgent.get(`/api/v1/scorm/registrations/${launched.registration_id}/attempts/${launched.attempt_id}`);
    expect(attempt.body).toMatchObject({ status: 'ended', total_seconds: 390, completion_status: 'completed' });
    expect(attempt.body.scos[0]).toMatchObject({ session_count: 2, suspend_data_length: big.length });
  });

  it('concurrent commits of many learners are batched without losing or reordering any (group commit)', async () => {
    const c = await scormCourse(t, admin, tenantId, 'runtime-scorm12-quiz.zip');
    const sessions = [];
    for (let i = 0; i < 4; i++) {
      const item = await admin.post(`/api/v1/courses/${c.courseId}/items`).send({ kind: 'scorm', title: `Copy ${i}`, ref_id: c.packageId });
      sessions.push(await startQuiz({ ...c, itemId: item.body.id }));
    }
    const sends = sessions.flatMap((s, i) => Array.from({ length: 10 }, (_, n) => ({ s, i, n: n + 1 })));
    sends.sort(() => Math.random() - 0.5);
    const answers = await Promise.all(sends.map(({ s, i, n }) => content().post(s.commitUrl).set('Content-Type', 'application/json')
      .send(JSON.stringify({ ...quizCmi({ raw: String(i * 10 + n) }), commitSequence: n }))));
    expect(answers.map((a) => `${a.status} ${a.body.result ?? a.text}`).filter((x) => x !== '200 true')).toEqual([]);
    for (const [i, s] of sessions.entries()) {
      const attempt = await c.learnerAgent.get(`/api/v1/scorm/registrations/${s.launched.registration_id}/attempts/${s.launched.attempt_id}`);
      expect(attempt.body.commit_count).toBe(10);
      // The newest commitSequence wins whatever the arrival order.
      expect(attempt.body.scos[0].cmi.core.score.raw).toBe(String(i * 10 + 10));
      const history = await c.learnerAgent.get(`/api/v1/scorm/registrations/${s.launched.registration_id}/attempts/${s.launched.attempt_id}/commits`);
      expect(history.body.data).toHaveLength(10);
      expect(history.body.data.filter((h: { applied: boolean; sequence: number }) => h.applied && h.sequence === 10)).toHaveLength(1);
    }
  });

  it('a token of an ended attempt can no longer start sessions (the player then fails Initialize)', async () => {
    const c = await scormCourse(t, admin, tenantId, 'runtime-scorm12-quiz.zip');
    const { player } = await startQuiz(c);
    const restarted = await launch(c.learnerAgent, c, { new_attempt: true });
    expect(restarted.body).toMatchObject({ attempt_number: 2, new_attempt: true });
    expectProblem(await content().post(`${player.runtime}scos/QUIZ/sessions`).send('{}'), 403, 'forbidden');
    expectProblem(await content().get(`${player.runtime}state`), 403, 'forbidden');
    expectProblem(await content().post(`${player.runtime}scos/NOPE/sessions`).send('{}'), 404, 'not_found');
  });
  it('2004 sequencing: an unload beacon without shared data keeps the stored adl.data (a window close must not wipe it)', async () => {
    const c = await scormCourse(t, admin, tenantId, 'runtime-scorm2004-sequenced.zip');
    const launched = await launch(c.learnerAgent, c);
    expect(launched.status, JSON.stringify(launched.body)).toBe(200);
    const { runtime } = await openPlayer(t, launched.body.launch_url);
    const put = await content().put(`${runtime}sequencing`).set('Content-Type', 'application/json')
      .send(JSON.stringify({ state: '{"tree":1}', global_objectives: {}, shared_data: { notes: 'kept across sessions' } }));
    expect(put.status, put.text).toBe(204);
    // What an unload beacon of an older player sends: state and objectives only, as text/plain.
    const beacon = await content().post(`${runtime}sequencing`).set('Content-Type', 'text/plain;charset=UTF-8')
      .send(JSON.stringify({ state: '{"tree":2}', global_objectives: {} }));
    expect(beacon.status, beacon.text).toBe(204);
    const state = await content().get(`${runtime}state`);
    expect(state.status, state.text).toBe(200);
    expect(state.body.sequencing).toMatchObject({ state: '{"tree":2}', shared_data: { notes: 'kept across sessions' } });
    // Sent explicitly, shared data is replaced as before.
    await content().put(`${runtime}sequencing`).set('Content-Type', 'application/json').send(JSON.stringify({ state: '{"tree":3}', global_objectives: {}, shared_data: {} }));
    expect((await content().get(`${runtime}state`)).body.sequencing).toMatchObject({ shared_data: {} });
  });
  it('2004 RTE — a SCO that ended its learner attempt starts the next session ab-initio with total_time zero', async () => {
    const c = await scormCourse(t, admin, tenantId, 'runtime-scorm2004-sequenced.zip');
    const launched = await launch(c.learnerAgent, c);
    expect(launched.status, JSON.stringify(launched.body)).toBe(200);
    const { runtime } = await openPlayer(t, launched.body.launch_url);
    const start = async () => {
      const res = await content().post(`${runtime}scos/INTRO/sessions`).set('Content-Type', 'application/json').send('{}');
      expect(res.status, res.text).toBe(201);
      return res.body as { entry: string; cmi: { total_time: string }; commit_url_path: string };
    };
    const first = await start();
    expect(first).toMatchObject({ entry: 'ab-initio', cmi: { total_time: 'PT0S' } });
    const done = await content().post(runtime + first.commit_url_path).set('Content-Type', 'application/json')
      .send(JSON.stringify({ cmi: { completion_status: 'completed', exit: 'normal', session_time: 'PT5M' }, commitSequence: 1, terminate: true }));
    expect(done.status, done.text).toBe(200);
    await t.content.runtime.drain();
    const second = await start();
    expect(second.entry).toBe('ab-initio');
    expect(second.cmi.total_time).toBe('PT0S');
    // The attempt still counts the first learner attempt's five minutes.
    const attempt = await c.learnerAgent.get(`/api/v1/scorm/registrations/${launched.body.registration_id}/attempts/${launched.body.attempt_id}`);
    expect(attempt.body.total_seconds).toBe(300);
  });
});
