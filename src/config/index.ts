import { isIP } from 'node:net';
import path from 'node:path';
import { variables, type VariableDefinition, type VariableName } from './definitions.js';

export { variables } from './definitions.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface S3Config {
  readonly endpoint: string | undefined;
  readonly region: string;
  readonly bucket: string;
  readonly accessKeyId: string | undefined;
  readonly secretAccessKey: string | undefined;
  readonly forcePathStyle: boolean;
  readonly prefix: string;
  readonly multipartThresholdBytes: number;
}

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly publicUrl: string;
  readonly contentPort: number;
  readonly contentUrl: string;
  readonly trustProxy: boolean | number | string[];
  readonly corsOrigins: readonly string[];
  readonly bodyLimitBytes: number;
  readonly shutdownTimeoutMs: number;
  readonly logLevel: LogLevel;
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly embeddedPgPort: number;
  readonly dbPoolMax: number;
  /** Undefined only with the embedded database, where main.ts generates and persists one. */
  readonly secretKey: string | undefined;
  readonly blobStore: 'local' | 's3';
  readonly blobDir: string;
  readonly s3: S3Config | undefined;
  readonly adminEmail: string;
  readonly adminPassword: string | undefined;
  readonly sessionIdleMinutes: number;
  readonly sessionMaxHours: number;
  readonly loginMaxFailures: number;
  readonly loginLockoutMinutes: number;
  readonly apiRateLimitPerMinute: number;
  readonly loginRateLimitPerMinute: number;
  readonly metricsToken: string | undefined;
  readonly lrsKey: string | undefined;
  readonly lrsSecret: string | undefined;
  readonly xapiBodyLimitBytes: number;
  readonly xapiStatementPageMax: number;
  readonly jobsEnabled: boolean;
  readonly auditRetentionDays: number;
  readonly scorm: ScormConfig;
  readonly lti: LtiConfig;
}

export interface LtiConfig {
  readonly keyRotationDays: number;
  readonly keyOverlapDays: number;
  readonly launchLogDays: number;
  readonly rosterMaxAgeMinutes: number;
  readonly serviceRetrySeconds: number;
  readonly scoreMaxAttempts: number;
}

export interface ScormConfig {
  readonly maxUploadBytes: number;
  readonly maxUncompressedBytes: number;
  readonly maxEntries: number;
  readonly maxRatio: number;
  readonly tempDir: string;
}

/** Every problem with the environment at once, so an operator fixes them in one go. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const definitionByName = new Map<string, VariableDefinition>(variables.map((v) => [v.name, v]));

const sizeUnits: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** Parses `512kb`, `1mb`, `2gb` or a plain byte count. */
export function parseSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(text.trim());
  if (!match) return undefined;
  const unit = sizeUnits[(match[2] ?? 'b').toLowerCase()] ?? 1;
  return Math.floor(Number(match[1]) * unit);
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads, validates and freezes the configuration. Pure: it takes the environment as an
 * argument so tests can build any configuration without touching `process.env`.
 */
