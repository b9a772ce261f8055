import { Router } from 'express';
import type { XapiResourceDeps } from '../index.js';

/** The xAPI agents resource(s). */
export function agentsRouter(_deps: XapiResourceDeps): Router {
  const router = Router();
  return router;
}
