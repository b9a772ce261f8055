import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importFixture, openPlayer } from '../scorm/runtime-support.js';
import { roles, runLaunch } from './support.js';
import { eventually, setupAdvantage, type AdvantageFixture } from './platform/advantage-fixture.js';
import { scopes, type LineItem } from './platform/services.js';

/**
 * Assignment and Grade Services 2.0 from the tool side, against the test platform's token
 * endpoint and AGS server: a score applied in Cairn's gradebook for an LTI-launched item is
 * sent by a pg-boss job with a bearer token obtained through a verified client assertion.
 */
let fx: AdvantageFixture;
let courseId: string;
const context = 'bio101';
const db = () => fx.t.deps.db;

interface Gradable {
  readonly itemId: string;
  readonly lineItemId: string;
}

beforeAll(async () => {
  fx = await setupAdvantage();
  const first = await runLaunch(fx, { loginHint: 'teacher-hint', messageHint: 'setup', tweak: { claims: fx.services.serviceClaims(context, { ags: false, nrps: false }) } });
  expect(first.launch.status, first.launch.text).toBe(303);
  courseId = (await db()('course_contexts').where({ context_id: 'course-1' }).first()).course_id;
}, 60_000);
afterAll(async () => {
  await fx?.close();
});

/** A course activity with Cairn's own line item (label, maximum). */
async function gradable(title: string, scoreMaximum: number): Promise<Gradable> {
  const item = await fx.admin.post(`/api/v1/courses/${courseId}/items`).send({ kind: 'xapi_activity', title, activity_id: `https://example.org/activities/${encodeURIComponent(title)}` });
  expect(item.status, JSON.stringify(item.body)).toBe(201);
  const lineItem = await fx.admin.post(`/api/v1/courses/${courseId}/line-items`).send({ label: title, score_maximum: scoreMaximum, course_item_id: item.body.id, tag: 'quiz' });
  expect(lineItem.status, JSON.stringify(lineItem.body)).toBe(201);
  return { itemId: item.body.id, lineItemId: lineItem.body.id };
}

let learnerCount = 0;
/** A new learner on the platform, launched once through `link` (which maps to the item): Cairn user id and platform sub. */
async function launchLearner(link: string, options: { lineItem?: LineItem; ags?: boolean } = {}): Promise<{ userId: string; sub: string }> {
  const n = ++learnerCount;
  const sub = `ags-learner-${n}`;
  fx.platform.users.set(`ags-hint-${n}`, { sub, name: `Learner ${n}`, email: `learner${n}@school.example`, roles: [roles.learner] });
  const flow = await runLaunch(fx, { loginHint: `ags-hint-${n}`, messageHint: link, tweak: { claims: fx.services.serviceClaims(context, { ...options, nrps: false }) } });
  expect(flow.launch.status, flow.launch.text).toBe(303);
  const identity = await db()('user_identities').where({ subject: sub }).first();
  return { userId: identity.user_id as string, sub };
}

function linkTo(link: string, itemId: string): void {
  fx.platform.links.set(link, { resourceLink: { id: `rl-${link}`, title: link }, custom: { cairn_item_id: itemId } });
}

async function putScore(g: Gradable, userId: string, body: Record<string, unknown>) {
  const res = await fx.admin.put(`/api/v1/courses/${courseId}/line-items/${g.lineItemId}/scores/${userId}`).send(body);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.applied).toBe(true);
  return res.body as { scored_at: string };
}

async function passbackOf(userId: string): Promise<Record<string, unknown>> {
  const res = await fx.admin.get('/api/v1/lti/grade-passback').query({ user_id: userId });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.data).toHaveLength(1);
  return res.body.data[0] as Record<string, unknown>;
}

