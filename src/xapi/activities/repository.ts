import type { Queryable } from '../../db/index.js';
import { indexKey } from '../statements/relations.js';

/** The canonical definition of an activity in a store, if the LRS has one. */
export async function findActivity(db: Queryable, storeId: string, activityId: string): Promise<{ definition: Record<string, unknown> | null } | undefined> {
  const result = await db.raw('select definition from xapi_activities where store_id = ? and activity_id = ?', [storeId, indexKey(activityId)]);
  return (result as { rows: Array<{ definition: Record<string, unknown> | null }> }).rows[0];
}
