import { Router } from 'express';
import { AppError } from '../../errors/index.js';
import type { XapiResourceDeps } from '../index.js';
import { requirePermission, sendJson } from '../http.js';
import { ifiKey, ifiProperties, parseAgentParameter } from '../validation/agent.js';
import { findIdentity } from './repository.js';

/**
 * GET /xapi/agents?agent= (xAPI 1.0.3 Part 3 §2.4): the Person object the LRS knows for an
 * Agent — every name statements used for that identity, and the identity itself. Cairn
 * links identities only when they are the same IFI, so the Person has one IFI value.
 */
export function agentsRouter(deps: XapiResourceDeps): Router {
  const router = Router();
  router.get('/agents', async (req, res) => {
    res.locals['route'] = '/xapi/agents';
    const ctx = requirePermission(req, 'agents/read');
    const params = req.query as Record<string, unknown>;
    const extra = Object.keys(params).filter((k) => k !== 'agent');
    if (extra.length > 0) throw new AppError('bad_request', `The agents resource accepts only the agent parameter (got ${extra.join(', ')}).`);
    if (typeof params['agent'] === 'string' && /\\u0000|\u0000/i.test(params['agent'])) throw new AppError('bad_request', 'The agent parameter contains a NUL character.');
    const agent = parseAgentParameter(params['agent']);
    const rows = await findIdentity(deps.db, ctx.credential.storeId, ifiKey(agent)!);
    const person: Record<string, unknown[]> = {};
    const names = [...new Set([...rows.map((r) => r.name), agent.name ?? ''])].filter((n) => n !== '');
    if (names.length > 0) person['name'] = names;
    for (const p of ifiProperties) if (agent[p] !== undefined) person[p] = [agent[p]];
    sendJson(res, 200, { objectType: 'Person', ...person });
  });
  return router;
}
