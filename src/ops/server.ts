import http, { type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';

export interface HttpServer {
  readonly server: http.Server;
  readonly address: AddressInfo;
  /**
   * Stops accepting connections, lets in-flight requests finish, then cuts whatever is still
   * open once `graceMs` has passed. Resolves when every connection is closed.
   */
  close(graceMs: number): Promise<void>;
}

/** One HTTP server for an Express app, listening on host:port (0 = any free port). */
export async function listen(app: RequestListener, options: { host: string; port: number; idleTimeoutMs?: number }): Promise<HttpServer> {
  let draining = false;
  // Responses not yet started when draining begins, so they can say `Connection: close`.
  const pending = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    if (draining) res.setHeader('Connection', 'close');
    else {
      pending.add(res);
      res.once('close', () => pending.delete(res));
    }
    app(req, res);
  });
  // Slightly above typical load-balancer idle timeouts (60 s) so the proxy closes idle
  // connections first and never sends a request into a socket we are closing.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  // Node's default requestTimeout (300 s for a whole request) would cut a 2 GB SCORM upload on
  // an ordinary link with a 408. Bound inactivity instead: a connection on which nothing moves
  // either way for 5 minutes is closed, however long a steady upload takes.
  server.requestTimeout = 0;
  server.timeout = options.idleTimeoutMs ?? 300_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  let closing: Promise<void> | undefined;
  return {
    server,
    address: server.address() as AddressInfo,
    close(graceMs) {
      closing ??= new Promise<void>((resolve) => {
        draining = true;
        for (const res of pending) if (!res.headersSent) res.setHeader('Connection', 'close');
        const forced = setTimeout(() => server.closeAllConnections(), graceMs);
        forced.unref();
        // close() stops accepting; each connection closes once its in-flight request has been
        // answered (with `Connection: close`, so keep-alive clients reconnect elsewhere).
        server.close(() => {
          clearTimeout(forced);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

/**
 * The shutdown sequence main.ts runs on SIGTERM/SIGINT: drain the HTTP servers, then stop
 * the runtime (job workers finish their current job, counters are flushed, the pool is
 * closed, the embedded PostgreSQL stops last). A second call waits for the first.
 */
export function gracefulShutdown(options: {
  readonly servers: readonly HttpServer[];
  readonly stopRuntime: () => Promise<void>;
  readonly graceMs: number;
  readonly log: Logger;
}): (reason: string) => Promise<void> {
  let running: Promise<void> | undefined;
  return (reason) => {
    running ??= (async () => {
      const started = Date.now();
      options.log.info({ reason, graceMs: options.graceMs }, 'shutting down: draining HTTP connections');
      await Promise.all(options.servers.map((s) => s.close(options.graceMs)));
      options.log.info({ ms: Date.now() - started }, 'HTTP servers closed; stopping jobs and database');
      await options.stopRuntime();
      options.log.info({ ms: Date.now() - started }, 'stopped');
    })();
    return running;
  };
}