const receivedBy = (lineItem: LineItem, sub: string) => fx.services.scores.filter((s) => s.lineItemId === lineItem.id && s.body['userId'] === sub);
const successfulTokens = () => fx.services.tokenRequests.filter((r) => r.status === 200 && r.scope.includes(scopes.score));
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('AGS grade passback', () => {
  let quiz: Gradable;
  let platformQuiz: LineItem;

  beforeAll(async () => {
    quiz = await gradable('Week 1 quiz', 50);
    linkTo('quiz', quiz.itemId);
    platformQuiz = fx.services.addLineItem(context, { label: 'Week 1 quiz', scoreMaximum: 50, resourceLinkId: 'rl-quiz' });
  });

  it('a gradebook score reaches the platform\'s line item with a token from a verified client assertion and the AGS score body; the status is visible to admins', async () => {
    const learner = await launchLearner('quiz', { lineItem: platformQuiz });
    const stored = await putScore(quiz, learner.userId, { score_given: 40, comment: 'Well done' });
    const [score] = await eventually('the score at the platform', () => (receivedBy(platformQuiz, learner.sub).length > 0 ? receivedBy(platformQuiz, learner.sub) : undefined));
    expect(score!.status).toBe(204);
    expect(score!.contentType).toBe('application/vnd.ims.lis.v1.score+json');
    expect(score!.body).toEqual({
      userId: learner.sub, scoreGiven: 40, scoreMaximum: 50, activityProgress: 'Completed', gradingProgress: 'FullyGraded',
      timestamp: stored.scored_at, comment: 'Well done',
    });
    // The bearer token came from the token endpoint, for a client assertion signed with Cairn's current key.
    const token = fx.services.tokens.get(score!.token)!;
    expect(token.scopes).toEqual(expect.arrayContaining([scopes.score, scopes.lineItem]));
    expect(token.assertion).toMatchObject({ iss: fx.platform.clientId, sub: fx.platform.clientId, aud: fx.services.tokenUrl });
    expect(typeof token.assertion.jti).toBe('string');
    const jwks = await fx.t.agent().get('/.well-known/jwks.json');
    expect(token.assertionHeader).toMatchObject({ alg: 'RS256', kid: jwks.body.keys[0].kid });

    const status = await eventually('status sent', async () => {
      const entry = await passbackOf(learner.userId);
      return entry['status'] === 'sent' ? entry : undefined;
    });
    expect(status).toMatchObject({
      platform_user_id: learner.sub, course_id: courseId, course_item_id: quiz.itemId, line_item_id: quiz.lineItemId, resource_link_id: 'rl-quiz',
      platform_line_item_url: fx.services.lineItemUrl(platformQuiz), last_http_status: 204, attempts: 1, last_error: null,
    });
    const one = await fx.admin.get(`/api/v1/lti/grade-passback/${status['id'] as string}`);
    expect(one.body.score).toMatchObject({ scoreGiven: 40 });
  });

  it('one token serves several scores (cached per platform and scopes until shortly before expiry)', async () => {
    const before = successfulTokens().length;
    const a = await launchLearner('quiz', { lineItem: platformQuiz });
    const b = await launchLearner('quiz', { lineItem: platformQuiz });
    await putScore(quiz, a.userId, { score_given: 10 });
    await putScore(quiz, b.userId, { score_given: 20 });
    await putScore(quiz, a.userId, { score_given: 30 });
    await eventually('three scores', () => receivedBy(platformQuiz, a.sub).some((s) => s.body['scoreGiven'] === 30) && receivedBy(platformQuiz, b.sub).length === 1);
    // The token the first test obtained is still cached (same platform, same scopes): no new request.
    expect(before).toBe(1);
    expect(successfulTokens()).toHaveLength(1);
    const tokensUsed = new Set(fx.services.scores.filter((s) => s.status === 204).map((s) => s.token));
    expect(tokensUsed.size).toBe(1);
  });

  it('a 500 is retried with backoff until the platform accepts the score', async () => {
    const learner = await launchLearner('quiz', { lineItem: platformQuiz });
    fx.services.scoreHook = ({ body, attempt }) => (body['userId'] === learner.sub && attempt === 1 ? { status: 500, body: { error: 'database is busy' } } : undefined);
    try {
      await putScore(quiz, learner.userId, { score_given: 33 });
      const failed = await eventually('the first (failed) attempt', async () => {
        const entry = await passbackOf(learner.userId);
        return entry['last_http_status'] === 500 ? entry : undefined;
      });
      expect(failed).toMatchObject({ status: 'pending', attempts: 1, last_response: expect.stringContaining('database is busy') });
      expect(failed['next_attempt_at']).not.toBeNull();
      const sent = await eventually('the retry', async () => {
        const entry = await passbackOf(learner.userId);
        return entry['status'] === 'sent' ? entry : undefined;
      });
      expect(sent).toMatchObject({ attempts: 2, last_http_status: 204, last_error: null });
      expect(receivedBy(platformQuiz, learner.sub).map((s) => s.status)).toEqual([500, 204]);
    } finally {
      fx.services.scoreHook = undefined;
    }
  });

  it('a refusal (Moodle\'s 400 "user not gradable", Canvas\'s 422 for the test student) is final: recorded as failed with the platform\'s answer, not retried; an admin can send it again', async () => {
    const moodle = await launchLearner('quiz', { lineItem: platformQuiz });
    const canvas = await launchLearner('quiz', { lineItem: platformQuiz });
    let refuse = true;
    fx.services.scoreHook = ({ body }) => {
      if (!refuse) return undefined;
      if (body['userId'] === moodle.sub) return { status: 400, body: { errorcode: 'usernotgradable', message: 'User is not gradable' } };
      if (body['userId'] === canvas.sub) return { status: 422, body: { errors: [{ message: 'Test Student cannot be graded' }] } };
      return undefined;
    };
    try {
      await putScore(quiz, moodle.userId, { score_given: 12 });
      await putScore(quiz, canvas.userId, { score_given: 13 });
      const failed = await eventually('both failed', async () => {
        const a = await passbackOf(moodle.userId);
        const b = await passbackOf(canvas.userId);
        return a['status'] === 'failed' && b['status'] === 'failed' ? ([a, b] as const) : undefined;
      });
      expect(failed[0]).toMatchObject({ last_http_status: 400, attempts: 1, next_attempt_at: null, last_response: expect.stringContaining('User is not gradable') });
      expect(failed[1]).toMatchObject({ last_http_status: 422, attempts: 1, last_response: expect.stringContaining('Test Student cannot be graded') });
      // Well past the retry delay: still one request each.
      await pause(2500);
      expect(receivedBy(platformQuiz, moodle.sub)).toHaveLength(1);
      expect(receivedBy(platformQuiz, canvas.sub)).toHaveLength(1);
      const listed = await fx.admin.get('/api/v1/lti/grade-passback').query({ status: 'failed' });
      expect(listed.body.data.map((e: { user_id: string }) => e.user_id)).toEqual(expect.arrayContaining([moodle.userId, canvas.userId]));

      // The teacher made the learner gradable; the admin sends the score again.
      refuse = false;
      const retry = await fx.admin.post(`/api/v1/lti/grade-passback/${failed[0]['id'] as string}/retry`);
      expect(retry.status, JSON.stringify(retry.body)).toBe(202);
      expect(retry.body).toMatchObject({ status: 'pending', attempts: 0 });
      await eventually('sent after the retry', async () => (await passbackOf(moodle.userId))['status'] === 'sent');
      expect(receivedBy(platformQuiz, moodle.sub).map((s) => s.status)).toEqual([400, 204]);
      const again = await fx.admin.post(`/api/v1/lti/grade-passback/${failed[0]['id'] as string}/retry`);
      expect(again.status).toBe(409);
    } finally {
      fx.services.scoreHook = undefined;
    }
  });

  it('a 401 (token revoked) fetches a new token once and the score goes through in the same attempt', async () => {
    const learner = await launchLearner('quiz', { lineItem: platformQuiz });
    const before = successfulTokens().length;
    fx.services.tokens.clear();
    await putScore(quiz, learner.userId, { score_given: 44 });
    const entry = await eventually('sent', async () => {
      const e = await passbackOf(learner.userId);
      return e['status'] === 'sent' ? e : undefined;
    });
    expect(entry['attempts']).toBe(1);
    expect(successfulTokens().length).toBe(before + 1);
    expect(receivedBy(platformQuiz, learner.sub).map((s) => s.status)).toEqual([204]);
  });

  it('a newer score supersedes an older one still waiting for its retry: only the newer reaches the platform', async () => {
    const learner = await launchLearner('quiz', { lineItem: platformQuiz });
    fx.services.scoreHook = ({ body, attempt }) => (body['userId'] === learner.sub && attempt === 1 ? { status: 503, body: {} } : undefined);
    try {
      await putScore(quiz, learner.userId, { score_given: 10 });
      await eventually('the first attempt', () => receivedBy(platformQuiz, learner.sub).length === 1);
      await putScore(quiz, learner.userId, { score_given: 25 });
      await eventually('sent', async () => (await passbackOf(learner.userId))['status'] === 'sent');
      const accepted = receivedBy(platformQuiz, learner.sub).filter((s) => s.status === 204);
      expect(accepted.map((s) => s.body['scoreGiven'])).toEqual([25]);
      expect((await passbackOf(learner.userId))['score']).toMatchObject({ scoreGiven: 25 });
    } finally {
      fx.services.scoreHook = undefined;
    }
  });

  it('an older score (by its time) does not replace a newer one on its way', async () => {
    const learner = await launchLearner('quiz', { lineItem: platformQuiz });
    await putScore(quiz, learner.userId, { score_given: 30, scored_at: '2026-11-01T10:00:00.000Z' });
    await eventually('sent', async () => (await passbackOf(learner.userId))['status'] === 'sent');
    const stale = await fx.admin.put(`/api/v1/courses/${courseId}/line-items/${quiz.lineItemId}/scores/${learner.userId}`).send({ score_given: 5, scored_at: '2026-10-01T10:00:00.000Z' });
    expect(stale.body.applied).toBe(false);
    await pause(1500);
    expect(receivedBy(platformQuiz, learner.sub).map((s) => s.body['scoreGiven'])).toEqual([30]);
  });
});

