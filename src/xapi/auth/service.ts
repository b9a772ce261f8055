import { timingSafeEqual } from 'node:crypto';
import type { SecretBox } from '../../auth/secret-box.js';
import type { Logger } from 'pino';
import type { Config } from '../../config/index.js';
import type { Db, Queryable } from '../../db/index.js';
import type { Clock } from '../../deps.js';
import { AppError } from '../../errors/index.js';
import { randomSecret } from '../../auth/tokens.js';
import { findTenantBySlug, defaultTenantSlug } from '../../tenants/repository.js';
import * as repo from './repository.js';
import type { XapiScope } from './scopes.js';

/** The caller of an xAPI request: a credential of one store. */
export interface XapiCredential {
  readonly id: string;
  readonly key: string;
  readonly name: string;
  readonly storeId: string;
  readonly tenantId: string;
  readonly scopes: ReadonlySet<XapiScope>;
  /** The Agent Cairn writes as `authority` on statements this credential stores. */
  readonly authority: Readonly<Record<string, unknown>>;
}

/**
 * Secrets are compared as HMAC-SHA256 keyed from CAIRN_SECRET_KEY: fast enough for every
 * request (xAPI clients send Basic auth each time, so scrypt would cap throughput at a few
 * dozen requests per second per core), and a stolen database alone does not allow an
 * offline guess of seeded, human-chosen secrets. See docs/decisions/0030.
 */
export function hashSecret(secrets: SecretBox, secret: string): string {
  return secrets.mac('lrs-credential', secret);
}

interface CacheEntry {
  readonly credential: XapiCredential;
  readonly expires: number;
}

/**
 * Verifies Basic credentials with a short-lived cache of successful checks (keyed by the
 * HMAC of the whole header, so the cache never holds a secret). Revocation through the API
 * clears this node's cache at once; other nodes see it within `ttlMs`.
 */
export class XapiAuthenticator {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly secrets: SecretBox,
    private readonly clock: Clock,
    private readonly ttlMs = 5_000,
    private readonly maxEntries = 10_000,
  ) {}

  async authenticate(authorization: string | undefined): Promise<XapiCredential> {
    if (!authorization) throw new AppError('unauthenticated', 'Send HTTP Basic credentials of an LRS store (key:secret).', { headers: { 'WWW-Authenticate': 'Basic realm="Cairn LRS", charset="UTF-8"' } });
    const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization);
    if (!match?.[1]) throw invalid();
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw invalid();
    const key = decoded.slice(0, colon);
    const secret = decoded.slice(colon + 1);
    const cacheKey = this.secrets.mac('lrs-auth-cache', `${key}\u0000${secret}`);
    const now = this.clock.now().getTime();
    const cached = this.cache.get(cacheKey);
    if (cached && cached.expires > now) return cached.credential;

    const row = await repo.findActiveCredentialByKey(this.db, key);
    const expected = Buffer.from(row?.secret_hash ?? '0'.repeat(64), 'hex');
    const actual = Buffer.from(hashSecret(this.secrets, secret), 'hex');
    if (!row || expected.length !== actual.length || !timingSafeEqual(expected, actual)) throw invalid();

    const credential: XapiCredential = {
      id: row.id, key: row.key, name: row.name, storeId: row.store_id, tenantId: row.tenant_id,
      scopes: new Set(row.scopes), authority: row.authority,
    };
    if (this.cache.size >= this.maxEntries) this.cache.clear();
    this.cache.set(cacheKey, { credential, expires: now + this.ttlMs });
    // last_used_at is informational: write it at most once a minute per credential.
    if ((this.touched.get(row.id) ?? 0) < now - 60_000) {
      this.touched.set(row.id, now);
      await repo.touchCredential(this.db, row.id, this.clock.now());
    }
    return credential;
  }

  /** Forget cached checks of every credential of a store (after the store is deleted). */
  forgetStore(storeId: string): void {
    for (const [k, entry] of this.cache) if (entry.credential.storeId === storeId) this.cache.delete(k);
  }

  /** Forget cached checks of a credential (after revocation). */
  forget(credentialId: string): void {
    for (const [k, entry] of this.cache) if (entry.credential.id === credentialId) this.cache.delete(k);
  }
}

function invalid(): AppError {
  return new AppError('unauthenticated', 'The LRS credentials are wrong or revoked.', { headers: { 'WWW-Authenticate': 'Basic realm="Cairn LRS", charset="UTF-8"' } });
}

/** The authority Agent for a credential: an account on this Cairn, named by the key. */
export function authorityFor(config: Pick<Config, 'publicUrl'>, key: string, name: string): Record<string, unknown> {
  return { objectType: 'Agent', name, account: { homePage: config.publicUrl, name: key } };
}

export async function createCredential(db: Queryable, secrets: SecretBox, config: Pick<Config, 'publicUrl'>, input: { tenantId: string; storeId: string; name: string; scopes: XapiScope[]; key?: string; secret?: string }, now: Date) {
  const key = input.key ?? randomSecret(15);
  const secret = input.secret ?? randomSecret(30);
  const row = await repo.insertCredential(db, {
    tenant_id: input.tenantId,
    store_id: input.storeId,
    name: input.name,
    key,
    secret_hash: hashSecret(secrets, secret),
    scopes: [...new Set(input.scopes)],
    authority: authorityFor(config, key, input.name),
    created_at: now,
  });
  return { row, secret };
}

/**
 * Like SQL LRS: CAIRN_LRS_KEY / CAIRN_LRS_SECRET seed a credential with scope `all` on the
 * default tenant's default store (created if missing). Idempotent; a changed secret for the
 * same key replaces the old one.
 */
export async function seedLrsCredential(db: Db, secrets: SecretBox, config: Pick<Config, 'publicUrl' | 'lrsKey' | 'lrsSecret'>, clock: Clock, log: Logger): Promise<void> {
  if (!config.lrsKey || !config.lrsSecret) return;
  const tenant = await findTenantBySlug(db, defaultTenantSlug);
  if (!tenant) return;
  await db.transaction(async (tx) => {
    await tx.raw('select pg_advisory_xact_lock(hashtext(?))', ['cairn:lrs-seed']);
    const now = clock.now();
    const store = (await repo.findDefaultStore(tx, tenant.id)) ?? (await repo.insertStore(tx, { tenant_id: tenant.id, name: 'Default', description: 'Created at start', is_default: true }, now));
    const existing = await repo.findCredentialByKey(tx, config.lrsKey!);
    if (existing) {
      // The environment is authoritative: a changed secret (or a revoked seed) is reset in place.
      if (existing.secret_hash !== hashSecret(secrets, config.lrsSecret!) || existing.revoked_at) {
        await repo.resetCredentialSecret(tx, existing.id, hashSecret(secrets, config.lrsSecret!));
        log.info({ key: config.lrsKey }, 'reset the seeded LRS credential from CAIRN_LRS_KEY / CAIRN_LRS_SECRET');
      }
      return;
    }
    await createCredential(tx, secrets, config, { tenantId: tenant.id, storeId: store.id, name: 'Seeded (CAIRN_LRS_KEY)', scopes: ['all'], key: config.lrsKey!, secret: config.lrsSecret! }, now);
    log.info({ key: config.lrsKey, storeId: store.id }, 'seeded the LRS credential from CAIRN_LRS_KEY');
  });
}
