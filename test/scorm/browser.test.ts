import request from 'supertest';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminEmail, adminPassword } from '../support/app.js';
import type { Agent } from '../support/api.js';
import { haveChromium, startBrowserRig, eventually, type BrowserRig } from './browser-support.js';
import { scormCourse, type ScormCourse } from './runtime-support.js';

/**
 * SCORM packages built in fixtures/ played in the real player in headless Chromium: the SCO finds
 * scorm-again's API, the learner clicks through, and the stored CMI, attempt results, gradebook
 * score and xAPI statements are checked through the API. The main origin is http://localhost:<p1>
 * and the content origin http://127.0.0.1:<p2>: different sites, as in production.
 */
let rig: BrowserRig;
let admin: Agent;
let tenantId: string;
const lrsAuth = `Basic ${Buffer.from('browser-test-key:browser-test-secret-123').toString('base64')}`;

beforeAll(async () => {
  if (!haveChromium) return;
  rig = await startBrowserRig({ CAIRN_LRS_KEY: 'browser-test-key', CAIRN_LRS_SECRET: 'browser-test-secret-123' });
  admin = await rig.t.login();
  tenantId = (await rig.t.deps.db('users').where({ email: adminEmail }).first()).tenant_id;
}, 120_000);
afterAll(async () => { await rig?.close(); });