describe('AGS line items', () => {
  it('with only a line items endpoint, Cairn creates the line item (label, scoreMaximum, resourceId, resourceLinkId, tag) once and posts every score there', async () => {
    const essay = await gradable('Essay', 10);
    linkTo('essay', essay.itemId);
    const first = await launchLearner('essay');
    const second = await launchLearner('essay');
    const postsBefore = fx.services.lineItemRequests.filter((r) => r.method === 'POST').length;
    await putScore(essay, first.userId, { score_given: 7 });
    await putScore(essay, second.userId, { score_given: 9 });
    await eventually('both scores', () => fx.services.scores.filter((s) => s.status === 204 && (s.body['userId'] === first.sub || s.body['userId'] === second.sub)).length === 2);
    const created = [...fx.services.lineItems.values()].filter((i) => i.resourceLinkId === 'rl-essay');
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ label: 'Essay', scoreMaximum: 10, resourceId: essay.itemId, tag: 'quiz' });
    expect(fx.services.lineItemRequests.filter((r) => r.method === 'POST')).toHaveLength(postsBefore + 1);
    // Discovery asked the container for this resource link first.
    expect(fx.services.lineItemRequests.some((r) => r.method === 'GET' && r.url.includes('resource_link_id=rl-essay'))).toBe(true);
    expect(fx.services.scoresFor(created[0]!.id).map((s) => s.body['scoreGiven']).sort()).toEqual([7, 9]);
    const link = await db()('lti_resource_links').where({ resource_link_id: 'rl-essay' }).first();
    expect(link.line_item_url).toBe(fx.services.lineItemUrl(created[0]!));
  });

  it('a line item Cairn created and the platform then deleted is created again on the next attempt', async () => {
    const essayItem = await db()('lti_resource_links').where({ resource_link_id: 'rl-essay' }).first();
    const old = fx.services.lineItemByUrl(essayItem.line_item_url)!;
    fx.services.lineItems.delete(old.id);
    const learner = await launchLearner('essay');
    const essay = { itemId: essayItem.course_item_id as string, lineItemId: (await db()('line_items').where({ course_item_id: essayItem.course_item_id }).first()).id as string };
    await putScore(essay, learner.userId, { score_given: 6 });
    const entry = await eventually('sent to the new line item', async () => {
      const e = await passbackOf(learner.userId);
      return e['status'] === 'sent' ? e : undefined;
    });
    const recreated = [...fx.services.lineItems.values()].filter((i) => i.resourceLinkId === 'rl-essay');
    expect(recreated).toHaveLength(1);
    expect(recreated[0]!.id).not.toBe(old.id);
    expect(entry).toMatchObject({ attempts: 2, platform_line_item_url: fx.services.lineItemUrl(recreated[0]!) });
    expect(fx.services.scoresFor(recreated[0]!.id).map((s) => s.body['scoreGiven'])).toEqual([6]);
  });

  it('discovery follows Link rel="next" through a platform that ignores the filters, and uses the line item it finds', async () => {
    const lab = await gradable('Lab report', 30);
    linkTo('lab', lab.itemId);
    for (let i = 0; i < 5; i++) fx.services.addLineItem(context, { label: `Other ${i}`, scoreMaximum: 10, resourceLinkId: `rl-other-${i}` });
    const existing = fx.services.addLineItem(context, { label: 'Lab report', scoreMaximum: 30, resourceLinkId: 'rl-lab' });
    fx.services.ignoreLineItemFilters = true;
    try {
      const learner = await launchLearner('lab');
      const posts = fx.services.lineItemRequests.filter((r) => r.method === 'POST').length;
      await putScore(lab, learner.userId, { score_given: 21 });
      await eventually('the score', () => fx.services.scoresFor(existing.id).length === 1);
      expect(fx.services.lineItemRequests.filter((r) => r.method === 'POST')).toHaveLength(posts);
      expect(fx.services.lineItemRequests.filter((r) => r.method === 'GET' && r.url.includes('offset=')).length).toBeGreaterThan(0);
    } finally {
      fx.services.ignoreLineItemFilters = false;
    }
  });

  it('a column Cairn\'s item already has on the platform (by resourceId and tag, bound to no other link) is found with the resource_id/tag filter', async () => {
    const poster = await gradable('Poster', 15);
    linkTo('poster', poster.itemId);
    const existing = fx.services.addLineItem(context, { label: 'Poster', scoreMaximum: 15, resourceId: poster.itemId, tag: 'quiz' });
    fx.services.addLineItem(context, { label: 'Poster (other placement)', scoreMaximum: 15, resourceId: poster.itemId, tag: 'quiz', resourceLinkId: 'rl-somewhere-else' });
    const learner = await launchLearner('poster');
    const posts = fx.services.lineItemRequests.filter((r) => r.method === 'POST').length;
    await putScore(poster, learner.userId, { score_given: 12 });
    await eventually('the score', () => fx.services.scoresFor(existing.id).length === 1);
    expect(fx.services.lineItemRequests.filter((r) => r.method === 'POST')).toHaveLength(posts);
    expect(fx.services.lineItemRequests.some((r) => r.url.includes(`resource_id=${poster.itemId}`) && r.url.includes('tag=quiz'))).toBe(true);
  });

  it('a launch without an AGS claim sends nothing: the score stays in Cairn', async () => {
    const reading = await gradable('Reading', 5);
    linkTo('reading', reading.itemId);
    const learner = await launchLearner('reading', { ags: false });
    await putScore(reading, learner.userId, { score_given: 5 });
    const link = await db()('lti_resource_links').where({ resource_link_id: 'rl-reading' }).first();
    expect(link.ags).toBeNull();
    expect(await db()('lti_ags_scores').where({ resource_link_ref: link.id })).toEqual([]);
    const listed = await fx.admin.get('/api/v1/lti/grade-passback').query({ user_id: learner.userId });
    expect(listed.body.data).toEqual([]);
  });
});

