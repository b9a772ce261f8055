import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeProtectedHeader } from 'jose';
import { importFixture } from '../scorm/runtime-support.js';
import { lastLaunch, learner, runLaunch } from './support.js';
import { postToPlatform, responseForm, setupAdvantage, type AdvantageFixture } from './platform/advantage-fixture.js';

/**
 * Deep Linking 2.0 round trip against the test platform: an instructor's LtiDeepLinkingRequest
 * → Cairn's picker (server-rendered, inside the LMS frame, no cookies) → selection → an
 * auto-posted LtiDeepLinkingResponse that the platform verifies with Cairn's JWKS.
 */
let fx: AdvantageFixture;
let packageId: string;
let lineageId: string;
let packageTitle: string;
let courseId: string;
let existingItemId: string;

const dl = (name: string) => `https://purl.imsglobal.org/spec/lti-dl/claim/${name}`;
const db = () => fx.t.deps.db;

beforeAll(async () => {
  fx = await setupAdvantage();
  packageId = await importFixture(fx.t, fx.tenantId, 'runtime-scorm12-quiz.zip');
  const pkg = await db()('scorm_packages').where({ id: packageId }).first();
  lineageId = pkg.lineage_id;
  packageTitle = pkg.title;
  // A first launch creates the course; an existing activity with a graded line item lives in it.
  const first = await runLaunch(fx, { loginHint: 'teacher-hint', messageHint: 'setup', tweak: { claims: fx.services.serviceClaims('dl', { ags: false, nrps: false }) } });
  expect(first.launch.status, first.launch.text).toBe(303);
  courseId = (await db()('course_contexts').where({ context_id: 'course-1' }).first()).course_id;
  const item = await fx.admin.post(`/api/v1/courses/${courseId}/items`).send({ kind: 'xapi_activity', title: 'Field journal', activity_id: 'https://example.org/activities/journal' });
  expect(item.status, JSON.stringify(item.body)).toBe(201);
  existingItemId = item.body.id;
  const lineItem = await fx.admin.post(`/api/v1/courses/${courseId}/line-items`).send({
    label: 'Journal grade', score_maximum: 20, course_item_id: existingItemId, tag: 'journal',
    start_at: '2026-12-01T00:00:00.000Z', end_at: '2026-12-15T23:59:00.000Z',
  });
  expect(lineItem.status, JSON.stringify(lineItem.body)).toBe(201);
}, 60_000);
afterAll(async () => {
  await fx?.close();
});

/** An instructor's deep-linking launch: the picker's path (with its token). */
async function openPicker(settings: Record<string, unknown> = {}, loginHint = 'teacher-hint'): Promise<string> {
  const flow = await runLaunch(fx, { loginHint, messageHint: 'dl', tweak: fx.services.deepLinkingTweak(settings, fx.services.serviceClaims('dl', { ags: false, nrps: false })) });
  expect(flow.launch.status, flow.launch.text).toBe(303);
  const location = new URL(flow.launch.headers['location'] as string);
  expect(location.origin).toBe(new URL(fx.t.deps.config.publicUrl).origin);
  expect(location.pathname).toMatch(/^\/lti\/deep-linking\/[A-Za-z0-9_-]{40,}$/);
  return location.pathname;
}

/** A browser without Cairn cookies (an LMS iframe) submits the picker form. */
function submit(path: string, fields: [string, string][]) {
  return fx.t.agent().post(path).type('form').send(new URLSearchParams(fields).toString());
}

async function returned(html: string) {
  const form = responseForm(html);
  const before = fx.services.deepLinkReturns.length;
  const answer = await postToPlatform(form);
  expect(answer.status, await answer.clone().text()).toBe(200);
  const received = fx.services.deepLinkReturns[before]!;
  expect(received.verified, received.error).toBe(true);
  return { form, received, payload: received.payload };
}

