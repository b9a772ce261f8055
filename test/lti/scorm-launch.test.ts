import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importFixture, openPlayer } from '../scorm/runtime-support.js';
import { instructor, lastLaunch, roles, runLaunch, setupLti, type LtiFixture } from './support.js';

let fx: LtiFixture;
let packageId: string;
beforeAll(async () => {
  fx = await setupLti();
  const tenant = await fx.t.deps.db('tenants').where({ slug: 'default' }).first();
  packageId = await importFixture(fx.t, tenant.id, 'runtime-scorm12-quiz.zip');
  fx.platform.links.set('scorm-link', { resourceLink: { id: 'rl-scorm', title: 'Quiz from Cairn' }, custom: { cairn_package_id: packageId } });
});
afterAll(async () => {
  await fx?.close();
});

describe('LTI launch of a SCORM item: the item opens in the SCORM player on the content origin', () => {
  it('a learner\'s launch of a link naming a package creates the course item and redirects to the player with a launch token', async () => {
    const flow = await runLaunch(fx, { messageHint: 'scorm-link' });
    expect(flow.launch.status, flow.launch.text).toBe(303);
    const location = flow.launch.headers['location'] as string;
    expect(location.startsWith(`${fx.t.deps.config.contentUrl}/play/`)).toBe(true);

    const link = await fx.t.deps.db('lti_resource_links').where({ resource_link_id: 'rl-scorm' }).first();
    const item = await fx.t.deps.db('course_items').where({ id: link.course_item_id }).first();
    expect(item).toMatchObject({ kind: 'scorm', title: 'Quiz from Cairn', course_id: link.course_id });
    const pkg = await fx.t.deps.db('scorm_packages').where({ id: packageId }).first();
    expect(item.ref_id).toBe(pkg.lineage_id);

    const identity = await fx.t.deps.db('user_identities').where({ subject: 'u-learner-1' }).first();
    const registration = await fx.t.deps.db('scorm_registrations').where({ course_item_id: item.id, user_id: identity.user_id }).first();
    expect(registration).toMatchObject({ preview: false });
    expect(await lastLaunch(fx)).toMatchObject({ outcome: 'success', course_item_id: item.id, user_id: identity.user_id });

    // The player works from the launch token alone: no Cairn cookie travels to the content origin.
    const player = await openPlayer(fx.t, location);
    expect(player.html).toContain('cairn-player-config');

    // A second launch reuses the item and the registration.
    const again = await runLaunch(fx, { messageHint: 'scorm-link' });
    expect((again.launch.headers['location'] as string).startsWith(`${fx.t.deps.config.contentUrl}/play/`)).toBe(true);
    expect(await fx.t.deps.db('course_items').where({ course_id: link.course_id, kind: 'scorm' }).count<{ count: string }[]>('* as count')).toEqual([{ count: '1' }]);
    expect(await fx.t.deps.db('scorm_registrations').where({ course_item_id: item.id, user_id: identity.user_id }).count<{ count: string }[]>('* as count')).toEqual([{ count: '1' }]);
  });

  it('an instructor\'s launch opens the player in preview (no credit)', async () => {
    const flow = await runLaunch(fx, { loginHint: 'teacher-hint', messageHint: 'scorm-link' });
    expect((flow.launch.headers['location'] as string).startsWith(`${fx.t.deps.config.contentUrl}/play/`)).toBe(true);
    const identity = await fx.t.deps.db('user_identities').where({ subject: instructor.sub }).first();
    const registration = await fx.t.deps.db('scorm_registrations').where({ user_id: identity.user_id }).first();
    expect(registration.preview).toBe(true);
  });

  it('when the SCORM item cannot open for this user (an observer), the launch still succeeds and lands on the course page', async () => {
    fx.platform.users.set('mentor-hint', { sub: 'u-mentor', name: 'Parent', roles: [roles.mentor] });
    const flow = await runLaunch(fx, { loginHint: 'mentor-hint', messageHint: 'scorm-link' });
    expect(flow.launch.status).toBe(303);
    const location = flow.launch.headers['location'] as string;
    expect(location.startsWith(`${fx.t.deps.config.publicUrl}/lti/course/`)).toBe(true);
    const page = await fx.t.agent().get(new URL(location).pathname);
    expect(page.text).toContain('Quiz from Cairn');
    expect((await lastLaunch(fx))['outcome']).toBe('success');
  });
});
