import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, enroll } from '../support/api.js';
import { instructor, learner, roles, runLaunch } from './support.js';
import { eventually, setupAdvantage, type AdvantageFixture } from './platform/advantage-fixture.js';
import { scopes, type Member } from './platform/services.js';

/**
 * Names and Role Provisioning Services 2.0 from the tool side: roster syncs of a launched
 * context into Cairn enrollments, across Link-paged membership containers, on a stale launch
 * and on an administrator's request, run as jobs.
 */
let fx: AdvantageFixture;
const context = 'bio101';
const db = () => fx.t.deps.db;
let contextRowId: string;
let courseId: string;
/** The admin's session; renewed after the clock jumps past its idle timeout. */
let admin: AdvantageFixture['admin'];

const full = {
  instructor: roles.instructor,
  ta: roles.ta,
};

function roster(members: Member[]): void {
  fx.services.rosters.set(context, { contextId: 'course-1', members });
}

const baseRoster = (): Member[] => [
  { user_id: instructor.sub, roles: [full.instructor], name: instructor.name!, email: instructor.email! },
  { user_id: learner.sub, roles: ['Learner'], status: 'Active', name: learner.name!, email: learner.email! },
  { user_id: 'm-ada', roles: ['Learner'], name: 'Ada Lovelace', given_name: 'Ada', family_name: 'Lovelace', email: 'ada@school.example' },
  { user_id: 'm-grace', roles: [full.instructor, full.ta], name: 'Grace Hopper', email: 'grace@school.example' },
  { user_id: 'm-parent', roles: ['Mentor'], name: 'A Parent' },
  { user_id: 'm-gone', roles: ['Learner'], status: 'Inactive', name: 'Never Here' },
  { user_id: 'm-legacy', roles: ['urn:lti:role:ims/lis/Learner'] },
];

async function launch(loginHint = 'learner-hint') {
  const flow = await runLaunch(fx, { loginHint, messageHint: 'roster-link', tweak: { claims: fx.services.serviceClaims(context, { ags: false }) } });
  expect(flow.launch.status, flow.launch.text).toBe(303);
  return flow;
}

async function syncs(): Promise<Record<string, unknown>[]> {
  const res = await admin.get('/api/v1/lti/roster-syncs').query({ context_id: contextRowId });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data as Record<string, unknown>[];
}

async function finished(id: string): Promise<Record<string, unknown>> {
  return eventually(`sync ${id} to finish`, async () => {
    const res = await admin.get(`/api/v1/lti/roster-syncs/${id}`);
    return res.body.status === 'succeeded' || res.body.status === 'failed' ? (res.body as Record<string, unknown>) : undefined;
  });
}

async function enrollmentOf(sub: string): Promise<{ role: string; status: string; source: string; user_id: string } | undefined> {
  const identity = await db()('user_identities').where({ issuer: fx.platform.issuer, subject: sub }).first();
  if (!identity) return undefined;
  return db()('enrollments').where({ course_id: courseId, user_id: identity.user_id }).first();
}

beforeAll(async () => {
  fx = await setupAdvantage({ env: { CAIRN_LTI_ROSTER_MAX_AGE_MINUTES: '60' } });
  admin = fx.admin;
  roster(baseRoster());
}, 60_000);
afterAll(async () => {
  await fx?.close();
});

