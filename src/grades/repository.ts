import type { Queryable } from '../db/index.js';
import { paginate } from '../db/pagination.js';

export type ActivityProgress = 'Initialized' | 'Started' | 'InProgress' | 'Submitted' | 'Completed';
export type GradingProgress = 'FullyGraded' | 'Pending' | 'PendingManual' | 'Failed' | 'NotReady';
export type ScoreSource = 'manual' | 'scorm' | 'lti' | 'xapi';

export interface LineItemRow {
  id: string;
  tenant_id: string;
  course_id: string;
  course_item_id: string | null;
  label: string;
  /** numeric comes back from pg as a string */
  score_maximum: string;
  resource_id: string | null;
  tag: string | null;
  start_at: Date | null;
  end_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface ScoreRow {
  id: string;
  tenant_id: string;
  line_item_id: string;
  user_id: string;
  score_given: string | null;
  score_maximum: string | null;
  activity_progress: ActivityProgress;
  grading_progress: GradingProgress;
  comment: string | null;
  source: ScoreSource;
  scored_at: Date;
  created_at: Date;
  updated_at: Date;
}

export async function insertLineItem(db: Queryable, item: Omit<LineItemRow, 'id' | 'created_at' | 'updated_at' | 'score_maximum'> & { score_maximum: number }, now: Date): Promise<LineItemRow> {
  const [row] = await db<LineItemRow>('line_items').insert({ ...item, score_maximum: String(item.score_maximum), created_at: now, updated_at: now }).returning('*');
  return row as LineItemRow;
}

export async function findLineItem(db: Queryable, courseId: string, id: string): Promise<LineItemRow | undefined> {
  return db<LineItemRow>('line_items').where({ course_id: courseId, id }).first();
}

export async function listLineItems(db: Queryable, filter: { courseId: string; courseItemId?: string | undefined; resourceId?: string | undefined; tag?: string | undefined; limit: number; cursor?: string | undefined }) {
  const query = db<LineItemRow>('line_items').where('course_id', filter.courseId);
  if (filter.courseItemId) query.where('course_item_id', filter.courseItemId);
  if (filter.resourceId) query.where('resource_id', filter.resourceId);
  if (filter.tag) query.where('tag', filter.tag);
  return paginate<LineItemRow>(query, { limit: filter.limit, cursor: filter.cursor, sortColumn: 'created_at', idColumn: 'id' });
}

export async function updateLineItem(db: Queryable, courseId: string, id: string, changes: Record<string, unknown>, now: Date): Promise<LineItemRow | undefined> {
  const [row] = await db<LineItemRow>('line_items').where({ course_id: courseId, id }).update({ ...changes, updated_at: now }).returning('*');
  return row as LineItemRow | undefined;
}

export async function deleteLineItem(db: Queryable, courseId: string, id: string): Promise<boolean> {
  return (await db('line_items').where({ course_id: courseId, id }).delete()) > 0;
}

export interface ScoreInput {
  readonly tenantId: string;
  readonly lineItemId: string;
  readonly userId: string;
  readonly scoreGiven: number | null;
  readonly scoreMaximum: number | null;
  readonly activityProgress: ActivityProgress;
  readonly gradingProgress: GradingProgress;
  readonly comment: string | null;
  readonly source: ScoreSource;
  readonly scoredAt: Date;
}

/**
 * Inserts or replaces the user's score on a line item, unless the stored one was produced
 * later (scores from retried jobs or slow LMS calls must not overwrite newer results).
 * Returns the row when it was written, undefined when a newer score kept its place.
 */
export async function upsertScore(db: Queryable, input: ScoreInput, now: Date): Promise<ScoreRow | undefined> {
  const result = await db.raw<{ rows: ScoreRow[] }>(
    `insert into scores (tenant_id, line_item_id, user_id, score_given, score_maximum, activity_progress, grading_progress, comment, source, scored_at, created_at, updated_at)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     on conflict (line_item_id, user_id) do update set
       score_given = excluded.score_given, score_maximum = excluded.score_maximum,
       activity_progress = excluded.activity_progress, grading_progress = excluded.grading_progress,
       comment = excluded.comment, source = excluded.source, scored_at = excluded.scored_at, updated_at = excluded.updated_at
     where scores.scored_at <= excluded.scored_at
     returning *`,
    [input.tenantId, input.lineItemId, input.userId, input.scoreGiven, input.scoreMaximum, input.activityProgress, input.gradingProgress,
      input.comment, input.source, input.scoredAt, now, now],
  );
  return result.rows[0];
}

export async function findScore(db: Queryable, lineItemId: string, userId: string): Promise<ScoreRow | undefined> {
  return db<ScoreRow>('scores').where({ line_item_id: lineItemId, user_id: userId }).first();
}

export async function deleteScore(db: Queryable, lineItemId: string, userId: string): Promise<boolean> {
  return (await db('scores').where({ line_item_id: lineItemId, user_id: userId }).delete()) > 0;
}

export async function listScores(db: Queryable, filter: { courseId: string; lineItemId?: string | undefined; userId?: string | undefined; limit: number; cursor?: string | undefined }) {
  const query = db('scores as s').join('line_items as li', 'li.id', 's.line_item_id').where('li.course_id', filter.courseId).select('s.*');
  if (filter.lineItemId) query.where('s.line_item_id', filter.lineItemId);
  if (filter.userId) query.where('s.user_id', filter.userId);
  return paginate<ScoreRow>(query, { limit: filter.limit, cursor: filter.cursor, sortColumn: 's.created_at', idColumn: 's.id' });
}
