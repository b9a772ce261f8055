import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseSize, renderConfigTable, variables, type Config } from './index.js';
import type { VariableDefinition } from './definitions.js';

const secretKey = 'k'.repeat(40);

/** The problems loadConfig reports for an environment, or [] when it accepts it. */
function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

function expectProblem(env: Record<string, string>, pattern: RegExp): void {
  const problems = problemsOf(env);
  expect(problems.some((p) => pattern.test(p)), `expected a problem matching ${pattern}, got ${JSON.stringify(problems)}`).toBe(true);
}

describe('loadConfig defaults', () => {
  const config = loadConfig({});

  it('starts with nothing set: embedded database, local blobs, loopback only', () => {
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 3000,
      publicUrl: 'http://localhost:3000',
      contentPort: 3001,
      contentUrl: 'http://127.0.0.1:3001',
      trustProxy: false,
      corsOrigins: [],
      bodyLimitBytes: 1024 * 1024,
      shutdownTimeoutMs: 10_000,
      logLevel: 'info',
      databaseUrl: undefined,
      embeddedPgPort: 54329,
      dbPoolMax: 10,
      secretKey: undefined,
      blobStore: 'local',
      s3: undefined,
      adminEmail: 'admin@cairn.local',
      adminPassword: undefined,
      metricsToken: undefined,
      jobsEnabled: true,
      auditRetentionDays: 365,
    });
  });

  it('resolves the data and blob directories to absolute paths', () => {
    expect(config.dataDir).toBe(path.resolve('./data'));
    expect(config.blobDir).toBe(path.join(path.resolve('./data'), 'blobs'));
    expect(loadConfig({ CAIRN_DATA_DIR: '/srv/cairn' }).blobDir).toBe('/srv/cairn/blobs');
    expect(loadConfig({ CAIRN_DATA_DIR: '/srv/cairn', CAIRN_BLOB_DIR: '/mnt/files' }).blobDir).toBe('/mnt/files');
  });

  it('derives the public and content URLs from the ports', () => {
    const c = loadConfig({ CAIRN_PORT: '8080', CAIRN_CONTENT_PORT: '8081' });
    expect(c.publicUrl).toBe('http://localhost:8080');
    expect(c.contentUrl).toBe('http://127.0.0.1:8081');
  });

  it('treats an empty or blank value as unset', () => {
    expect(loadConfig({ CAIRN_PORT: '', CAIRN_LOG_LEVEL: '   ' })).toMatchObject({ port: 3000, logLevel: 'info' });
  });

  it('uses every literal default from the definitions table', () => {
    // The table is what docs/configuration.md shows; loadConfig must agree with it.
    const c = loadConfig({});
    const byName: Record<string, unknown> = {
      CAIRN_HOST: c.host, CAIRN_PORT: c.port, CAIRN_CONTENT_PORT: c.contentPort, CAIRN_SHUTDOWN_TIMEOUT_MS: c.shutdownTimeoutMs,
      CAIRN_LOG_LEVEL: c.logLevel, CAIRN_EMBEDDED_PG_PORT: c.embeddedPgPort, CAIRN_DB_POOL_MAX: c.dbPoolMax, CAIRN_BLOB_STORE: c.blobStore,
      CAIRN_SESSION_IDLE_MINUTES: c.sessionIdleMinutes, CAIRN_SESSION_MAX_HOURS: c.sessionMaxHours, CAIRN_LOGIN_MAX_FAILURES: c.loginMaxFailures,
      CAIRN_LOGIN_LOCKOUT_MINUTES: c.loginLockoutMinutes, CAIRN_RATE_LIMIT_API_PER_MINUTE: c.apiRateLimitPerMinute,
      CAIRN_RATE_LIMIT_LOGIN_PER_MINUTE: c.loginRateLimitPerMinute, CAIRN_JOBS_ENABLED: c.jobsEnabled, CAIRN_AUDIT_RETENTION_DAYS: c.auditRetentionDays,
      CAIRN_BODY_LIMIT: c.bodyLimitBytes,
    };
    for (const [name, value] of Object.entries(byName)) {
      const def = (variables as readonly VariableDefinition[]).find((v) => v.name === name)!;
      const expected = def.kind === 'integer' ? Number(def.default) : def.kind === 'boolean' ? def.default === 'true' : def.kind === 'size' ? parseSize(def.default!) : def.default;
      expect(value, name).toBe(expected);
    }
  });

  it('returns a frozen configuration, nested settings included', () => {
    const c = loadConfig({ CAIRN_CORS_ORIGINS: 'https://a.example', CAIRN_BLOB_STORE: 's3', CAIRN_S3_BUCKET: 'b' });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.corsOrigins)).toBe(true);
    expect(Object.isFrozen(c.s3)).toBe(true);
    expect(() => { (c as { port: number }).port = 1; }).toThrow(TypeError);
  });
});