describe('SCORM result → gradebook → platform', () => {
  it('a learner finishing a SCORM package launched from the platform has the result posted to the platform\'s line item', async () => {
    const packageId = await importFixture(fx.t, fx.tenantId, 'runtime-scorm12-quiz.zip');
    fx.platform.links.set('scorm', { resourceLink: { id: 'rl-scorm', title: 'Capitals' }, custom: { cairn_package_id: packageId } });
    const platformItem = fx.services.addLineItem(context, { label: 'Capitals', scoreMaximum: 100, resourceLinkId: 'rl-scorm' });
    const n = ++learnerCount;
    const sub = `ags-learner-${n}`;
    fx.platform.users.set(`ags-hint-${n}`, { sub, name: `Learner ${n}`, roles: [roles.learner] });
    const flow = await runLaunch(fx, { loginHint: `ags-hint-${n}`, messageHint: 'scorm', tweak: { claims: fx.services.serviceClaims(context, { lineItem: platformItem, nrps: false }) } });
    const location = flow.launch.headers['location'] as string;
    expect(location.startsWith(`${fx.t.deps.config.contentUrl}/play/`)).toBe(true);

    const content = request(fx.t.content.app);
    const player = await openPlayer(fx.t, location);
    const session = await content.post(`${player.runtime}scos/QUIZ/sessions`).set('Content-Type', 'application/json').send('{}');
    expect(session.status, session.text).toBe(201);
    const cmi = {
      cmi: {
        suspend_data: '', launch_data: '', comments: '',
        core: { student_id: 'x', student_name: 'x', lesson_location: '', credit: 'credit', lesson_status: 'passed', entry: 'ab-initio', lesson_mode: 'normal', exit: '', session_time: '00:02:00', score: { raw: '80', min: '0', max: '100' } },
        objectives: {}, student_data: { mastery_score: '60', max_time_allowed: '', time_limit_action: '' }, interactions: {},
      },
      commitSequence: 1, terminate: true,
    };
    const commit = await content.post(player.runtime + session.body.commit_url_path).set('Content-Type', 'application/json').send(JSON.stringify(cmi));
    expect(commit.status, commit.text).toBe(200);

    const [score] = await eventually('the SCORM score at the platform', () => (fx.services.scoresFor(platformItem.id).length > 0 ? fx.services.scoresFor(platformItem.id) : undefined));
    expect(score!.body).toMatchObject({ userId: sub, scoreGiven: 80, scoreMaximum: 100, activityProgress: 'Completed', gradingProgress: 'FullyGraded' });
    expect(score!.body['comment']).toMatch(/^SCORM: /);
  });
});
