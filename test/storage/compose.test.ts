import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig, variables } from '../../src/config/index.js';

/**
 * docker-compose.yml and the Dockerfile cannot run here (no Docker), so they are checked by
 * reading: every variable they give Cairn must be one Cairn knows, and the configuration
 * they produce must load — so neither can drift from src/config/definitions.ts unnoticed.
 */

const root = path.resolve(import.meta.dirname, '../..');
const composeText = fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');
const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
const known = new Set<string>(variables.map((v) => v.name));

type Env = Record<string, string | undefined>;

/**
 * Compose's variable interpolation (compose-spec "Interpolation"): `$$`, `$VAR`, `${VAR}`,
 * `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`, `${VAR+alt}`.
 * Anything else after `$` is an error in compose, so it is one here too.
 */
function interpolate(text: string, env: Env): string {
  return text.replace(/\$(?:(\$)|([A-Za-z_][A-Za-z0-9_]*)|\{([^}]*)\}|)/g, (match, escaped?: string, bare?: string, braced?: string) => {
    if (escaped) return '$';
    if (bare) return env[bare] ?? '';
    if (braced === undefined) throw new Error(`invalid interpolation at "${match}" in ${JSON.stringify(text)}`);
    const parts = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(braced);
    if (!parts) throw new Error(`invalid interpolation "\${${braced}}"`);
    const [, name, operator, argument = ''] = parts;
    if (argument.includes('$')) throw new Error(`nested interpolation in "\${${braced}}" is not checked by this test; keep it simple`);
    const value = env[name!];
    const missing = operator?.startsWith(':') ? value === undefined || value === '' : value === undefined;
    switch (operator) {
      case undefined: return value ?? '';
      case ':-': case '-': return missing ? argument : value!;
      case ':?': case '?': if (missing) throw new Error(`required variable ${name} is missing a value: ${argument}`); return value!;
      case ':+': case '+': return missing ? '' : argument;
      default: throw new Error(`unknown operator ${operator}`);
    }
  });
}

function interpolateAll(node: unknown, env: Env): unknown {
  if (typeof node === 'string') return interpolate(node, env);
  if (Array.isArray(node)) return node.map((n) => interpolateAll(n, env));
  if (node && typeof node === 'object') return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolateAll(v, env)]));
  return node;
}

interface Service {
  image?: string;
  build?: unknown;
  environment?: Record<string, string | number | boolean | null>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] | string };
  volumes?: string[];
  ports?: string[];
  command?: string[] | string;
  entrypoint?: string[] | string;
}
interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

function compose(env: Env): ComposeFile {
  return interpolateAll(parse(composeText), env) as ComposeFile;
}