describe('loadConfig parses every kind', () => {
  it('integers: digits only, within the bounds', () => {
    expect(loadConfig({ CAIRN_PORT: '8080' }).port).toBe(8080);
    expect(loadConfig({ CAIRN_PORT: '0' }).port).toBe(0);
    expectProblem({ CAIRN_PORT: 'abc' }, /^CAIRN_PORT must be an integer, got "abc"$/);
    expectProblem({ CAIRN_PORT: '80.5' }, /CAIRN_PORT must be an integer/);
    expectProblem({ CAIRN_PORT: '1e3' }, /CAIRN_PORT must be an integer/);
    expectProblem({ CAIRN_PORT: '65536' }, /^CAIRN_PORT must be at most 65535, got 65536$/);
    expectProblem({ CAIRN_PORT: '-1' }, /^CAIRN_PORT must be at least 0, got -1$/);
    expectProblem({ CAIRN_DB_POOL_MAX: '0' }, /CAIRN_DB_POOL_MAX must be at least 1/);
    expectProblem({ CAIRN_DB_POOL_MAX: '1001' }, /CAIRN_DB_POOL_MAX must be at most 1000/);
    expectProblem({ CAIRN_EMBEDDED_PG_PORT: '0' }, /CAIRN_EMBEDDED_PG_PORT must be at least 1/);
    expectProblem({ CAIRN_LOGIN_MAX_FAILURES: '99999999999999999999' }, /CAIRN_LOGIN_MAX_FAILURES must be an integer/);
  });

  it('trims surrounding blanks', () => {
    expect(loadConfig({ CAIRN_PORT: ' 8080 ' }).port).toBe(8080);
  });

  it('booleans: true/false, 1/0, yes/no, on/off in any case', () => {
    for (const yes of ['true', 'TRUE', '1', 'yes', 'On']) expect(loadConfig({ CAIRN_JOBS_ENABLED: yes }).jobsEnabled, yes).toBe(true);
    for (const no of ['false', 'False', '0', 'no', 'OFF']) expect(loadConfig({ CAIRN_JOBS_ENABLED: no }).jobsEnabled, no).toBe(false);
    expectProblem({ CAIRN_JOBS_ENABLED: 'maybe' }, /^CAIRN_JOBS_ENABLED must be true or false, got "maybe"$/);
  });

  it('sizes: bytes, kb, mb, gb (binary units)', () => {
    expect(loadConfig({ CAIRN_BODY_LIMIT: '512kb' }).bodyLimitBytes).toBe(512 * 1024);
    expect(loadConfig({ CAIRN_BODY_LIMIT: '1mb' }).bodyLimitBytes).toBe(1024 * 1024);
    expect(loadConfig({ CAIRN_BODY_LIMIT: '2MB' }).bodyLimitBytes).toBe(2 * 1024 * 1024);
    expect(loadConfig({ CAIRN_BODY_LIMIT: '1gb' }).bodyLimitBytes).toBe(1024 ** 3);
    expect(loadConfig({ CAIRN_BODY_LIMIT: '1.5kb' }).bodyLimitBytes).toBe(1536);
    expect(loadConfig({ CAIRN_BODY_LIMIT: '4096' }).bodyLimitBytes).toBe(4096);
    expectProblem({ CAIRN_BODY_LIMIT: 'huge' }, /^CAIRN_BODY_LIMIT must be a size such as 512kb or 1mb, got "huge"$/);
    expectProblem({ CAIRN_BODY_LIMIT: '0' }, /CAIRN_BODY_LIMIT must be a size/);
    expectProblem({ CAIRN_BODY_LIMIT: '10tb' }, /CAIRN_BODY_LIMIT must be a size/);
    expectProblem({ CAIRN_BODY_LIMIT: '-1mb' }, /CAIRN_BODY_LIMIT must be a size/);
  });

  it('parseSize on its own', () => {
    expect(parseSize('512kb')).toBe(524_288);
    expect(parseSize('1 mb')).toBe(1_048_576);
    expect(parseSize('12b')).toBe(12);
    expect(parseSize('mb')).toBeUndefined();
    expect(parseSize('')).toBeUndefined();
  });

  it('lists: comma-separated, blanks ignored, trailing slashes dropped from origins', () => {
    const c = loadConfig({ CAIRN_CORS_ORIGINS: ' https://lms.example.edu/ , ,http://localhost:5173' });
    expect(c.corsOrigins).toEqual(['https://lms.example.edu', 'http://localhost:5173']);
    expectProblem({ CAIRN_CORS_ORIGINS: 'not a url' }, /CAIRN_CORS_ORIGINS entry "not a url" is not an http\(s\) origin/);
    expectProblem({ CAIRN_CORS_ORIGINS: 'javascript:alert(1)' }, /CAIRN_CORS_ORIGINS entry "javascript:alert\(1\)"/);
  });

  it('enums: only the listed values', () => {
    expect(loadConfig({ CAIRN_LOG_LEVEL: 'debug' }).logLevel).toBe('debug');
    expectProblem({ CAIRN_LOG_LEVEL: 'loud' }, /^CAIRN_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"$/);
    expectProblem({ CAIRN_BLOB_STORE: 'gcs' }, /CAIRN_BLOB_STORE must be one of local, s3/);
  });

  it('URLs: absolute http(s), trailing slash dropped', () => {
    expect(loadConfig({ CAIRN_PUBLIC_URL: 'https://cairn.example.edu/', CAIRN_CONTENT_URL: 'https://content.example.net' }))
      .toMatchObject({ publicUrl: 'https://cairn.example.edu', contentUrl: 'https://content.example.net' });
    expectProblem({ CAIRN_PUBLIC_URL: 'cairn.example.edu' }, /^CAIRN_PUBLIC_URL must be a URL, got "cairn.example.edu"$/);
    expectProblem({ CAIRN_PUBLIC_URL: 'ftp://cairn.example.edu' }, /CAIRN_PUBLIC_URL must be an http\(s\) URL/);
  });

  it('DATABASE_URL: a postgres connection string whose value never appears in a problem', () => {
    const url = 'postgres://cairn:s3cr3t-pw@db.internal:5432/cairn';
    expect(loadConfig({ DATABASE_URL: url, CAIRN_SECRET_KEY: secretKey }).databaseUrl).toBe(url);
    expect(loadConfig({ DATABASE_URL: 'postgresql://db/cairn', CAIRN_SECRET_KEY: secretKey }).databaseUrl).toBe('postgresql://db/cairn');
    expectProblem({ DATABASE_URL: 'mysql://u:p@db/cairn', CAIRN_SECRET_KEY: secretKey }, /DATABASE_URL must be a postgres:\/\/ or postgresql:\/\//);
    const problems = problemsOf({ DATABASE_URL: 'not a url with s3cr3t-pw', CAIRN_SECRET_KEY: secretKey });
    expect(problems.join('\n')).toMatch(/DATABASE_URL must be a URL/);
    expect(problems.join('\n')).not.toContain('s3cr3t-pw');
  });

  it('trust proxy: false, true, a hop count, or addresses and subnets', () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(loadConfig({ CAIRN_TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ CAIRN_TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ CAIRN_TRUST_PROXY: 'loopback, 10.0.0.0/8, 192.168.1.1, fd00::/8, 172.16.0.0/255.240.0.0' }).trustProxy)
      .toEqual(['loopback', '10.0.0.0/8', '192.168.1.1', 'fd00::/8', '172.16.0.0/255.240.0.0']);
    expectProblem({ CAIRN_TRUST_PROXY: 'lb.internal' }, /CAIRN_TRUST_PROXY entry "lb.internal"/);
    expectProblem({ CAIRN_TRUST_PROXY: '10.0.0.0/33' }, /CAIRN_TRUST_PROXY entry "10.0.0.0\/33"/);
  });
});

describe('loadConfig cross-checks', () => {
  it('reports every problem at once', () => {
    const problems = problemsOf({ CAIRN_PORT: 'abc', CAIRN_LOG_LEVEL: 'loud', CAIRN_BODY_LIMIT: 'huge', CAIRN_JOBS_ENABLED: 'maybe', DATABASE_URL: 'postgres://db/cairn' });
    expect(problems).toHaveLength(5);
    expect(problems.map((p) => p.split(' ')[0])).toEqual(expect.arrayContaining(['CAIRN_PORT', 'CAIRN_LOG_LEVEL', 'CAIRN_BODY_LIMIT', 'CAIRN_JOBS_ENABLED', 'CAIRN_SECRET_KEY']));
  });

  it('lists the problems in its message, one per line', () => {
    try {
      loadConfig({ CAIRN_PORT: 'abc', CAIRN_LOG_LEVEL: 'loud' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toBe('Invalid configuration:\n  - CAIRN_PORT must be an integer, got "abc"\n  - CAIRN_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"');
    }
  });

  it('requires CAIRN_SECRET_KEY with DATABASE_URL, and a long one', () => {
    expectProblem({ DATABASE_URL: 'postgres://db/cairn' }, /CAIRN_SECRET_KEY is required when DATABASE_URL is set/);
    expect(problemsOf({ CAIRN_SECRET_KEY: 'short-key' })).toEqual(['CAIRN_SECRET_KEY must be at least 32 characters']);
    expect(problemsOf({ DATABASE_URL: 'postgres://db/cairn', CAIRN_SECRET_KEY: secretKey })).toEqual([]);
    // With the embedded database a key is generated into the data dir instead.
    expect(loadConfig({}).secretKey).toBeUndefined();
  });

  it('refuses a content URL on the same host as the public URL, even on another port', () => {
    expectProblem({ CAIRN_PUBLIC_URL: 'https://cairn.example.edu', CAIRN_CONTENT_URL: 'https://cairn.example.edu:8443' }, /CAIRN_CONTENT_URL must use a different host name from CAIRN_PUBLIC_URL/);
    expectProblem({ CAIRN_PUBLIC_URL: 'http://127.0.0.1:3000' }, /CAIRN_CONTENT_URL must use a different host name/);
    expect(problemsOf({ CAIRN_PUBLIC_URL: 'https://cairn.example.edu', CAIRN_CONTENT_URL: 'https://cairn-content.example.net' })).toEqual([]);
  });

  it('refuses the same port for both origins', () => {
    expectProblem({ CAIRN_PORT: '4000', CAIRN_CONTENT_PORT: '4000' }, /CAIRN_CONTENT_PORT must differ from CAIRN_PORT/);
  });

  it('checks the first administrator settings', () => {
    expectProblem({ CAIRN_ADMIN_PASSWORD: 'too-short' }, /CAIRN_ADMIN_PASSWORD must be at least 12 characters/);
    expectProblem({ CAIRN_ADMIN_EMAIL: 'admin' }, /CAIRN_ADMIN_EMAIL must be an email address/);
    expect(loadConfig({ CAIRN_ADMIN_EMAIL: 'Ops@Example.EDU' }).adminEmail).toBe('ops@example.edu');
  });

  it('never puts a secret value into a problem message', () => {
    const problems = problemsOf({ CAIRN_SECRET_KEY: 'tiny-secret-value', CAIRN_ADMIN_PASSWORD: 'pw-value-xy' });
    expect(problems).toHaveLength(2);
    expect(problems.join('\n')).not.toMatch(/tiny-secret-value|pw-value-xy/);
  });
});

describe('S3 settings', () => {
  const s3 = { CAIRN_BLOB_STORE: 's3' };

  it('are ignored with the local store and parsed with s3', () => {
    expect(loadConfig({ CAIRN_S3_BUCKET: 'x' }).s3).toBeUndefined();
    const c: Config = loadConfig({
      ...s3, CAIRN_S3_BUCKET: 'cairn', CAIRN_S3_ENDPOINT: 'http://127.0.0.1:7480/', CAIRN_S3_REGION: 'eu-west-1',
      CAIRN_S3_ACCESS_KEY_ID: 'AK', CAIRN_S3_SECRET_ACCESS_KEY: 'SK', CAIRN_S3_FORCE_PATH_STYLE: 'yes', CAIRN_S3_PREFIX: 'prod/',
      CAIRN_S3_MULTIPART_THRESHOLD: '8mb',
    });
    expect(c.s3).toEqual({
      endpoint: 'http://127.0.0.1:7480', region: 'eu-west-1', bucket: 'cairn', accessKeyId: 'AK', secretAccessKey: 'SK',
      forcePathStyle: true, prefix: 'prod/', multipartThresholdBytes: 8 * 1024 * 1024,
    });
  });

  it('default to AWS in us-east-1 with the SDK credential chain', () => {
    expect(loadConfig({ ...s3, CAIRN_S3_BUCKET: 'cairn' }).s3).toEqual({
      endpoint: undefined, region: 'us-east-1', bucket: 'cairn', accessKeyId: undefined, secretAccessKey: undefined,
      forcePathStyle: false, prefix: '', multipartThresholdBytes: 16 * 1024 * 1024,
    });
  });

  it('need a bucket, both keys or neither, a multipart threshold of at least 5mb and an http(s) endpoint', () => {
    const problems = problemsOf({ ...s3, CAIRN_S3_ACCESS_KEY_ID: 'AK', CAIRN_S3_MULTIPART_THRESHOLD: '1mb', CAIRN_S3_ENDPOINT: 's3.internal' });
    expect(problems).toEqual(expect.arrayContaining([
      'CAIRN_S3_BUCKET is required when CAIRN_BLOB_STORE=s3',
      'CAIRN_S3_ACCESS_KEY_ID and CAIRN_S3_SECRET_ACCESS_KEY must be set together',
      'CAIRN_S3_MULTIPART_THRESHOLD must be at least 5mb (the S3 minimum part size)',
    ]));
    expect(problems.some((p) => p.startsWith('CAIRN_S3_ENDPOINT must be a URL'))).toBe(true);
    expectProblem({ ...s3, CAIRN_S3_BUCKET: 'b', CAIRN_S3_SECRET_ACCESS_KEY: 'SK' }, /must be set together/);
    expectProblem({ ...s3, CAIRN_S3_BUCKET: 'b', CAIRN_S3_FORCE_PATH_STYLE: 'sometimes' }, /CAIRN_S3_FORCE_PATH_STYLE must be true or false/);
  });
});

describe('the definitions table', () => {
  const defs = variables as readonly VariableDefinition[];

  it('gives no secret a default value', () => {
    const secrets = defs.filter((v) => v.secret);
    expect(secrets.map((v) => v.name)).toEqual(expect.arrayContaining(['CAIRN_SECRET_KEY', 'CAIRN_ADMIN_PASSWORD', 'CAIRN_METRICS_TOKEN', 'CAIRN_S3_SECRET_ACCESS_KEY']));
    for (const v of secrets) {
      expect(v.default, `${v.name} is a secret and must not have a default`).toBeUndefined();
      expect(v.derivedDefault, `${v.name} is a secret and must not have a derived default`).toBeUndefined();
    }
    // and loading with nothing set yields no secret value at all
    const c = loadConfig({});
    expect([c.secretKey, c.adminPassword, c.metricsToken]).toEqual([undefined, undefined, undefined]);
  });

  it('names each variable once, with a valid kind, group and description', () => {
    expect(new Set(defs.map((v) => v.name)).size).toBe(defs.length);
    for (const v of defs) {
      expect(v.name, v.name).toMatch(/^(CAIRN_[A-Z0-9_]+|DATABASE_URL)$/);
      expect(v.description.length, v.name).toBeGreaterThan(5);
      if (v.kind === 'enum') expect(v.values?.length, v.name).toBeGreaterThan(0);
      if (v.kind === 'enum' && v.default !== undefined) expect(v.values, v.name).toContain(v.default);
    }
  });

  it('has defaults that parse: loading with nothing set raises no problem', () => {
    expect(problemsOf({})).toEqual([]);
  });

  it('renders every variable into the Markdown table, secrets marked and bounds shown', () => {
    const table = renderConfigTable();
    for (const v of defs) expect(table, v.name).toContain(`| \`${v.name}\`${v.secret ? ' (secret)' : ''} |`);
    expect(table).toContain('| `CAIRN_PORT` | integer 0–65535 | `3000` |');
    expect(table).toContain('| `CAIRN_LOG_LEVEL` | `fatal` \\| `error` \\| `warn` \\| `info` \\| `debug` \\| `trace` \\| `silent` | `info` |');
    expect(table).toContain('| `CAIRN_CORS_ORIGINS` | list | (empty) |');
    expect(table).toContain('| `DATABASE_URL` | url | (unset) |');
  });
});
