import type { Queryable } from '../../db/index.js';
import { indexKey } from '../statements/relations.js';

/** Names recorded for an identity (one row per name; '' when statements gave none). */
export async function findIdentity(db: Queryable, storeId: string, agentKey: string): Promise<Array<{ name: string; ifi: Record<string, unknown> }>> {
  const result = await db.raw('select name, ifi from xapi_agents where store_id = ? and agent_key = ? order by name', [storeId, indexKey(agentKey)]);
  return (result as { rows: Array<{ name: string; ifi: Record<string, unknown> }> }).rows;
}