function environmentOf(service: Service | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(service?.environment ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/** ENV of the Dockerfile's final stage, which the container starts with before compose adds its own. */
function dockerfileEnv(): Record<string, string> {
  const lines = dockerfile.replace(/\\\r?\n/g, ' ').split(/\r?\n/);
  const finalStage = lines.slice(lines.map((l) => /^FROM\s/i.test(l)).lastIndexOf(true));
  const env: Record<string, string> = {};
  for (const line of finalStage) {
    const match = /^ENV\s+(.*)$/i.exec(line.trim());
    if (!match) continue;
    for (const pair of match[1]!.trim().split(/\s+/)) {
      const [key, ...rest] = pair.split('=');
      env[key!] = rest.join('=');
    }
  }
  return env;
}

const secret = 'placeholder-secret-key-of-at-least-32-characters';
const userEnvironments: Array<[string, Env]> = [
  ['defaults', { CAIRN_SECRET_KEY: secret }],
  ['overrides', {
    CAIRN_SECRET_KEY: secret, POSTGRES_PASSWORD: 'pg-pass-42', MINIO_ROOT_USER: 'storage-admin', MINIO_ROOT_PASSWORD: 'minio-pass-42',
    CAIRN_PUBLIC_URL: 'https://cairn.example.edu', CAIRN_CONTENT_URL: 'https://content.cairn.example.edu', CAIRN_ADMIN_PASSWORD: 'a long admin password',
  }],
];

describe('docker-compose.yml', () => {
  it('gives the cairn service only variables Cairn knows', () => {
    const cairn = compose({ CAIRN_SECRET_KEY: secret }).services['cairn'];
    const names = Object.keys(environmentOf(cairn));
    expect(names.length).toBeGreaterThan(10);
    expect(names.filter((name) => !known.has(name))).toEqual([]);
    expect(Object.keys(dockerfileEnv()).filter((name) => name.startsWith('CAIRN_') && !known.has(name))).toEqual([]);
  });

  it.each(userEnvironments)('produces an environment loadConfig accepts (%s): PostgreSQL, S3 path-style, all interfaces', (_name, userEnv) => {
    const file = compose(userEnv);
    const env = { ...dockerfileEnv(), ...environmentOf(file.services['cairn']) };
    const config = loadConfig(env);
    expect(config.host).toBe('0.0.0.0');
    expect(config.secretKey).toBe(secret);
    expect(new URL(config.databaseUrl!).hostname).toBe('postgres');
    expect(config.blobStore).toBe('s3');
    expect(config.s3).toMatchObject({ forcePathStyle: true, endpoint: 'http://minio:9000' });
    expect(new URL(config.publicUrl).hostname).not.toBe(new URL(config.contentUrl).hostname);
    expect(config.publicUrl).toBe(userEnv['CAIRN_PUBLIC_URL'] ?? 'http://localhost:3000');
    expect(config.contentUrl).toBe(userEnv['CAIRN_CONTENT_URL'] ?? 'http://127.0.0.1:3001');
    expect(config.adminPassword).toBe(userEnv['CAIRN_ADMIN_PASSWORD']);
  });

  it('refuses to start without CAIRN_SECRET_KEY (unset or empty), saying what to set', () => {
    expect(() => compose({})).toThrow(/set CAIRN_SECRET_KEY/);
    expect(() => compose({ CAIRN_SECRET_KEY: '' })).toThrow(/set CAIRN_SECRET_KEY/);
  });

  it.each(userEnvironments)('wires Cairn to the postgres and minio services it declares (%s)', (_name, userEnv) => {
    const file = compose(userEnv);
    const cairn = file.services['cairn']!;
    const env = environmentOf(cairn);

    // PostgreSQL: the URL names the service, its user, password and database.
    const postgres = environmentOf(file.services['postgres']);
    const database = new URL(env['DATABASE_URL']!);
    expect(file.services[database.hostname]?.image).toMatch(/^postgres:17/);
    expect(decodeURIComponent(database.username)).toBe(postgres['POSTGRES_USER']);
    expect(decodeURIComponent(database.password)).toBe(postgres['POSTGRES_PASSWORD']);
    expect(database.pathname).toBe(`/${postgres['POSTGRES_DB']}`);

    // MinIO: Cairn's keys are MinIO's root credentials, and the one-shot job creates Cairn's bucket.
    const endpoint = new URL(env['CAIRN_S3_ENDPOINT']!);
    const minio = file.services[endpoint.hostname]!;
    expect(minio.image).toMatch(/^minio\/minio:/);
    expect(endpoint.port).toBe('9000');
    expect(env['CAIRN_S3_ACCESS_KEY_ID']).toBe(environmentOf(minio)['MINIO_ROOT_USER']);
    expect(env['CAIRN_S3_SECRET_ACCESS_KEY']).toBe(environmentOf(minio)['MINIO_ROOT_PASSWORD']);
    const bucketJob = file.services['minio-bucket']!;
    expect(bucketJob.image).toMatch(/^minio\/mc:/);
    const jobEnv = environmentOf(bucketJob);
    expect(jobEnv['BUCKET']).toBe(env['CAIRN_S3_BUCKET']);
    expect(jobEnv['MINIO_ROOT_USER']).toBe(env['CAIRN_S3_ACCESS_KEY_ID']);
    expect(jobEnv['MINIO_ROOT_PASSWORD']).toBe(env['CAIRN_S3_SECRET_ACCESS_KEY']);
    const script = [bucketJob.command].flat().join(' ');
    expect(script).toContain('mc alias set cairn http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"');
    expect(script).toContain('mc mb --ignore-existing "cairn/$BUCKET"');
    expect(bucketJob.depends_on?.['minio']?.condition).toBe('service_healthy');
  });

  it('starts Cairn only after its dependencies are ready, and publishes both origins', () => {
    const file = compose({ CAIRN_SECRET_KEY: secret });
    const cairn = file.services['cairn']!;
    expect(cairn.build).toBe('.');
    expect(cairn.depends_on).toEqual({
      postgres: { condition: 'service_healthy' },
      minio: { condition: 'service_healthy' },
      'minio-bucket': { condition: 'service_completed_successfully' },
    });
    for (const name of ['postgres', 'minio']) {
      const service = file.services[name]!;
      expect(service.healthcheck?.test, name).toBeDefined();
      const volume = service.volumes?.[0]?.split(':')[0];
      expect(volume && file.volumes && volume in file.volumes, `${name} keeps its data in a named volume`).toBe(true);
    }
    const env = environmentOf(cairn);
    expect(cairn.ports).toEqual([`${env['CAIRN_PORT']}:${env['CAIRN_PORT']}`, `${env['CAIRN_CONTENT_PORT']}:${env['CAIRN_CONTENT_PORT']}`]);
    expect(new URL(env['CAIRN_PUBLIC_URL']!).port).toBe(env['CAIRN_PORT']);
    expect(new URL(env['CAIRN_CONTENT_URL']!).port).toBe(env['CAIRN_CONTENT_PORT']);
  });
});

describe('Dockerfile', () => {
  const instructions = dockerfile.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));

  it('builds on node:20-bookworm-slim with npm ci and npm run build', () => {
    const bases = instructions.filter((l) => /^FROM\s/i.test(l)).map((l) => l.split(/\s+/)[1]);
    expect(bases.length).toBeGreaterThan(0);
    expect(new Set(bases)).toEqual(new Set(['node:20-bookworm-slim']));
    expect(instructions.some((l) => /^RUN\s+npm ci\b/.test(l))).toBe(true);
    expect(instructions.some((l) => /^RUN\s+npm run build\b/.test(l))).toBe(true);
  });

  it('runs what `npm run build` produces, as a non-root user', () => {
    const finalStage = instructions.slice(instructions.map((l) => /^FROM\s/i.test(l)).lastIndexOf(true));
    const user = finalStage.filter((l) => /^USER\s/i.test(l)).at(-1)?.split(/\s+/)[1];
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    const cmd = JSON.parse(finalStage.find((l) => /^CMD\s/i.test(l))!.slice(4)) as string[];
    expect(cmd).toEqual(['node', '--max-semi-space-size=8', 'dist/src/main.js']);
    // package.json's start script runs the same file, so a change of build layout shows up here.
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['start']).toContain(`node ${cmd[1]}`);
    expect(fs.existsSync(path.join(root, 'src', 'main.ts'))).toBe(true);
  });

  it('leaves local state and secrets out of the build context', () => {
    const ignored = fs.readFileSync(path.join(root, '.dockerignore'), 'utf8').split(/\r?\n/).map((l) => l.trim());
    for (const entry of ['node_modules', 'dist', 'data', '.test-data', '.git', '.env']) expect(ignored).toContain(entry);
    expect(ignored).not.toContain('src');
    expect(ignored).not.toContain('migrations');
  });
});
