import { Router } from 'express';
import type { XapiResourceDeps } from '../index.js';

/** The xAPI activities resource(s). */
export function activitiesRouter(_deps: XapiResourceDeps): Router {
  const router = Router();
  return router;
}
