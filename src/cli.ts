import { parseArgs, type ParseArgsConfig } from 'node:util';
import { pino } from 'pino';
import { ConfigError, loadConfig } from './config/index.js';
import { createLogger, startRuntime } from './runtime.js';
import { migrateLatest, migrationStatus, rollbackAll } from './db/migrate.js';
import { createAdmin } from './bootstrap.js';
import { assertPasswordPolicy, generatePassword } from './auth/passwords.js';
import { isAppError } from './errors/index.js';
import type { Db } from './db/index.js';
import type { Clock } from './deps.js';

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** sysexits.h: what a wrapper script or an init system can tell apart. */
const exit = { ok: 0, failure: 1, usage: 64, config: 78 } as const;

const usage = `Usage: npm run cairn -- <command> [options]

Commands:
  migrate                 apply pending migrations
  migrate:status          list applied and pending migrations
  migrate:rollback-all --yes
                          revert every migration (destroys all data)
  create-admin --email <email> [--password <pw>] [--tenant <slug>] [--system] [--reset-mfa]
                          create an admin, or reset an existing one's password and lockout
                          (ending their sessions; --reset-mfa also removes their authenticator);
                          without --password one is generated and printed

The database is the one the server uses: DATABASE_URL, or the embedded PostgreSQL of
CAIRN_DATA_DIR (shared with a Cairn server running on it, or started for the command).
`;

class UsageError extends Error {}

type Command = (ctx: { db: Db; clock: Clock }) => Promise<number>;

/** Parses the arguments into a command before anything connects to the database. */
function parseCommand(command: string, rest: string[]): Command {
  const parse = (options: ParseArgsOptionsConfig): Record<string, string | boolean | undefined> => {
    try {
      return parseArgs({ args: rest, options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
    } catch (error) {
      throw new UsageError(`${command}: ${(error as Error).message}`);
    }
  };
  switch (command) {
    case 'migrate':
      parse({});
      return async ({ db }) => {
        const applied = await migrateLatest(db);
        console.log(applied.length ? `Applied: ${applied.join(', ')}` : 'Already up to date.');
        return exit.ok;
      };
    case 'migrate:status':
      parse({});
      return async ({ db }) => {
        const { applied, pending } = await migrationStatus(db);
        console.log(`Applied (${applied.length}):\n  ${applied.join('\n  ') || '-'}\nPending (${pending.length}):\n  ${pending.join('\n  ') || '-'}`);
        return exit.ok;
      };
    case 'migrate:rollback-all': {
      const values = parse({ yes: { type: 'boolean', default: false } });
      if (!values['yes']) throw new UsageError('migrate:rollback-all destroys every table and all data; add --yes to confirm.');
      return async ({ db }) => {
        const reverted = await rollbackAll(db);
        console.log(reverted.length ? `Reverted: ${reverted.join(', ')}` : 'Nothing to revert.');
        return exit.ok;
      };
    }
    case 'create-admin': {
      const values = parse({ email: { type: 'string' }, password: { type: 'string' }, tenant: { type: 'string', default: 'default' }, system: { type: 'boolean', default: false }, 'reset-mfa': { type: 'boolean', default: false } });
      const email = typeof values['email'] === 'string' ? values['email'].toLowerCase() : undefined;
      if (!email || !/^[^\s@]+@[^\s@]+$/.test(email)) throw new UsageError('create-admin needs --email <address>.');
      const given = typeof values['password'] === 'string' ? values['password'] : undefined;
      const tenant = String(values['tenant']);
      const password = given ?? generatePassword();
      try {
        assertPasswordPolicy(password, '--password', email);
      } catch (error) {
        throw new UsageError(`create-admin: ${(error as Error).message}`);
      }
      return async ({ db, clock }) => {
        await migrateLatest(db);
        const { created, systemAdmin } = await createAdmin(db, clock, { email, password, tenant, systemAdmin: values['system'] === true, resetMfa: values['reset-mfa'] === true });
        console.log(`${created ? 'Created' : 'Reset'} ${systemAdmin ? 'system administrator' : 'admin'} ${email} in tenant ${tenant}${created ? '' : ` (password replaced, lockout cleared, sessions ended${values['reset-mfa'] ? ', MFA removed' : ''})`}.`);
        if (!given) console.log(`Password (shown once): ${password}`);
        return exit.ok;
      };
    }
    default:
      throw new UsageError(`Unknown command "${command}".`);
  }
}

async function run(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  if (command === 'help' || command === '--help' || command === '-h') {
    console.log(usage);
    return exit.ok;
  }
  let action: Command;
  try {
    if (!command) throw new UsageError('No command given.');
    action = parseCommand(command, rest);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n\n${usage}`);
    return exit.usage;
  }

  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return exit.config;
  }
  // Logs go to stderr: stdout carries the command's own output (a generated password, a status list).
  const log = createLogger({ logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel }, pino.destination(2));
  const runtime = await startRuntime(config, log, { jobs: false, migrate: false, attachToRunningDatabase: true });
  try {
    return await action({ db: runtime.deps.db, clock: runtime.deps.clock });
  } finally {
    await runtime.stop();
  }
}

run().then((code) => process.exit(code), (error: unknown) => {
  if (isAppError(error)) console.error(error.message);
  else console.error(error instanceof Error ? error.message : error);
  process.exit(exit.failure);
});
