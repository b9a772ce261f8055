import type { Queryable } from '../../../db/index.js';
import type { LineItemRow, ScoreRow } from '../../../grades/repository.js';
import * as repo from './repository.js';

/** A Cairn score as the AGS score body a platform expects (AGS 2.0 §3.4). */
export function toAgsScore(score: ScoreRow, platformUserId: string): repo.AgsScoreBody {
  const given = score.score_given === null ? undefined : Number(score.score_given);
  const maximum = score.score_maximum === null ? undefined : Number(score.score_maximum);
  return {
    userId: platformUserId,
    // scoreMaximum goes with scoreGiven only: a score without a value must not carry a maximum alone.
    ...(given !== undefined && maximum !== undefined ? { scoreGiven: given, scoreMaximum: maximum } : {}),
    activityProgress: score.activity_progress,
    gradingProgress: score.grading_progress,
    timestamp: score.scored_at.toISOString(),
    ...(score.comment ? { comment: score.comment.slice(0, 4000) } : {}),
  };
}

/**
 * Called by the gradebook (src/grades/service.ts) when a score is applied, inside the same
 * transaction: when the course item was launched from a platform whose launch carried an AGS
 * claim, the score is recorded for passback and the dispatcher is notified — a notification
 * PostgreSQL delivers only at commit, so the job never sees an uncommitted score and no
 * platform is called inside the learner's request (decision 0061).
 */
export async function queueScorePassback(db: Queryable, lineItem: LineItemRow, score: ScoreRow): Promise<number> {
  if (!lineItem.course_item_id) return 0;
  const targets = await repo.findPassbackTargets(db, { courseItemId: lineItem.course_item_id, courseId: lineItem.course_id, lineItemId: lineItem.id, userId: score.user_id });
  let queued = 0;
  for (const target of targets) {
    const row = await repo.upsertPassback(db, {
      tenant_id: target.tenant_id, resource_link_ref: target.link_id, user_id: score.user_id, line_item_id: lineItem.id, score_id: score.id,
      platform_user_id: target.subject, score: toAgsScore(score, target.subject), scored_at: score.scored_at,
    }, score.updated_at);
    if (!row) continue;
    queued++;
    // A row a job already looks after needs no new job: that job sends the newest payload.
    if (row.job_id === null) await repo.notifyServices(db, `ags:${row.id}`);
  }
  return queued;
}
