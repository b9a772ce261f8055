import type { Queryable } from '../db/index.js';
import { AppError } from '../errors/index.js';
import type { Clock } from '../deps.js';
import { findEnrollmentOf } from '../courses/repository.js';
import * as repo from './repository.js';
import { queueScorePassback } from '../lti/tool/ags/queue.js';

/**
 * The one way scores enter the gradebook: the REST API, SCORM results and LTI grade services
 * all come through here, so the rules (score within bounds, enrolled learner, newer wins)
 * hold for every source.
 */
export async function recordScore(db: Queryable, clock: Clock, lineItem: repo.LineItemRow, input: Omit<repo.ScoreInput, 'tenantId' | 'lineItemId'>): Promise<{ score: repo.ScoreRow; applied: boolean }> {
  if (input.scoreGiven !== null) {
    if (input.scoreMaximum === null) {
      throw new AppError('validation_failed', 'score_maximum is required with score_given.', { errors: [{ pointer: '/body/score_maximum', message: 'is required with score_given' }] });
    }
    if (input.scoreGiven < 0) throw new AppError('validation_failed', 'score_given must not be negative.', { errors: [{ pointer: '/body/score_given', message: 'must not be negative' }] });
  }
  if (input.scoreMaximum !== null && input.scoreMaximum <= 0) {
    throw new AppError('validation_failed', 'score_maximum must be greater than 0.', { errors: [{ pointer: '/body/score_maximum', message: 'must be greater than 0' }] });
  }
  const enrollment = await findEnrollmentOf(db, lineItem.course_id, input.userId);
  if (!enrollment) throw new AppError('validation_failed', 'The user is not enrolled in this course.', { errors: [{ pointer: '/params/userId', message: 'is not enrolled in this course' }] });
  const written = await repo.upsertScore(db, { ...input, tenantId: lineItem.tenant_id, lineItemId: lineItem.id }, clock.now());
  if (written) {
    // A score on an item launched from an LMS with grade services is owed to that LMS: queued
    // here, in this transaction, and sent by a job after commit (never inside this request).
    await queueScorePassback(db, lineItem, written);
    return { score: written, applied: true };
  }
  const current = await repo.findScore(db, lineItem.id, input.userId);
  return { score: current!, applied: false };
}
