/**
 * Every setting Cairn reads from the environment, in one table. `loadConfig` parses these,
 * `docs/configuration.md` is rendered from them (a test keeps the two in sync), and nothing
 * else in the code base reads `process.env`.
 */
export type VariableKind = 'string' | 'url' | 'integer' | 'boolean' | 'enum' | 'list' | 'size';

export interface VariableDefinition {
  readonly name: string;
  readonly kind: VariableKind;
  /** Literal default, or a description of the derived default for the docs table. */
  readonly default?: string;
  readonly derivedDefault?: string;
  readonly values?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  /** Secrets are never logged and never shown in the docs table with a value. */
  readonly secret?: boolean;
  readonly group: string;
  readonly description: string;
}

export const variables = [
  // Server
  { name: 'CAIRN_HOST', kind: 'string', default: '127.0.0.1', group: 'Server', description: 'Interface the HTTP servers bind to. Use `0.0.0.0` in a container.' },
  { name: 'CAIRN_PORT', kind: 'integer', default: '3000', min: 0, max: 65535, group: 'Server', description: 'Port of the main origin (console, admin API, LTI, xAPI).' },
  { name: 'CAIRN_PUBLIC_URL', kind: 'url', derivedDefault: '`http://localhost:<CAIRN_PORT>`', group: 'Server', description: 'External base URL of the main origin, as browsers and LMSs reach it. Cookies get `Secure` when it is https.' },
  { name: 'CAIRN_CONTENT_PORT', kind: 'integer', default: '3001', min: 0, max: 65535, group: 'Server', description: 'Port of the content origin that serves SCORM players and package files.' },
  { name: 'CAIRN_CONTENT_URL', kind: 'url', derivedDefault: '`http://127.0.0.1:<CAIRN_CONTENT_PORT>`', group: 'Server', description: 'External base URL of the content origin. Must be a different site from `CAIRN_PUBLIC_URL` (a different host, not only a different port) so untrusted content never shares cookies with the console.' },
  { name: 'CAIRN_TRUST_PROXY', kind: 'string', default: 'false', group: 'Server', description: 'Express `trust proxy` setting: `false`, `true`, a hop count, or a comma-separated list of proxy addresses/subnets. Decides which client IP rate limits and the audit log see.' },
  { name: 'CAIRN_CORS_ORIGINS', kind: 'list', default: '', group: 'Server', description: 'Comma-separated extra origins allowed to call `/api/v1` with credentials (the public URL is always allowed).' },
  { name: 'CAIRN_BODY_LIMIT', kind: 'size', default: '1mb', group: 'Server', description: 'Largest JSON request body accepted by `/api/v1` (larger → 413).' },
  { name: 'CAIRN_SHUTDOWN_TIMEOUT_MS', kind: 'integer', default: '10000', min: 0, group: 'Server', description: 'How long graceful shutdown waits for in-flight requests and jobs before closing connections.' },
  { name: 'CAIRN_LOG_LEVEL', kind: 'enum', default: 'info', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], group: 'Server', description: 'pino log level. Logs are JSON lines on stdout.' },

  // Persistence
  { name: 'DATABASE_URL', kind: 'url', group: 'Persistence', description: 'PostgreSQL connection string. When unset, Cairn starts an embedded PostgreSQL under `CAIRN_DATA_DIR/pg` and stops it on shutdown.' },
  { name: 'CAIRN_DATA_DIR', kind: 'string', default: './data', group: 'Persistence', description: 'Directory for the embedded PostgreSQL, local blobs and generated secrets.' },
  { name: 'CAIRN_EMBEDDED_PG_PORT', kind: 'integer', default: '54329', min: 1, max: 65535, group: 'Persistence', description: 'Port the embedded PostgreSQL listens on (127.0.0.1 only).' },
  { name: 'CAIRN_DB_POOL_MAX', kind: 'integer', default: '10', min: 1, max: 1000, group: 'Persistence', description: 'Maximum connections in the database pool of one Cairn process.' },
  { name: 'CAIRN_SECRET_KEY', kind: 'string', secret: true, group: 'Persistence', description: 'At least 32 characters; the key that encrypts secrets at rest (TOTP secrets, LTI private keys). Required with `DATABASE_URL`; with the embedded database it is generated once into `CAIRN_DATA_DIR/secret.key`. Every node of one deployment needs the same value.' },

  // Blob storage
  { name: 'CAIRN_BLOB_STORE', kind: 'enum', default: 'local', values: ['local', 's3'], group: 'Blob storage', description: 'Where files (SCORM content, xAPI attachments, exports) live.' },
  { name: 'CAIRN_BLOB_DIR', kind: 'string', derivedDefault: '`<CAIRN_DATA_DIR>/blobs`', group: 'Blob storage', description: 'Root directory of the local-disk blob store.' },
  { name: 'CAIRN_S3_ENDPOINT', kind: 'url', group: 'Blob storage', description: 'S3-compatible endpoint (MinIO, Ceph RGW, …). Unset means AWS S3 of `CAIRN_S3_REGION`.' },
  { name: 'CAIRN_S3_REGION', kind: 'string', default: 'us-east-1', group: 'Blob storage', description: 'S3 region; S3-compatible servers (MinIO, Ceph) usually accept any value, often `us-east-1`.' },
  { name: 'CAIRN_S3_BUCKET', kind: 'string', group: 'Blob storage', description: 'S3 bucket; required when `CAIRN_BLOB_STORE=s3`.' },
  { name: 'CAIRN_S3_ACCESS_KEY_ID', kind: 'string', group: 'Blob storage', description: 'S3 access key id. Unset means the AWS SDK default credential chain.' },
  { name: 'CAIRN_S3_SECRET_ACCESS_KEY', kind: 'string', secret: true, group: 'Blob storage', description: 'S3 secret access key.' },
  { name: 'CAIRN_S3_FORCE_PATH_STYLE', kind: 'boolean', default: 'false', group: 'Blob storage', description: 'Use path-style addressing (`endpoint/bucket/key`), as MinIO and Ceph usually need.' },
  { name: 'CAIRN_S3_PREFIX', kind: 'string', default: '', group: 'Blob storage', description: 'Key prefix inside the bucket, so several deployments can share one bucket.' },
  { name: 'CAIRN_S3_MULTIPART_THRESHOLD', kind: 'size', default: '16mb', group: 'Blob storage', description: 'Objects larger than this are uploaded in parts (part size is the same value, minimum 5 MB).' },

  // Identity and access
  { name: 'CAIRN_ADMIN_EMAIL', kind: 'string', group: 'Identity and access', description: 'Email of the first administrator, created at first start. When unset, `admin@cairn.local` is used.' },
  { name: 'CAIRN_ADMIN_PASSWORD', kind: 'string', secret: true, group: 'Identity and access', description: 'Password of the first administrator (12+ characters). When unset, one is generated and printed once.' },
  { name: 'CAIRN_SESSION_IDLE_MINUTES', kind: 'integer', default: '30', min: 1, group: 'Identity and access', description: 'Console sessions end after this long without a request.' },
  { name: 'CAIRN_SESSION_MAX_HOURS', kind: 'integer', default: '12', min: 1, group: 'Identity and access', description: 'Console sessions end this long after login, however active.' },
  { name: 'CAIRN_LOGIN_MAX_FAILURES', kind: 'integer', default: '5', min: 1, group: 'Identity and access', description: 'Consecutive failed logins that lock an account.' },
  { name: 'CAIRN_LOGIN_LOCKOUT_MINUTES', kind: 'integer', default: '15', min: 1, group: 'Identity and access', description: 'How long a locked account stays locked.' },
  { name: 'CAIRN_RATE_LIMIT_API_PER_MINUTE', kind: 'integer', default: '100', min: 1, group: 'Identity and access', description: 'Requests per minute one user (session or API token) may make to `/api/v1`; beyond it → 429 with Retry-After. Counted in PostgreSQL, shared by all nodes.' },
  { name: 'CAIRN_RATE_LIMIT_LOGIN_PER_MINUTE', kind: 'integer', default: '20', min: 1, group: 'Identity and access', description: 'Login attempts per minute from one client IP.' },
  { name: 'CAIRN_METRICS_TOKEN', kind: 'string', secret: true, group: 'Identity and access', description: 'Bearer token that `/metrics` requires. When unset, `/metrics` answers only loopback clients.' },

  // Learning Record Store
  { name: 'CAIRN_LRS_KEY', kind: 'string', group: 'Learning Record Store', description: 'With `CAIRN_LRS_SECRET`: seeds an xAPI credential (scope `all`) on the default tenant\'s default LRS store at start, like SQL LRS\'s `LRSQL_API_KEY_DEFAULT`.' },
  { name: 'CAIRN_LRS_SECRET', kind: 'string', secret: true, group: 'Learning Record Store', description: 'Secret of the seeded xAPI credential (at least 16 characters).' },
  { name: 'CAIRN_XAPI_BODY_LIMIT', kind: 'size', default: '20mb', group: 'Learning Record Store', description: 'Largest request body `/xapi` accepts (statement batches with attachments, documents); larger → 413. Advertised in `/xapi/about`.' },
  { name: 'CAIRN_XAPI_STATEMENT_PAGE_MAX', kind: 'integer', default: '500', min: 1, max: 10000, group: 'Learning Record Store', description: 'Most statements one `GET /xapi/statements` page returns (`limit=0` means this many).' },

  // SCORM packages
  { name: 'CAIRN_SCORM_MAX_UPLOAD', kind: 'size', default: '2gb', group: 'SCORM packages', description: 'Largest package upload (`POST /api/v1/packages`) or imported object; larger → 413 before anything is kept.' },
  { name: 'CAIRN_SCORM_MAX_UNCOMPRESSED', kind: 'size', default: '4gb', group: 'SCORM packages', description: 'Most bytes a package may inflate to in total, counted as entries are actually inflated (zip-bomb guard; the headers are not trusted).' },
  { name: 'CAIRN_SCORM_MAX_ENTRIES', kind: 'integer', default: '50000', min: 1, group: 'SCORM packages', description: 'Most entries (files and folders) a package zip may hold.' },
  { name: 'CAIRN_SCORM_MAX_RATIO', kind: 'integer', default: '100', min: 2, group: 'SCORM packages', description: 'Largest compression ratio (inflated ÷ compressed) of one entry once it inflates past 1 MiB; beyond it the package is rejected as a zip bomb.' },
  { name: 'CAIRN_SCORM_TEMP_DIR', kind: 'string', derivedDefault: '`<CAIRN_DATA_DIR>/tmp/scorm`', group: 'SCORM packages', description: 'Where a package zip is spooled to disk while it is extracted (zip needs random access). Needs room for the largest upload times the import concurrency.' },

  // LTI
  { name: 'CAIRN_LTI_KEY_ROTATION_DAYS', kind: 'integer', default: '90', min: 2, max: 3650, group: 'LTI', description: 'Cairn\'s LTI signing key (RS256, published at `/.well-known/jwks.json`) is replaced by the already-published next key after this many days; a daily job checks.' },
  { name: 'CAIRN_LTI_KEY_OVERLAP_DAYS', kind: 'integer', default: '7', min: 1, max: 365, group: 'LTI', description: 'After a rotation the replaced key stays in the JWKS this long, so platforms can still verify what it signed. Must be less than the rotation period.' },
  { name: 'CAIRN_LTI_LAUNCH_LOG_DAYS', kind: 'integer', default: '180', min: 1, group: 'LTI', description: 'LTI launch-log entries (successful and refused launches) older than this are purged.' },
  { name: 'CAIRN_LTI_ROSTER_MAX_AGE_MINUTES', kind: 'integer', default: '1440', min: 1, group: 'LTI', description: 'A launch queues a roster (NRPS) sync of its course when the last successful one is older than this (and none was requested in the last 15 minutes). Administrators can sync at any time.' },
  { name: 'CAIRN_LTI_SERVICE_RETRY_SECONDS', kind: 'integer', default: '30', min: 1, max: 3600, group: 'LTI', description: 'First retry delay of a grade passback (AGS) or roster sync call that failed for a temporary reason (network, 5xx, 429); it doubles with each attempt, up to an hour.' },
  { name: 'CAIRN_LTI_SCORE_MAX_ATTEMPTS', kind: 'integer', default: '10', min: 1, max: 50, group: 'LTI', description: 'Attempts to deliver one score to a platform before it is recorded as failed. A refusal (4xx other than 401 and 429) fails at once.' },

  // Jobs and retention
  { name: 'CAIRN_JOBS_ENABLED', kind: 'boolean', default: 'true', group: 'Jobs and retention', description: 'Run background job workers (pg-boss) in this process. Turn off on nodes that should only serve HTTP.' },
  { name: 'CAIRN_AUDIT_RETENTION_DAYS', kind: 'integer', default: '365', min: 1, group: 'Jobs and retention', description: 'Audit-log entries older than this are purged by a daily job.' },
] as const satisfies readonly VariableDefinition[];

export type VariableName = (typeof variables)[number]['name'];
