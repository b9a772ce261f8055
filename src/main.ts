import { ConfigError, loadConfig, type Config } from './config/index.js';
import { createLogger, startRuntime } from './runtime.js';
import { buildApp } from './app.js';
import { buildContentApp } from './content/app.js';
import { ensureFirstAdmin, type FirstAdmin } from './bootstrap.js';
import { seedLrsCredential } from './xapi/auth/service.js';
import { gracefulShutdown, listen } from './ops/server.js';
import { collectStartupGarbage } from './ops/memory.js';

/**
 * The composition root: configuration → dependencies → HTTP server → graceful shutdown.
 * Exit status: 0 after a clean stop, 78 for an invalid configuration, 1 for anything else.
 */
async function main(): Promise<void> {
  let config: Config;
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

  // Signals are handled from the first moment: a SIGTERM while migrations run (an orchestrator
  // giving up on a slow start) must still stop the embedded PostgreSQL and the pool cleanly.
  let shutdown: ((reason: string) => Promise<void>) | undefined;
  let stopRequested: string | undefined;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting without waiting for the drain');
      process.exit(1); // the embedded PostgreSQL still gets its fast-shutdown request on exit
    }
    if (!shutdown) {
      stopRequested = signal;
      log.info({ signal }, 'signal during start; stopping as soon as the start has finished');
      return;
    }
    // Backstop: a job or a database that never answers must not keep the process alive.
    setTimeout(() => {
      log.error('shutdown did not finish in time; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs + 30_000).unref();
    shutdown(signal).then(() => process.exit(0), (error: unknown) => {
      log.error({ err: error }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A bug that escapes every handler leaves the process in an unknown state: record it in the
  // JSON log and exit, so the supervisor restarts a clean process (the embedded PostgreSQL gets
  // its fast-shutdown request from the exit hook).
  const fatal = (kind: string) => (error: unknown) => {
    log.fatal({ err: error }, kind);
    process.exit(1);
  };
  process.on('uncaughtException', fatal('uncaught exception'));
  process.on('unhandledRejection', fatal('unhandled promise rejection'));

  const runtime = await startRuntime(config, log, { jobs: true });
  let server;
  let contentServer;
  let firstAdmin: FirstAdmin | undefined;
  try {
    const { deps } = runtime;
    firstAdmin = await ensureFirstAdmin(deps.db, config, deps.clock, log);
    await seedLrsCredential(deps.db, deps.secrets, config, deps.clock, log);
    const { app } = buildApp(deps);
    server = await listen(app, { host: config.host, port: config.port });
    // The content origin (SCORM player and package files) listens beside it: DESIGN.md.
    contentServer = await listen(buildContentApp(deps).app, { host: config.host, port: config.contentPort });
  } catch (error) {
    await server?.close(0).catch(() => undefined);
    await runtime.stop().catch(() => undefined);
    throw error;
  }
  shutdown = gracefulShutdown({ servers: [server, contentServer], stopRuntime: () => runtime.stop(), graceMs: config.shutdownTimeoutMs, log });
  log.info({ host: server.address.address, port: server.address.port, publicUrl: config.publicUrl, contentPort: contentServer.address.port, contentUrl: config.contentUrl }, 'Cairn is listening');
  console.log(banner(config, firstAdmin));
  collectStartupGarbage();
  if (stopRequested) onSignal(stopRequested as NodeJS.Signals);
}

/** What a person starting Cairn in a terminal needs: where to go and how to log in. */
function banner(config: Config, firstAdmin: FirstAdmin | undefined): string {
  const lines = [
    '',
    `  Cairn is running: open ${config.publicUrl}/`,
    `  API description:  ${config.publicUrl}/api/v1/docs`,
    `  Content origin:   ${config.contentUrl} (SCORM player and package files)`,
    config.databaseUrl ? '  Database:         DATABASE_URL' : `  Database:         embedded PostgreSQL in ${config.dataDir}/pg (port ${config.embeddedPgPort})`,
    `  Files:            ${config.blobStore === 's3' ? `S3 bucket ${config.s3?.bucket}` : config.blobDir}`,
  ];
  if (firstAdmin) {
    lines.push('', '  First administrator created:', `    email:    ${firstAdmin.email}`);
    if (firstAdmin.generatedPassword) {
      lines.push(`    password: ${firstAdmin.generatedPassword}`, '    (shown only this once; change it after logging in)');
    }
  }
  return `${lines.join('\n')}\n`;
}

main().catch((error: unknown) => {
  console.error('Cairn failed to start:', error instanceof Error ? error.message : error);
  if (error instanceof Error && error.cause) console.error('  cause:', error.cause);
  process.exit(1);
});