describe('Deep Linking: picker → selection → signed LtiDeepLinkingResponse', () => {
  it('an instructor gets a frameable, script-free picker listing ready packages and the course\'s activities, reachable without cookies', async () => {
    const path = await openPicker();
    const page = await fx.t.agent().get(path);
    expect(page.status).toBe(200);
    expect(page.text).toContain(packageTitle);
    expect(page.text).toContain(`value="package:${lineageId}"`);
    expect(page.text).toContain(`value="item:${existingItemId}"`);
    expect(page.text).toContain('Field journal');
    expect(page.text).toMatch(/type="checkbox" name="choice"/);
    expect(page.text).not.toMatch(/<script(?![^>]*src=)/);
    expect(page.headers['x-frame-options']).toBeUndefined();
    expect(page.headers['content-security-policy']).toContain('frame-ancestors *');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    // The title search narrows both lists.
    const searched = await fx.t.agent().get(path).query({ q: 'journal' });
    expect(searched.text).toContain('Field journal');
    expect(searched.text).not.toContain(`value="package:${lineageId}"`);
    expect((await lastLaunch(fx))).toMatchObject({ outcome: 'success', message_type: 'LtiDeepLinkingRequest' });
  });

  it('several choices come back as ltiResourceLinks with Cairn\'s launch URL, custom parameters, line items, windows and the echoed data, signed with Cairn\'s current key', async () => {
    const path = await openPicker({ data: 'opaque-platform-data-42' });
    const itemsBefore = await db()('course_items').where({ course_id: courseId }).count<{ count: string }[]>('* as count');
    const res = await submit(path, [['choice', `package:${lineageId}`], ['choice', `item:${existingItemId}`], ['graded', '1'], ['action', 'select']]);
    expect(res.status, res.text).toBe(200);
    expect(res.text).toContain('src="/lti/assets/autopost.js"');
    expect(res.headers['content-security-policy']).toContain(`form-action 'self' ${fx.services.baseUrl}`);
    const { form, payload } = await returned(res.text);
    expect(form.action).toBe(fx.services.deepLinkReturnUrl);

    const keys = await fx.t.agent().get('/.well-known/jwks.json');
    const header = decodeProtectedHeader(form.jwt);
    expect(header).toMatchObject({ alg: 'RS256', kid: keys.body.keys[0].kid });
    expect(payload).toMatchObject({
      iss: fx.platform.clientId, aud: fx.platform.issuer,
      'https://purl.imsglobal.org/spec/lti/claim/message_type': 'LtiDeepLinkingResponse',
      'https://purl.imsglobal.org/spec/lti/claim/version': '1.3.0',
      'https://purl.imsglobal.org/spec/lti/claim/deployment_id': fx.platform.deploymentId,
      [dl('data')]: 'opaque-platform-data-42',
    });
    expect(typeof payload['nonce']).toBe('string');

    // auto_create: the package became a course item, named by the link's custom parameter.
    const itemsAfter = await db()('course_items').where({ course_id: courseId }).count<{ count: string }[]>('* as count');
    expect(Number(itemsAfter[0]!.count)).toBe(Number(itemsBefore[0]!.count) + 1);
    const created = await db()('course_items').where({ course_id: courseId, kind: 'scorm', ref_id: lineageId }).orderBy('created_at', 'desc').first();
    const items = payload[dl('content_items')] as Record<string, unknown>[];
    expect(items).toHaveLength(2);
    expect(items[0]).toEqual({
      type: 'ltiResourceLink', title: packageTitle, url: `${fx.t.deps.config.publicUrl}/lti/launch`,
      custom: { cairn_item_id: created.id }, iframe: { width: 1024, height: 768 },
      lineItem: { scoreMaximum: 100, label: packageTitle, resourceId: created.id, tag: 'scorm' },
    });
    expect(items[1]).toMatchObject({
      type: 'ltiResourceLink', title: 'Field journal', custom: { cairn_item_id: existingItemId },
      lineItem: { scoreMaximum: 20, label: 'Journal grade', resourceId: existingItemId, tag: 'journal' },
      submission: { startDateTime: '2026-12-01T00:00:00.000Z', endDateTime: '2026-12-15T23:59:00.000Z' },
    });

    // The platform's new link launches the chosen item: the custom parameter maps it.
    fx.platform.links.set('from-dl', { resourceLink: { id: 'rl-from-dl', title: 'Quiz' }, custom: items[1]!['custom'] as Record<string, string> });
    const launch = await runLaunch(fx, { messageHint: 'from-dl', tweak: { claims: fx.services.serviceClaims('dl', { ags: false, nrps: false }) } });
    expect(launch.launch.status).toBe(303);
    expect(await db()('lti_resource_links').where({ resource_link_id: 'rl-from-dl' }).first()).toMatchObject({ course_item_id: existingItemId });

    // The picker link is spent: reloading it, or submitting again, creates nothing more.
    expect((await fx.t.agent().get(path)).status).toBe(410);
    expect((await submit(path, [['choice', `package:${lineageId}`], ['action', 'select']])).status).toBe(410);
  });

  it('without graded the links carry no lineItem; with accept_lineitem false the picker does not offer one', async () => {
    const path = await openPicker();
    const { payload } = await returned((await submit(path, [['choice', `item:${existingItemId}`], ['action', 'select']])).text);
    expect((payload[dl('content_items')] as Record<string, unknown>[])[0]).not.toHaveProperty('lineItem');

    const noLineItems = await openPicker({ accept_lineitem: false });
    expect((await fx.t.agent().get(noLineItems)).text).not.toContain('name="graded"');
    const again = await returned((await submit(noLineItems, [['choice', `item:${existingItemId}`], ['graded', '1'], ['action', 'select']])).text);
    expect((again.payload[dl('content_items')] as Record<string, unknown>[])[0]).not.toHaveProperty('lineItem');
  });

  it.each([['false', false], ['absent (the spec gives no default)', undefined]])('accept_multiple %s: one radio choice; two choices are refused on the picker and the request stays usable', async (_label, acceptMultiple) => {
    const path = await openPicker({ accept_multiple: acceptMultiple, accept_presentation_document_targets: ['window'] });
    const page = await fx.t.agent().get(path);
    expect(page.text).toMatch(/type="radio" name="choice"/);
    expect(page.text).not.toMatch(/type="checkbox" name="choice"/);
    const refused = await submit(path, [['choice', `package:${lineageId}`], ['choice', `item:${existingItemId}`], ['action', 'select']]);
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('accepts one activity here');
    const none = await submit(path, [['action', 'select']]);
    expect(none.status).toBe(400);
    expect(none.text).toContain('Choose at least one');
    const { payload } = await returned((await submit(path, [['choice', `item:${existingItemId}`], ['action', 'select']])).text);
    const items = payload[dl('content_items')] as Record<string, unknown>[];
    expect(items).toHaveLength(1);
    // Only `window` is accepted: the link asks for a new window, not a frame.
    expect(items[0]).toMatchObject({ window: { targetName: 'cairn' } });
    expect(items[0]).not.toHaveProperty('iframe');
  });

  it('auto_create false: a package is returned by its lineage, and no course item exists until the first launch', async () => {
    const before = await db()('course_items').where({ course_id: courseId }).count<{ count: string }[]>('* as count');
    const path = await openPicker({ auto_create: false });
    const { payload } = await returned((await submit(path, [['choice', `package:${lineageId}`], ['graded', '1'], ['action', 'select']])).text);
    const item = (payload[dl('content_items')] as Record<string, unknown>[])[0]!;
    expect(item['custom']).toEqual({ cairn_package_id: lineageId });
    expect(item['lineItem']).toMatchObject({ resourceId: lineageId, scoreMaximum: 100 });
    expect(await db()('course_items').where({ course_id: courseId }).count<{ count: string }[]>('* as count')).toEqual(before);
  });

  it('cancel returns an empty content_items response with a message', async () => {
    const path = await openPicker({ data: 'keep-me' });
    const { payload } = await returned((await submit(path, [['choice', `package:${lineageId}`], ['action', 'cancel']])).text);
    expect(payload[dl('content_items')]).toEqual([]);
    expect(payload[dl('msg')]).toBe('No Cairn content was added.');
    expect(payload[dl('data')]).toBe('keep-me');
    expect(payload).not.toHaveProperty(dl('errormsg'));
  });

  it('a placement that does not accept ltiResourceLink is told so: the picker explains, and the return carries an errormsg and no items', async () => {
    const path = await openPicker({ accept_types: ['link', 'file'] });
    const page = await fx.t.agent().get(path);
    expect(page.text).toContain('Cairn activities are LTI resource links');
    expect(page.text).not.toContain('name="choice"');
    const { payload } = await returned((await submit(path, [['choice', `package:${lineageId}`], ['action', 'select']])).text);
    expect(payload[dl('content_items')]).toEqual([]);
    expect(payload[dl('errormsg')]).toMatch(/only add activities/);
  });

  it('a learner cannot pick content: straight back to the platform with an errormsg', async () => {
    const flow = await runLaunch(fx, { loginHint: 'learner-hint', messageHint: 'dl', tweak: fx.services.deepLinkingTweak({}, fx.services.serviceClaims('dl', { ags: false, nrps: false })) });
    expect(flow.launch.status).toBe(200);
    const { payload } = await returned(flow.launch.text);
    expect(payload[dl('content_items')]).toEqual([]);
    expect(payload[dl('errormsg')]).toMatch(/Only instructors/);
    expect(payload['iss']).toBe(fx.platform.clientId);
    // No picker request was kept for the learner.
    const learnerUser = await db()('user_identities').where({ subject: learner.sub }).first();
    expect(await db()('lti_deep_link_requests').where({ user_id: learnerUser.user_id }).first()).toBeUndefined();
  });

  it('a damaged or unknown picker token gets the expired page, not an error', async () => {
    expect((await fx.t.agent().get('/lti/deep-linking/not-a-real-token-at-all-xxxxxxxx')).status).toBe(410);
    expect((await submit('/lti/deep-linking/x', [['action', 'cancel']])).status).toBe(410);
  });
});
