import { Router } from 'express';
import type { XapiResourceDeps } from '../index.js';

/** The xAPI statements resource(s). */
export function statementsRouter(_deps: XapiResourceDeps): Router {
  const router = Router();
  return router;
}
