import { timingSafeEqual } from 'node:crypto';
import { Router } from 'express';
import type { AppDeps } from '../deps.js';
import { AppError } from '../errors/index.js';

const loopback = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} timed out`)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

function forwarded(headers: Record<string, string | string[] | undefined>): boolean {
  return headers['x-forwarded-for'] !== undefined || headers['forwarded'] !== undefined || headers['x-real-ip'] !== undefined;
}

/** Probes and metrics: outside /api/v1, no session needed (metrics has its own guard). */
export function opsRouter(deps: AppDeps): Router {
  const router = Router();

  router.get('/healthz', (_req, res) => {
    res.locals['route'] = '/healthz';
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    res.locals['route'] = '/readyz';
    const checks: Record<string, { ok: boolean; error?: string; ms: number }> = {};
    const run = async (name: string, check: () => Promise<unknown>) => {
      const started = Date.now();
      try {
        await withTimeout(check(), 2_000, name);
        checks[name] = { ok: true, ms: Date.now() - started };
      } catch (error) {
        deps.log.warn({ err: error, check: name }, 'readiness check failed');
        checks[name] = { ok: false, error: 'unreachable', ms: Date.now() - started };
      }
    };
    await Promise.all([run('database', () => deps.db.raw('select 1')), run('blob_store', () => deps.blobs.check())]);
    const ready = Object.values(checks).every((c) => c.ok);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', checks });
  });

  router.get('/metrics', async (req, res) => {
    res.locals['route'] = '/metrics';
    const token = deps.config.metricsToken;
    if (token) {
      const presented = /^Bearer\s+(.+)$/i.exec(req.get('authorization') ?? '')?.[1] ?? '';
      const a = Buffer.from(presented), b = Buffer.from(token);
      if (a.length !== b.length || !timingSafeEqual(a, b)) {
        throw new AppError('unauthenticated', 'Send the metrics token as a bearer token.', { headers: { 'WWW-Authenticate': 'Bearer realm="metrics"' } });
      }
    } else if (!loopback.has(req.ip ?? '') || (deps.config.trustProxy === false && forwarded(req.headers))) {
      // A reverse proxy on the same host makes every client look like loopback; without a
      // trust-proxy setting the forwarding headers are the only sign the caller is outside.
      throw new AppError('forbidden', 'Metrics are served to loopback clients only unless CAIRN_METRICS_TOKEN is set.');
    }
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  return router;
}
