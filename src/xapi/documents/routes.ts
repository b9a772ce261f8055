import { Router } from 'express';
import type { XapiResourceDeps } from '../index.js';

/** The xAPI documents resource(s). */
export function documentsRouter(_deps: XapiResourceDeps): Router {
  const router = Router();
  return router;
}
