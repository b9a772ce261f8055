import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair, importPKCS8, type CryptoKey, type JWK } from 'jose';
import type { Logger } from 'pino';
import { withTransaction, type Db, type Queryable } from '../../db/index.js';
import type { SecretBox } from '../../auth/secret-box.js';
import type { Clock } from '../../deps.js';
import * as repo from './repository.js';

const secretPurpose = 'lti-signing-key';
/** How long a node reuses what it read about keys; a rotation elsewhere reaches it within this time. */
const cacheMs = 60_000;

export interface KeyRingOptions {
  /** A current key is replaced after this many days. */
  readonly rotationDays: number;
  /** A replaced key stays in the JWKS this long, so tokens it signed shortly before still verify. */
  readonly overlapDays: number;
}

export interface SigningKey {
  readonly kid: string;
  readonly key: CryptoKey;
}

export interface PublicKeyInfo {
  readonly kid: string;
  readonly alg: string;
  readonly status: repo.KeyStatus;
  readonly created_at: string;
  readonly activated_at: string | null;
  readonly deactivated_at: string | null;
  readonly published_until: string | null;
}

export interface RotationOutcome {
  readonly rotated: boolean;
  readonly current: string;
  readonly next: string;
  readonly retired: readonly string[];
}

/**
 * Cairn's own RS256 keys, installation-wide (decision 0055): one `current` key signs, a `next`
 * key is published ahead of its use so platforms that cache the JWKS already know it, and the
 * `previous` key stays published for the overlap period after a rotation. Private keys are
 * sealed with the secret box and never leave the server.
 */
export class KeyRing {
  private signing: { value: SigningKey; loadedAt: number } | undefined;
  private published: { value: { keys: JWK[] }; loadedAt: number } | undefined;

  constructor(
    private readonly deps: { db: Db; secrets: SecretBox; clock: Clock; log: Logger },
    private readonly options: KeyRingOptions,
  ) {
    if (!(options.rotationDays > options.overlapDays)) throw new Error('KeyRing: rotationDays must be greater than overlapDays');
  }

  /** Creates the current and next keys when missing (first start). Safe on several nodes at once. */
  async ensureKeys(): Promise<void> {
    if ((await repo.findKeyByStatus(this.deps.db, 'current')) && (await repo.findKeyByStatus(this.deps.db, 'next'))) return;
    await withTransaction(this.deps.db, async (tx) => {
      await repo.lockKeys(tx);
      const now = this.deps.clock.now();
      if (!(await repo.findKeyByStatus(tx, 'current'))) await this.createKey(tx, 'current', now);
      if (!(await repo.findKeyByStatus(tx, 'next'))) await this.createKey(tx, 'next', now);
    });
    this.forget();
  }

  /** The scheduled job: retire keys past their overlap, rotate when the current key is old enough. */
  async rotateIfDue(): Promise<RotationOutcome> {
    return this.rotate(false);
  }

  /** Rotates now (an operator suspecting a leak), whatever the current key's age. */
  async rotateNow(): Promise<RotationOutcome> {
    return this.rotate(true);
  }

  private async rotate(force: boolean): Promise<RotationOutcome> {
    const outcome = await withTransaction(this.deps.db, async (tx) => {
      await repo.lockKeys(tx);
      const now = this.deps.clock.now();
      const retired = await repo.retireExpiredKeys(tx, now);
      let current = await repo.findKeyByStatus(tx, 'current');
      let next = await repo.findKeyByStatus(tx, 'next');
      if (!current) current = await this.createKey(tx, 'current', now);
      if (!next) next = await this.createKey(tx, 'next', now);
      const age = now.getTime() - (current.activated_at ?? current.created_at).getTime();
      if (!force && age < this.options.rotationDays * 86_400_000) {
        return { rotated: false, current: current.kid, next: next.kid, retired };
      }
      const publishedUntil = new Date(now.getTime() + this.options.overlapDays * 86_400_000);
      await repo.updateKey(tx, current.kid, { status: 'previous', deactivated_at: now, published_until: publishedUntil });
      await repo.updateKey(tx, next.kid, { status: 'current', activated_at: now });
      const fresh = await this.createKey(tx, 'next', now);
      return { rotated: true, current: next.kid, next: fresh.kid, retired };
    });
    if (outcome.rotated || outcome.retired.length > 0) {
      this.deps.log.info({ current: outcome.current, next: outcome.next, retired: outcome.retired }, 'LTI signing keys rotated');
    }
    this.forget();
    return outcome;
  }

