import { Router } from 'express';
import { AppError } from '../../errors/index.js';
import type { XapiResourceDeps } from '../index.js';
import { requirePermission, sendJson } from '../http.js';
import { isAbsoluteIri } from '../validation/primitives.js';
import { findActivity } from './repository.js';

/**
 * GET /xapi/activities?activityId= (xAPI 1.0.3 Part 3 §2.5): the Activity with the canonical
 * definition merged from statements (see statements/repository.ts), or just its id when the
 * LRS has no definition for it.
 */
export function activitiesRouter(deps: XapiResourceDeps): Router {
  const router = Router();
  router.get('/activities', async (req, res) => {
    res.locals['route'] = '/xapi/activities';
    const ctx = requirePermission(req, 'activities/read');
    const params = req.query as Record<string, unknown>;
    const extra = Object.keys(params).filter((k) => k !== 'activityId');
    if (extra.length > 0) throw new AppError('bad_request', `The activities resource accepts only the activityId parameter (got ${extra.join(', ')}).`);
    const activityId = params['activityId'];
    if (activityId === undefined) throw new AppError('bad_request', 'The activityId parameter is required.');
    if (typeof activityId !== 'string' || !isAbsoluteIri(activityId)) throw new AppError('bad_request', 'The activityId parameter must be an absolute IRI.');
    const row = await findActivity(deps.db, ctx.credential.storeId, activityId);
    sendJson(res, 200, { objectType: 'Activity', id: activityId, ...(row?.definition ? { definition: row.definition } : {}) });
  });
  return router;
}
