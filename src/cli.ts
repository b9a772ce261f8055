import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config/index.js';
import { createLogger, startRuntime } from './runtime.js';
import { migrateLatest, migrationStatus, rollbackAll } from './db/migrate.js';
import { createAdmin } from './bootstrap.js';
import { assertPasswordPolicy, generatePassword } from './auth/passwords.js';
import { isAppError } from './errors/index.js';

const usage = `Usage: npm run cairn -- <command> [options]

Commands:
  migrate                 apply pending migrations
  migrate:status          list applied and pending migrations
  migrate:rollback-all    revert every migration (destroys all data)
  create-admin --email <email> [--password <pw>] [--tenant <slug>] [--system]
                          create an admin, or reset an existing one's password and lockout;
                          without --password one is generated and printed
`;

async function run(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  if (!command || command === 'help' || command === '--help') {
    console.log(usage);
    return command ? 0 : 64;
  }
  const config = loadConfig(process.env);
  const log = createLogger({ logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel });
  const runtime = await startRuntime(config, log, { jobs: false, migrate: false });
  const { db, clock } = runtime.deps;
  try {
    switch (command) {
      case 'migrate': {
        const applied = await migrateLatest(db);
        console.log(applied.length ? `Applied: ${applied.join(', ')}` : 'Already up to date.');
        return 0;
      }
      case 'migrate:status': {
        const { applied, pending } = await migrationStatus(db);
        console.log(`Applied (${applied.length}):\n  ${applied.join('\n  ') || '-'}\nPending (${pending.length}):\n  ${pending.join('\n  ') || '-'}`);
        return 0;
      }
      case 'migrate:rollback-all': {
        const reverted = await rollbackAll(db);
        console.log(reverted.length ? `Reverted: ${reverted.join(', ')}` : 'Nothing to revert.');
        return 0;
      }
      case 'create-admin': {
        const { values } = parseArgs({ args: rest, options: { email: { type: 'string' }, password: { type: 'string' }, tenant: { type: 'string', default: 'default' }, system: { type: 'boolean', default: false } } });
        if (!values.email || !/^[^\s@]+@[^\s@]+$/.test(values.email)) {
          console.error('create-admin needs --email <address>');
          return 64;
        }
        await migrateLatest(db);
        const password = values.password ?? generatePassword();
        assertPasswordPolicy(password, '--password', values.email);
        const { created } = await createAdmin(db, clock, { email: values.email.toLowerCase(), password, tenant: values.tenant ?? 'default', systemAdmin: values.system ?? false });
        console.log(`${created ? 'Created' : 'Reset'} admin ${values.email.toLowerCase()} in tenant ${values.tenant}.`);
        if (!values.password) console.log(`Password (shown once): ${password}`);
        return 0;
      }
      default:
        console.error(`Unknown command "${command}".\n\n${usage}`);
        return 64;
    }
  } finally {
    await runtime.stop();
  }
}

run().then((code) => process.exit(code), (error: unknown) => {
  if (error instanceof ConfigError) console.error(error.message);
  else if (isAppError(error)) console.error(error.message);
  else console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