  /** The key that signs Cairn's JWTs now. */
  async signingKey(): Promise<SigningKey> {
    const now = Date.now();
    if (this.signing && now - this.signing.loadedAt < cacheMs) return this.signing.value;
    let row = await repo.findKeyByStatus(this.deps.db, 'current');
    if (!row?.private_key_encrypted) {
      await this.ensureKeys();
      row = await repo.findKeyByStatus(this.deps.db, 'current');
    }
    if (!row?.private_key_encrypted) throw new Error('No current LTI signing key');
    const pem = this.deps.secrets.decrypt(secretPurpose, row.private_key_encrypted);
    const value = { kid: row.kid, key: await importPKCS8(pem, 'RS256') };
    this.signing = { value, loadedAt: now };
    return value;
  }

  /** The JWKS document: next, current and still-published previous keys (public halves only). */
  async jwks(): Promise<{ keys: JWK[] }> {
    const now = Date.now();
    if (this.published && now - this.published.loadedAt < cacheMs) return this.published.value;
    let rows = await repo.listKeys(this.deps.db, ['next', 'current', 'previous']);
    if (!rows.some((r) => r.status === 'current')) {
      await this.ensureKeys();
      rows = await repo.listKeys(this.deps.db, ['next', 'current', 'previous']);
    }
    const at = this.deps.clock.now();
    const order: Record<repo.KeyStatus, number> = { current: 0, next: 1, previous: 2, retired: 3 };
    const keys = rows
      .filter((r) => r.status !== 'previous' || (r.published_until !== null && r.published_until > at))
      .sort((a, b) => order[a.status] - order[b.status])
      .map((r) => r.public_jwk as JWK);
    const value = { keys };
    this.published = { value, loadedAt: now };
    return value;
  }

  async describe(db: Queryable = this.deps.db): Promise<PublicKeyInfo[]> {
    const rows = await repo.listKeys(db);
    return rows.map((r) => ({
      kid: r.kid, alg: r.alg, status: r.status,
      created_at: r.created_at.toISOString(),
      activated_at: r.activated_at?.toISOString() ?? null,
      deactivated_at: r.deactivated_at?.toISOString() ?? null,
      published_until: r.published_until?.toISOString() ?? null,
    }));
  }

  /** Drops this node's cached key material (after a rotation, and in tests). */
  forget(): void {
    this.signing = undefined;
    this.published = undefined;
  }

  private async createKey(db: Queryable, status: 'current' | 'next', now: Date): Promise<repo.KeyRow> {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
    const jwk = await exportJWK(publicKey);
    // RFC 7638 thumbprint: a kid derived from the key itself, stable and collision-free.
    const kid = await calculateJwkThumbprint(jwk, 'sha256');
    const publicJwk = { kty: jwk.kty, n: jwk.n, e: jwk.e, kid, alg: 'RS256', use: 'sig' };
    const row = {
      kid, alg: 'RS256', public_jwk: publicJwk, status,
      private_key_encrypted: this.deps.secrets.encrypt(secretPurpose, await exportPKCS8(privateKey)),
      created_at: now,
      activated_at: status === 'current' ? now : null,
    };
    await repo.insertKey(db, row);
    return { ...row, deactivated_at: null, published_until: null };
  }
}