async function launchUrl(c: ScormCourse, body: Record<string, unknown> = {}): Promise<{ launch_url: string; registration_id: string; attempt_id: string; attempt_number: number }> {
  const res = await c.learnerAgent.post(`/api/v1/courses/${c.courseId}/items/${c.itemId}/launch`).send(body);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

const sco = (page: Page) => page.frameLocator('#cairn-content');

async function attempt(c: ScormCourse, registrationId: string, attemptId: string) {
  return (await c.learnerAgent.get(`/api/v1/scorm/registrations/${registrationId}/attempts/${attemptId}`)).body;
}

async function statements(registrationId: string): Promise<Array<Record<string, any>>> {
  await rig.t.content.runtime.drain();
  const res = await request(rig.t.app).get('/xapi/statements').query({ registration: registrationId, limit: 200 })
    .set('Authorization', lrsAuth).set('X-Experience-API-Version', '1.0.3');
  expect(res.status, res.text).toBe(200);
  return res.body.statements;
}

describe.skipIf(!haveChromium)('SCORM packages in the real player (Chromium)', () => {
  it('SCORM 1.2 quiz: the SCO reads the learner and manifest values, answers are stored, graded and sent to the LRS', async () => {
    const c = await scormCourse(rig.t, admin, tenantId, 'runtime-scorm12-quiz.zip');
    const launched = await launchUrl(c);
    const context = await rig.newContext();
    const page = await context.newPage();
    await page.goto(launched.launch_url);
    const frame = sco(page);
    await frame.locator('body[data-init="true"]').waitFor();
    const body = frame.locator('body');
    expect(await body.getAttribute('data-student-name')).toBe('Learner, Jane Q');
    expect(await body.getAttribute('data-student-id')).toBe(c.learner.id);
    expect(await body.getAttribute('data-mastery')).toBe('60');
    expect(await body.getAttribute('data-launch-data')).toBe('round=1');
    expect(await body.getAttribute('data-entry')).toBe('ab-initio');
    expect(await body.getAttribute('data-credit')).toBe('credit');
    expect(await body.getAttribute('data-commit')).toBe('true');
    expect(await page.locator('#cairn-toc').isHidden()).toBe(true);

    await frame.locator('input[name=q1][value=a]').check();
    await frame.locator('input[name=q2][value=a]').check();
    await frame.locator('input[name=q3][value=a]').check();
    await frame.locator('#submit').click();
    await frame.locator('body[data-done="67"]').waitFor();

    const done = await eventually(() => attempt(c, launched.registration_id, launched.attempt_id), (a) => a.status === 'ended', 'the attempt to end');
    expect(done).toMatchObject({ completion_status: 'completed', success_status: 'passed', score: { raw: 67, min: 0, max: 100 } });
    expect(done.total_seconds).toBeCloseTo(150, 0);
    const cmi = done.scos[0].cmi;
    expect(cmi.core.lesson_status).toBe('passed');
    expect(Object.values(cmi.interactions).map((i: any) => [i.id, i.student_response, i.result])).toEqual([['q1', 'a', 'correct'], ['q2', 'a', 'wrong'], ['q3', 'a', 'correct']]);

    const scores = await c.instructorAgent.get(`/api/v1/courses/${c.courseId}/scores`);
    expect(scores.body.data.find((s: { user_id: string }) => s.user_id === c.learner.id)).toMatchObject({ score_given: 67, score_maximum: 100, source: 'scorm', activity_progress: 'Completed' });

    const stored = await eventually(() => statements(launched.registration_id), (s) => s.some((x) => x.verb.id.endsWith('/terminated')), 'the terminated statement');
    const verbs = stored.map((s) => s.verb.id.split('/').pop());
    expect(verbs.filter((v) => v === 'answered')).toHaveLength(3);
    for (const v of ['initialized', 'scored', 'passed', 'completed', 'terminated']) expect(verbs, v).toContain(v);
    const answered = stored.find((s) => s.verb.id.endsWith('/answered') && s.object.id.endsWith('/interactions/q2'))!;
    expect(answered.result).toMatchObject({ response: 'a', success: false });
    expect(answered.object.definition).toMatchObject({ interactionType: 'choice', correctResponsesPattern: ['b'] });
    await context.close();
  });

  it('SCORM 2004 sequenced course: precondition disables the quiz until the lesson sets a global objective; flow, rollup, suspend and resume of the activity tree', async () => {
    const c = await scormCourse(rig.t, admin, tenantId, 'runtime-scorm2004-sequenced.zip');
    const first = await launchUrl(c);
    const context = await rig.newContext();
    const page = await context.newPage();
    await page.goto(first.launch_url);
    const frame = sco(page);
    await frame.locator('h1', { hasText: 'Introduction' }).waitFor();
    await frame.locator('body[data-init="true"]').waitFor();
    // Choice is on, but the quiz's precondition (lesson objective not satisfied) disables it.
    await expect.poll(() => page.locator('#cairn-toc button[data-item="QUIZ"]').isDisabled()).toBe(true);
    expect(await page.locator('#cairn-toc button[data-item="LESSON"]').isDisabled()).toBe(false);

    await frame.locator('#next').click();
    await frame.locator('h1', { hasText: 'Lesson' }).waitFor();
    await frame.locator('body[data-init="true"]').waitFor();
    // Leave in the middle: the player suspends the whole activity tree.
    await page.locator('#cairn-suspend').click();
    await page.locator('body[data-ended="suspend"]').waitFor();
    const suspended = await eventually(() => attempt(c, first.registration_id, first.attempt_id), (a) => a.status === 'suspended', 'the attempt to be suspended');
    expect(suspended.sequencing.has_state).toBe(true);
    await page.close();

    // Relaunch: the same attempt; the sequencer resumes at the lesson, not the introduction.
    const second = await launchUrl(c);
    expect(second.attempt_id).toBe(first.attempt_id);
    const page2 = await context.newPage();
    await page2.goto(second.launch_url);
    const frame2 = sco(page2);
    await frame2.locator('h1', { hasText: 'Lesson' }).waitFor();
    await frame2.locator('body[data-init="true"]').waitFor();
    await frame2.locator('#next').click();
    await frame2.locator('h1', { hasText: 'Final quiz' }).waitFor();
    await frame2.locator('body[data-init="true"]').waitFor();
    // The lesson's global objective is satisfied now: the quiz is a valid choice.
    await expect.poll(() => page2.locator('#cairn-toc button[data-item="QUIZ"]').isDisabled()).toBe(false);
    await frame2.locator('#next').click();
    await page2.locator('body[data-ended="exit"]').waitFor();

    const done = await eventually(() => attempt(c, first.registration_id, first.attempt_id), (a) => a.status === 'ended' && a.success_status === 'passed', 'the course to roll up');
    expect(done).toMatchObject({ completion_status: 'completed', success_status: 'passed' });
    expect(done.score.scaled).toBeCloseTo(0.9, 5);
    expect(done.scos.map((s: { item_identifier: string }) => s.item_identifier).sort()).toEqual(['INTRO', 'LESSON', 'QUIZ']);
    expect(done.scos.find((s: { item_identifier: string }) => s.item_identifier === 'QUIZ')).toMatchObject({ success_status: 'passed', completion_status: 'completed' });
    expect(JSON.stringify(done.sequencing.global_objectives)).toContain('urn:cairn:fixture:lesson-mastered');

    const registration = (await c.learnerAgent.get(`/api/v1/scorm/registrations/${first.registration_id}`)).body;
    expect(registration).toMatchObject({ completion_status: 'completed', success_status: 'passed' });
    const scores = await c.instructorAgent.get(`/api/v1/courses/${c.courseId}/scores`);
    expect(scores.body.data.find((s: { user_id: string }) => s.user_id === c.learner.id)).toMatchObject({ score_given: 90, source: 'scorm' });

    const stored = await statements(first.registration_id);
    const about = (verb: string, item: string) => stored.some((s) => s.verb.id.endsWith(`/${verb}`) && s.object.id.endsWith(`/${item}`));
    expect(about('passed', 'LESSON')).toBe(true);
    expect(about('passed', 'QUIZ')).toBe(true);
    expect(about('completed', 'INTRO')).toBe(true);
    expect(about('resumed', 'LESSON') || about('initialized', 'LESSON')).toBe(true);
    expect(stored.some((s) => s.verb.id.endsWith('/answered') && s.object.id.endsWith('/interactions/helmet'))).toBe(true);
    await context.close();
  });

  it('SCORM 1.2 suspend and resume: location and 5,000+ characters of suspend data come back whole; total time adds up', async () => {
    const c = await scormCourse(rig.t, admin, tenantId, 'runtime-scorm12-resume.zip');
    const first = await launchUrl(c);
    const context = await rig.newContext();
    const page = await context.newPage();
    await page.goto(first.launch_url);
    const frame = sco(page);
    await frame.locator('body[data-init="true"]').waitFor();
    expect(await frame.locator('body').getAttribute('data-entry')).toBe('ab-initio');
    await frame.locator('#forward').click();
    await frame.locator('#forward').click();
    await frame.locator('#leave').click();
    await frame.locator('body[data-left="true"]').waitFor();
    const suspended = await eventually(() => attempt(c, first.registration_id, first.attempt_id), (a) => a.status === 'suspended', 'the suspend');
    expect(suspended.scos[0].suspend_data_length).toBeGreaterThan(5000);
    await page.close();

    const second = await launchUrl(c);
    expect(second.attempt_id).toBe(first.attempt_id);
    const page2 = await context.newPage();
    await page2.goto(second.launch_url);
    const frame2 = sco(page2);
    await frame2.locator('body[data-init="true"]').waitFor();
    const body = frame2.locator('body');
    expect(await body.getAttribute('data-entry')).toBe('resume');
    expect(await body.getAttribute('data-location')).toBe('3');
    expect(await body.getAttribute('data-suspend-intact')).toBe('true');
    expect(Number(await body.getAttribute('data-suspend-length'))).toBe(5007);
    // scorm-again normalizes the 0000:01:00.00 Cairn loaded to HH:MM:SS.
    expect(await body.getAttribute('data-total-time')).toBe('00:01:00');
    expect(await frame2.locator('#page').textContent()).toBe('3');
    await frame2.locator('#done').click();
    const done = await eventually(() => attempt(c, first.registration_id, first.attempt_id), (a) => a.status === 'ended', 'the attempt to end');
    expect(done).toMatchObject({ completion_status: 'completed', total_seconds: 180 });
    const history = await c.learnerAgent.get(`/api/v1/scorm/registrations/${first.registration_id}/attempts/${first.attempt_id}/commits`);
    expect(history.body.data.some((h: { warnings: string[] }) => h.warnings.some((w) => w.includes('4096')))).toBe(true);
    await context.close();
  });

  it('a player whose attempt has ended gives the SCO an Initialize that fails with the SCORM error', async () => {
    const c = await scormCourse(rig.t, admin, tenantId, 'runtime-scorm12-quiz.zip');
    const launched = await launchUrl(c);
    const context = await rig.newContext();
    const page = await context.newPage();
    await page.goto(launched.launch_url);
    await sco(page).locator('body[data-init="true"]').waitFor();
    // The learner starts over elsewhere: this player's attempt ends.
    await launchUrl(c, { new_attempt: true });
    // The learner reopens the SCO from the old player's table of contents (hidden for one SCO).
    await page.locator('#cairn-toc button[data-item="QUIZ"]').dispatchEvent('click');
    await sco(page).locator('body[data-init="false"]').waitFor();
    expect(await sco(page).locator('body').getAttribute('data-init-error')).toBe('101');
    expect(await page.locator('#cairn-status').textContent()).toContain('no longer valid');
    await context.close();
  });

  it('script inside a package cannot reach the admin API or the console cookies', async () => {
    const c = await scormCourse(rig.t, admin, tenantId, 'runtime-scorm12-quiz.zip');
    const launched = await launchUrl(c);
    const context = await rig.newContext();
    // The admin is logged into the console in the same browser.
    const login = await context.request.post(`${rig.mainUrl}/api/v1/auth/login`, { data: { email: adminEmail, password: adminPassword } });
    expect(login.status()).toBe(200);
    expect((await context.request.get(`${rig.mainUrl}/api/v1/users`)).status()).toBe(200);
    expect((await context.cookies(rig.mainUrl)).length).toBeGreaterThan(0);

    const page = await context.newPage();
    await page.goto(launched.launch_url);
    await sco(page).locator('body[data-init="true"]').waitFor();
    const frame = page.frames().find((f) => f.url().includes('/quiz.html'))!;
    const probe = await frame.evaluate(async (main) => {
      const attempt = async (run: () => Promise<Response>) => {
        try {
          const res = await run();
          return `status ${res.status} ${res.type}`;
        } catch (error) {
          return `blocked: ${(error as Error).name}`;
        }
      };
      const g = globalThis as unknown as { document: { cookie: string }; top: { document: { cookie: string } } };
      return {
        cookie: g.document.cookie,
        topCookie: g.top.document.cookie,
        read: await attempt(() => fetch(`${main}/api/v1/users`, { credentials: 'include' })),
        write: await attempt(() => fetch(`${main}/api/v1/users`, {
          method: 'POST', credentials: 'include', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' },
          body: JSON.stringify({ email: 'planted@evil.example', password: 'a long enough password 123', role: 'admin', name: 'x' }),
        })),
        xapi: await attempt(() => fetch(`${main}/xapi/statements`, { credentials: 'include' })),
      };
    }, rig.mainUrl);
    expect(probe.cookie).toBe('');
    expect(probe.topCookie).toBe('');
    expect(probe.read).toMatch(/^blocked/);
    expect(probe.write).toMatch(/^blocked/);
    expect(probe.xapi).toMatch(/^blocked/);
    expect(await rig.t.deps.db('users').where({ email: 'planted@evil.example' }).first()).toBeUndefined();
    // The content origin never set a cookie of its own either.
    expect(await context.cookies(rig.contentUrl)).toEqual([]);
    await context.close();
  });
});
