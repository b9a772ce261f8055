import type { Queryable } from '../../db/index.js';
import { AppError, notFound } from '../../errors/index.js';
import type { Principal } from '../../auth/principal.js';
import { courseAccess } from '../../courses/service.js';
import { findCourseItem } from '../../courses/repository.js';
import { latestReadyVersion } from '../packages/repository.js';
import * as repo from '../runtime/repository.js';
import type { LessonMode, RuntimeTokens } from './tokens.js';

export interface LaunchResult {
  readonly launchUrl: string;
  readonly expiresAt: Date;
  readonly registration: repo.RegistrationRow;
  readonly attempt: repo.AttemptRow;
  readonly mode: LessonMode;
  readonly newAttempt: boolean;
}

/**
 * Launching a course item of kind `scorm`: the learner's registration (created at first launch,
 * pinned to the package version in force then), the attempt to play (a new one when the last
 * has ended or the learner asks for one), and a launch URL on the content origin.
 *
 * Active learners play for credit. Instructors, teaching assistants and admins preview: a
 * registration of their own in browse mode, without credit, never graded.
 */
export async function launchItem(db: Queryable, tokens: RuntimeTokens, contentUrl: string, principal: Principal, courseId: string, itemId: string, options: { newAttempt: boolean }, now: Date): Promise<LaunchResult> {
  const access = await courseAccess(db, principal, courseId, 'view');
  const item = await findCourseItem(db, courseId, itemId);
  if (!item || (!item.published && !access.canGrade)) throw notFound('Course item');
  if (item.kind !== 'scorm') throw new AppError('conflict', 'Only course items of kind scorm are launched here.');
  const preview = access.canGrade;
  if (!preview && access.enrollment?.role !== 'learner') throw new AppError('forbidden', 'Only the course\'s learners play SCORM items for credit; observers cannot launch them.');

  let registration = await repo.findRegistrationFor(db, item.id, principal.userId);
  if (!registration) {
    if (!item.ref_id) throw new AppError('conflict', 'This item has no SCORM package yet (ref_id is empty).');
    const pkg = await latestReadyVersion(db, principal.tenantId, item.ref_id);
    if (!pkg || !pkg.model) throw new AppError('conflict', 'The item\'s package has no ready version to launch.');
    registration = await repo.insertRegistration(db, {
      tenant_id: principal.tenantId, course_id: courseId, course_item_id: item.id, user_id: principal.userId, package_id: pkg.id, preview,
    }, now);
  }
  registration = (await repo.lockRegistration(db, registration.id))!;

  let attempt = await repo.latestAttempt(db, registration.id);
  let newAttempt = false;
  if (!attempt || attempt.status === 'ended' || options.newAttempt) {
    if (attempt && attempt.status !== 'ended') await repo.updateAttempt(db, attempt.id, { status: 'ended', ended_at: now });
    attempt = await repo.insertAttempt(db, { tenantId: principal.tenantId, registrationId: registration.id, number: (attempt?.number ?? 0) + 1 }, now);
    await repo.clearSequencingState(db, registration.id, now);
    newAttempt = true;
  }
  await repo.updateRegistration(db, registration.id, {
    attempt_count: attempt.number,
    last_launched_at: now,
    ...(registration.first_launched_at ? {} : { first_launched_at: now }),
  }, now);

  const pkgVersion = await db('scorm_packages').where({ id: registration.package_id }).select('scorm_version').first() as { scorm_version: string | null } | undefined;
  const mode: LessonMode = preview ? 'browse' : 'normal';
  const { token, expiresAt } = await tokens.sign({
    use: 'launch', tenantId: principal.tenantId, registrationId: registration.id, attemptId: attempt.id, packageId: registration.package_id,
    userId: principal.userId, mode, family: pkgVersion?.scorm_version === '1.2' ? '1.2' : '2004',
  }, now);
  return { launchUrl: `${contentUrl}/play/${token}`, expiresAt, registration: { ...registration, attempt_count: attempt.number }, attempt, mode, newAttempt };
}