describe('NRPS roster sync', () => {
  it('the first launch of a context queues a sync (a job, not inline) that follows every page and maps members into users and enrollments', async () => {
    await launch();
    const contextRow = await db()('course_contexts').where({ context_id: 'course-1' }).first();
    contextRowId = contextRow.id;
    courseId = contextRow.course_id;
    const [queued] = await syncs();
    expect(queued).toMatchObject({ trigger: 'launch', context_id: contextRowId, course_id: courseId });
    const done = await finished(queued!['id'] as string);
    // Everyone but the learner who launched is new to Cairn; the Inactive stranger is not created.
    expect(done).toMatchObject({ status: 'succeeded', pages: 3, members: 7, users_created: 5, enrollments_added: 5, error: null });

    // Three pages of three, each fetched with a bearer token for the membership scope.
    const requests = fx.services.membershipRequests;
    expect(requests).toHaveLength(3);
    expect(requests[0]!.url).toContain('limit=100');
    expect(requests.slice(1).map((r) => new URL(r.url, fx.services.baseUrl).searchParams.get('page'))).toEqual(['2', '3']);
    expect(fx.services.tokens.get(requests[0]!.token)!.scopes).toEqual([scopes.nrps]);

    expect(await enrollmentOf(learner.sub)).toMatchObject({ role: 'learner', status: 'active', source: 'lti' });
    expect(await enrollmentOf(instructor.sub)).toMatchObject({ role: 'instructor', status: 'active', source: 'lti' });
    expect(await enrollmentOf('m-grace')).toMatchObject({ role: 'teaching_assistant', status: 'active' });
    expect(await enrollmentOf('m-parent')).toMatchObject({ role: 'observer', status: 'active' });
    expect(await enrollmentOf('m-legacy')).toMatchObject({ role: 'learner', status: 'active' });
    // An Inactive member Cairn never saw is not created.
    expect(await db()('user_identities').where({ subject: 'm-gone' }).first()).toBeUndefined();

    const ada = await db()('user_identities as i').join('users as u', 'u.id', 'i.user_id').where({ 'i.subject': 'm-ada' }).first('u.email', 'u.name', 'u.role', 'i.given_name', 'i.family_name');
    expect(ada).toEqual({ email: 'ada@school.example', name: 'Ada Lovelace', role: 'learner', given_name: 'Ada', family_name: 'Lovelace' });
    const grace = await db()('user_identities as i').join('users as u', 'u.id', 'i.user_id').where({ 'i.subject': 'm-grace' }).first('u.role');
    expect(grace.role).toBe('instructor');
    const legacy = await db()('user_identities as i').join('users as u', 'u.id', 'i.user_id').where({ 'i.subject': 'm-legacy' }).first('u.email');
    expect(legacy.email).toMatch(/^lti-[0-9a-f]{24}@lti\.invalid$/);

    const contexts = await admin.get('/api/v1/lti/contexts');
    expect(contexts.body.data.find((c: { id: string }) => c.id === contextRowId)).toMatchObject({
      memberships_url: fx.services.membershipsUrl(context), last_sync: { id: queued!['id'], status: 'succeeded' },
    });
    expect(contexts.body.data.find((c: { id: string }) => c.id === contextRowId).roster_synced_at).not.toBeNull();
  });

  it('launches while the roster is fresh queue nothing', async () => {
    const before = (await syncs()).length;
    await launch('teacher-hint');
    await launch();
    expect(await syncs()).toHaveLength(before);
  });

  it('an administrator\'s sync applies changes: a removed member and a Deleted one become inactive, a role changes, hand-made enrollments stay', async () => {
    const manual = await createUser(fx.admin, 'learner', { name: 'Hand Enrolled' });
    await enroll(fx.admin, courseId, manual.id, 'learner');
    roster(baseRoster()
      .filter((m) => m.user_id !== 'm-ada')
      .map((m) => (m.user_id === 'm-grace' ? { ...m, status: 'Deleted' as const } : m.user_id === 'm-parent' ? { ...m, roles: ['http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'] } : m)));
    const res = await admin.post(`/api/v1/lti/contexts/${contextRowId}/roster-syncs`);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body).toMatchObject({ trigger: 'admin', status: 'queued' });
    const done = await finished(res.body.id);
    expect(done).toMatchObject({ status: 'succeeded', members: 6, users_created: 0, enrollments_added: 0, enrollments_updated: 1, enrollments_deactivated: 2 });
    expect(await enrollmentOf('m-ada')).toMatchObject({ status: 'inactive', source: 'lti' });
    expect(await enrollmentOf('m-grace')).toMatchObject({ status: 'inactive' });
    expect(await enrollmentOf('m-parent')).toMatchObject({ role: 'learner', status: 'active' });
    expect(await db()('enrollments').where({ course_id: courseId, user_id: manual.id }).first()).toMatchObject({ status: 'active', source: 'manual' });

    // Back in the roster: active again.
    roster(baseRoster());
    const again = await admin.post(`/api/v1/lti/contexts/${contextRowId}/roster-syncs`);
    expect(await finished(again.body.id)).toMatchObject({ status: 'succeeded', enrollments_updated: 3 });
    expect(await enrollmentOf('m-ada')).toMatchObject({ status: 'active', role: 'learner' });
    expect(await enrollmentOf('m-grace')).toMatchObject({ status: 'active', role: 'teaching_assistant' });
  });

  it('a launch after the roster went stale queues a new sync', async () => {
    const before = await syncs();
    fx.t.clock.advance(61 * 60_000);
    admin = await fx.t.login();
    await launch();
    const after = await syncs();
    expect(after).toHaveLength(before.length + 1);
    expect(after[0]).toMatchObject({ trigger: 'launch' });
    expect(await finished(after[0]!['id'] as string)).toMatchObject({ status: 'succeeded' });
    // The next launch finds it fresh again.
    await launch();
    expect(await syncs()).toHaveLength(before.length + 1);
  });

  it('a 5xx is retried by the job; a refusal fails the sync with the platform\'s status and answer, changing nothing', async () => {
    let calls = 0;
    fx.services.membershipHook = ({ page }) => (page === 1 && ++calls === 1 ? { status: 502, body: { error: 'gateway' } } : undefined);
    try {
      const retried = await admin.post(`/api/v1/lti/contexts/${contextRowId}/roster-syncs`);
      expect(await finished(retried.body.id)).toMatchObject({ status: 'succeeded', attempts: 2 });
    } finally {
      fx.services.membershipHook = undefined;
    }

    roster([]);
    fx.services.membershipHook = () => ({ status: 403, body: { error: 'This tool may not read the roster' } });
    try {
      const refused = await admin.post(`/api/v1/lti/contexts/${contextRowId}/roster-syncs`);
      const done = await finished(refused.body.id);
      expect(done).toMatchObject({ status: 'failed', http_status: 403, attempts: 1 });
      expect(done['error']).toContain('may not read the roster');
      // Nothing was deactivated by a roster that never arrived.
      expect(await enrollmentOf(learner.sub)).toMatchObject({ status: 'active' });
    } finally {
      fx.services.membershipHook = undefined;
      roster(baseRoster());
    }
  });

  it('an empty membership for a course with LTI enrollments fails the sync and deactivates nobody', async () => {
    roster([]);
    try {
      const res = await admin.post(`/api/v1/lti/contexts/${contextRowId}/roster-syncs`);
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      const done = await finished(res.body.id);
      expect(done).toMatchObject({ status: 'failed', attempts: 1 });
      expect(done['error']).toContain('empty membership');
      expect(await enrollmentOf(learner.sub)).toMatchObject({ status: 'active' });
    } finally {
      roster(baseRoster());
    }
  });

  it('a membership container about another context is refused', async () => {
    fx.services.rosters.set(context, { contextId: 'some-other-course', members: [] });
    try {
      const res = await admin.post(`/api/v1/lti/contexts/${contextRowId}/roster-syncs`);
      const done = await finished(res.body.id);
      expect(done).toMatchObject({ status: 'failed' });
      expect(done['error']).toContain('some-other-course');
      expect(await enrollmentOf(learner.sub)).toMatchObject({ status: 'active' });
    } finally {
      roster(baseRoster());
    }
  });

  it('a context whose launches never carried the NRPS claim cannot be synced (409), and an unknown one is 404', async () => {
    fx.platform.links.set('other-course', { resourceLink: { id: 'rl-other' }, context: { id: 'course-2', title: 'Chemistry' } });
    const flow = await runLaunch(fx, { messageHint: 'other-course', tweak: { claims: fx.services.serviceClaims(context, { ags: false, nrps: false }) } });
    expect(flow.launch.status).toBe(303);
    const other = await db()('course_contexts').where({ context_id: 'course-2' }).first();
    expect((await admin.post(`/api/v1/lti/contexts/${other.id}/roster-syncs`)).status).toBe(409);
    expect((await admin.post('/api/v1/lti/contexts/00000000-0000-4000-8000-000000000000/roster-syncs')).status).toBe(404);
  });
});