export function loadConfig(env: Env): Config {
  const problems: string[] = [];

  const raw = (name: VariableName): string | undefined => {
    const value = env[name];
    if (value !== undefined && value.trim() !== '') return value.trim();
    const def = definitionByName.get(name);
    return def && 'default' in def ? def.default : undefined;
  };
  const str = (name: VariableName): string | undefined => raw(name);
  const int = (name: VariableName): number => {
    const def = definitionByName.get(name)!;
    const text = raw(name) ?? '0';
    const value = Number(text);
    if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value)) {
      problems.push(`${name} must be an integer, got "${text}"`);
      return 0;
    }
    if (def.min !== undefined && value < def.min) problems.push(`${name} must be at least ${def.min}, got ${value}`);
    if (def.max !== undefined && value > def.max) problems.push(`${name} must be at most ${def.max}, got ${value}`);
    return value;
  };
  const bool = (name: VariableName): boolean => {
    const text = (raw(name) ?? 'false').toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(text)) return true;
    if (['false', '0', 'no', 'off'].includes(text)) return false;
    problems.push(`${name} must be true or false, got "${text}"`);
    return false;
  };
  const url = (name: VariableName, fallback?: string): string | undefined => {
    const text = raw(name) ?? fallback;
    if (text === undefined) return undefined;
    try {
      const parsed = new URL(text);
      if (name !== 'DATABASE_URL' && !['http:', 'https:'].includes(parsed.protocol)) {
        problems.push(`${name} must be an http(s) URL, got "${text}"`);
      }
      return name === 'DATABASE_URL' ? text : text.replace(/\/+$/, '');
    } catch {
      problems.push(`${name} must be a URL, got "${name === 'DATABASE_URL' ? '<hidden>' : text}"`);
      return undefined;
    }
  };
  const oneOf = <T extends string>(name: VariableName): T => {
    const def = definitionByName.get(name)!;
    const text = raw(name) ?? '';
    if (!def.values?.includes(text)) problems.push(`${name} must be one of ${def.values?.join(', ')}, got "${text}"`);
    return text as T;
  };
  const size = (name: VariableName): number => {
    const text = raw(name) ?? '';
    const value = parseSize(text);
    if (value === undefined || value <= 0) {
      problems.push(`${name} must be a size such as 512kb or 1mb, got "${text}"`);
      return 0;
    }
    return value;
  };
  const list = (name: VariableName): string[] =>
    (raw(name) ?? '').split(',').map((s) => s.trim()).filter(Boolean);

  const port = int('CAIRN_PORT');
  const contentPort = int('CAIRN_CONTENT_PORT');
  const publicUrl = url('CAIRN_PUBLIC_URL', `http://localhost:${port}`) ?? '';
  const contentUrl = url('CAIRN_CONTENT_URL', `http://127.0.0.1:${contentPort}`) ?? '';
  if (publicUrl && contentUrl) {
    try {
      if (new URL(publicUrl).hostname === new URL(contentUrl).hostname) {
        problems.push('CAIRN_CONTENT_URL must use a different host name from CAIRN_PUBLIC_URL: browsers share cookies across ports of one host, so untrusted content would reach console sessions');
      }
    } catch {
      // already reported
    }
  }
  if (port !== 0 && port === contentPort) problems.push(`CAIRN_CONTENT_PORT must differ from CAIRN_PORT (both are ${port})`);
  for (const origin of list('CAIRN_CORS_ORIGINS')) {
    let protocol: string | undefined;
    try {
      protocol = new URL(origin).protocol;
    } catch {
      // reported below
    }
    if (protocol !== 'http:' && protocol !== 'https:') problems.push(`CAIRN_CORS_ORIGINS entry "${origin}" is not an http(s) origin`);
  }

  const trustProxyText = raw('CAIRN_TRUST_PROXY') ?? 'false';
  const trustProxy: boolean | number | string[] =
    trustProxyText === 'true' ? true
      : trustProxyText === 'false' ? false
        : /^\d+$/.test(trustProxyText) ? Number(trustProxyText)
          : trustProxyText.split(',').map((s) => s.trim()).filter(Boolean);
  // Express compiles this list only when the app is built; a typo would crash there with a bare "invalid IP address".
  if (Array.isArray(trustProxy)) {
    for (const entry of trustProxy) {
      if (!isProxySpec(entry)) problems.push(`CAIRN_TRUST_PROXY entry "${entry}" is not true, false, a hop count, an IP address, a subnet (10.0.0.0/8) or loopback/linklocal/uniquelocal`);
    }
  }

  const databaseUrl = url('DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//i.test(databaseUrl)) problems.push('DATABASE_URL must be a postgres:// or postgresql:// connection string');
  const dataDir = path.resolve(str('CAIRN_DATA_DIR') ?? './data');
  const secretKey = str('CAIRN_SECRET_KEY');
  if (secretKey !== undefined && secretKey.length < 32) problems.push('CAIRN_SECRET_KEY must be at least 32 characters');
  if (secretKey === undefined && databaseUrl !== undefined) {
    problems.push('CAIRN_SECRET_KEY is required when DATABASE_URL is set (every node must share it); generate one with `openssl rand -base64 48`');
  }

  const blobStore = oneOf<'local' | 's3'>('CAIRN_BLOB_STORE');
  let s3: S3Config | undefined;
  if (blobStore === 's3') {
    const bucket = str('CAIRN_S3_BUCKET');
    if (!bucket) problems.push('CAIRN_S3_BUCKET is required when CAIRN_BLOB_STORE=s3');
    const accessKeyId = str('CAIRN_S3_ACCESS_KEY_ID');
    const secretAccessKey = str('CAIRN_S3_SECRET_ACCESS_KEY');
    if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
      problems.push('CAIRN_S3_ACCESS_KEY_ID and CAIRN_S3_SECRET_ACCESS_KEY must be set together');
    }
    const threshold = size('CAIRN_S3_MULTIPART_THRESHOLD');
    if (threshold > 0 && threshold < 5 * 1024 ** 2) problems.push('CAIRN_S3_MULTIPART_THRESHOLD must be at least 5mb (the S3 minimum part size)');
    s3 = {
      endpoint: url('CAIRN_S3_ENDPOINT'),
      region: str('CAIRN_S3_REGION') ?? 'us-east-1',
      bucket: bucket ?? '',
      accessKeyId,
      secretAccessKey,
      forcePathStyle: bool('CAIRN_S3_FORCE_PATH_STYLE'),
      prefix: str('CAIRN_S3_PREFIX') ?? '',
      multipartThresholdBytes: threshold,
    };
  }

  const adminPassword = str('CAIRN_ADMIN_PASSWORD');
  if (adminPassword !== undefined && adminPassword.length < 12) problems.push('CAIRN_ADMIN_PASSWORD must be at least 12 characters');
  const adminEmail = str('CAIRN_ADMIN_EMAIL') ?? 'admin@cairn.local';
  if (!/^[^\s@]+@[^\s@]+$/.test(adminEmail)) problems.push(`CAIRN_ADMIN_EMAIL must be an email address, got "${adminEmail}"`);

  const lrsKey = str('CAIRN_LRS_KEY');
  const lrsSecret = str('CAIRN_LRS_SECRET');
  if ((lrsKey === undefined) !== (lrsSecret === undefined)) problems.push('CAIRN_LRS_KEY and CAIRN_LRS_SECRET must be set together');
  if (lrsKey !== undefined && !/^[A-Za-z0-9._~-]{1,100}$/.test(lrsKey)) problems.push('CAIRN_LRS_KEY may only contain letters, digits and . _ ~ - (it is an HTTP Basic user name)');
  if (lrsSecret !== undefined && lrsSecret.length < 16) problems.push('CAIRN_LRS_SECRET must be at least 16 characters');

  const config: Config = {
    host: str('CAIRN_HOST') ?? '127.0.0.1',
    port,
    publicUrl,
    contentPort,
    contentUrl,
    trustProxy,
    corsOrigins: list('CAIRN_CORS_ORIGINS').map((o) => o.replace(/\/+$/, '')),
    bodyLimitBytes: size('CAIRN_BODY_LIMIT'),
    shutdownTimeoutMs: int('CAIRN_SHUTDOWN_TIMEOUT_MS'),
    logLevel: oneOf<LogLevel>('CAIRN_LOG_LEVEL'),
    databaseUrl,
    dataDir,
    embeddedPgPort: int('CAIRN_EMBEDDED_PG_PORT'),
    dbPoolMax: int('CAIRN_DB_POOL_MAX'),
    secretKey,
    blobStore,
    blobDir: path.resolve(str('CAIRN_BLOB_DIR') ?? path.join(dataDir, 'blobs')),
    s3,
    adminEmail: adminEmail.toLowerCase(),
    adminPassword,
    sessionIdleMinutes: int('CAIRN_SESSION_IDLE_MINUTES'),
    sessionMaxHours: int('CAIRN_SESSION_MAX_HOURS'),
    loginMaxFailures: int('CAIRN_LOGIN_MAX_FAILURES'),
    loginLockoutMinutes: int('CAIRN_LOGIN_LOCKOUT_MINUTES'),
    apiRateLimitPerMinute: int('CAIRN_RATE_LIMIT_API_PER_MINUTE'),
    loginRateLimitPerMinute: int('CAIRN_RATE_LIMIT_LOGIN_PER_MINUTE'),
    metricsToken: str('CAIRN_METRICS_TOKEN'),
    lrsKey,
    lrsSecret,
    xapiBodyLimitBytes: size('CAIRN_XAPI_BODY_LIMIT'),
    xapiStatementPageMax: int('CAIRN_XAPI_STATEMENT_PAGE_MAX'),
    jobsEnabled: bool('CAIRN_JOBS_ENABLED'),
    auditRetentionDays: int('CAIRN_AUDIT_RETENTION_DAYS'),
    scorm: {
      maxUploadBytes: size('CAIRN_SCORM_MAX_UPLOAD'),
      maxUncompressedBytes: size('CAIRN_SCORM_MAX_UNCOMPRESSED'),
      maxEntries: int('CAIRN_SCORM_MAX_ENTRIES'),
      maxRatio: int('CAIRN_SCORM_MAX_RATIO'),
      tempDir: path.resolve(str('CAIRN_SCORM_TEMP_DIR') ?? path.join(dataDir, 'tmp', 'scorm')),
    },
    lti: {
      keyRotationDays: int('CAIRN_LTI_KEY_ROTATION_DAYS'),
      keyOverlapDays: int('CAIRN_LTI_KEY_OVERLAP_DAYS'),
      launchLogDays: int('CAIRN_LTI_LAUNCH_LOG_DAYS'),
      rosterMaxAgeMinutes: int('CAIRN_LTI_ROSTER_MAX_AGE_MINUTES'),
      serviceRetrySeconds: int('CAIRN_LTI_SERVICE_RETRY_SECONDS'),
      scoreMaxAttempts: int('CAIRN_LTI_SCORE_MAX_ATTEMPTS'),
    },
  };
  if (config.lti.keyOverlapDays >= config.lti.keyRotationDays) {
    problems.push(`CAIRN_LTI_KEY_OVERLAP_DAYS (${config.lti.keyOverlapDays}) must be less than CAIRN_LTI_KEY_ROTATION_DAYS (${config.lti.keyRotationDays})`);
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

/** What Express's `trust proxy` (proxy-addr) accepts in a list: names, addresses and subnets. */
function isProxySpec(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [address, range, ...rest] = entry.split('/');
  if (rest.length > 0 || !address || isIP(address) === 0) return false;
  if (range === undefined) return true;
  if (/^\d+$/.test(range)) return Number(range) <= (isIP(address) === 4 ? 32 : 128);
  return isIP(address) === 4 && isIP(range) === 4; // netmask form: 10.0.0.0/255.0.0.0
}

/** The settings object and everything in it (S3 settings, origin lists) are read-only. */
function deepFreeze<T extends object>(value: T): T {
  for (const member of Object.values(value)) if (typeof member === 'object' && member !== null) deepFreeze(member as object);
  return Object.freeze(value);
}

/** The Markdown table in docs/configuration.md, generated from the definitions. */
export function renderConfigTable(): string {
  const groups = [...new Set(variables.map((v) => v.group))];
  const escape = (s: string) => s.replace(/\|/g, '\\|');
  const out: string[] = [];
  for (const group of groups) {
    out.push(`## ${group}`, '', '| Variable | Type | Default | Description |', '| --- | --- | --- | --- |');
    for (const v of variables.filter((x) => x.group === group) as readonly VariableDefinition[]) {
      const bounds = v.min !== undefined && v.max !== undefined ? ` ${v.min}–${v.max}` : v.min !== undefined ? ` ≥ ${v.min}` : v.max !== undefined ? ` ≤ ${v.max}` : '';
      const type = v.kind === 'enum' ? v.values!.map((x) => `\`${x}\``).join(' \\| ') : `${v.kind}${bounds}`;
      const def = v.default !== undefined ? (v.default === '' ? '(empty)' : `\`${v.default}\``) : v.derivedDefault ?? '(unset)';
      out.push(`| \`${v.name}\`${v.secret ? ' (secret)' : ''} | ${type} | ${def} | ${escape(v.description)} |`);
    }
    out.push('');
  }
  return out.join('\n');
}
