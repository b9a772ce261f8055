import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, loadConfig } from './config/index.js';
import { createLogger, startRuntime } from './runtime.js';
import { buildApp } from './app.js';
import { ensureFirstAdmin } from './bootstrap.js';
import { seedLrsCredential } from './xapi/auth/service.js';

/**
 * The composition root: configuration → dependencies → HTTP server → graceful shutdown.
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const log = createLogger(config);
  const runtime = await startRuntime(config, log, { jobs: true });
  const { deps } = runtime;
  const firstAdmin = await ensureFirstAdmin(deps.db, config, deps.clock, log);
  await seedLrsCredential(deps.db, deps.secrets, config, deps.clock, log);

  const { app } = buildApp(deps);
  const server = http.createServer(app);
  // Slightly above typical load-balancer idle timeouts so the proxy closes first.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  log.info({ host: address.address, port: address.port, publicUrl: config.publicUrl }, 'Cairn is listening');

  const banner = [
    '',
    `  Cairn is running: open ${config.publicUrl}/`,
    `  API description:  ${config.publicUrl}/api/v1/docs`,
    config.databaseUrl ? '  Database:         DATABASE_URL' : `  Database:         embedded PostgreSQL in ${config.dataDir}/pg (port ${config.embeddedPgPort})`,
    `  Files:            ${config.blobStore === 's3' ? `S3 bucket ${config.s3?.bucket}` : config.blobDir}`,
  ];
  if (firstAdmin) {
    banner.push('', '  First administrator created:', `    email:    ${firstAdmin.email}`);
    if (firstAdmin.generatedPassword) {
      banner.push(`    password: ${firstAdmin.generatedPassword}`, '    (shown only this once; change it after logging in)');
    }
  }
  console.log(`${banner.join('\n')}\n`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const forced = setTimeout(() => server.closeAllConnections(), config.shutdownTimeoutMs);
    forced.unref();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    clearTimeout(forced);
    await runtime.stop();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error('Cairn failed to start:', error instanceof Error ? error.message : error);
  if (error instanceof Error && error.cause) console.error('  cause:', error.cause);
  process.exit(1);
});
