import { importJWK, type CryptoKey, type JWK } from 'jose';
import type { Logger } from 'pino';
import { LtiError } from './errors.js';

export interface RemoteJwksOptions {
  /** Keys are refetched after this long even when nothing asks (unless Cache-Control says otherwise). */
  readonly maxAgeMs?: number;
  /** Least time between two fetches of one URL triggered by unknown kids: a flood of tokens with random kids cannot make Cairn hammer a platform. */
  readonly refetchCooldownMs?: number;
  readonly timeoutMs?: number;
  /** Bytes; a key set is a few KB. */
  readonly maxBytes?: number;
  /** At most this many URLs cached; the least recently fetched goes first. */
  readonly maxEntries?: number;
  readonly fetch?: typeof fetch;
  readonly log?: Logger;
  /** Milliseconds since the epoch; the app passes its clock so tests can move time. */
  readonly now?: () => number;
}

interface Entry {
  keys: Map<string, CryptoKey>;
  fetchedAt: number;
  maxAgeMs: number;
  lastAttemptAt: number;
  inFlight: Promise<void> | undefined;
}

export interface KeyResolver {
  getKey(kid: string): Promise<CryptoKey>;
}

/**
 * A per-process cache of other parties' JWKS (platforms in the tool role, tools in the platform
 * role). A kid it has not seen triggers one refetch — deduplicated across concurrent requests
 * and rate-limited per URL — before the token is refused, so a platform's key rotation is
 * picked up at once. When a refetch fails, keys already known keep working.
 */
export class RemoteJwksCache {
  private readonly entries = new Map<string, Entry>();
  private readonly maxAgeMs: number;
  private readonly cooldownMs: number;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly maxEntries: number;
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;

  constructor(private readonly options: RemoteJwksOptions = {}) {
    this.maxAgeMs = options.maxAgeMs ?? 10 * 60_000;
    this.cooldownMs = options.refetchCooldownMs ?? 30_000;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.maxBytes = options.maxBytes ?? 256 * 1024;
    this.maxEntries = options.maxEntries ?? 1_000;
    this.fetchImpl = options.fetch ?? fetch;
    this.now = options.now ?? Date.now;
  }

  /** A resolver bound to one JWKS URL, for the validator. */
  resolver(url: string): KeyResolver {
    return { getKey: (kid) => this.getKey(url, kid) };
  }

  async getKey(url: string, kid: string): Promise<CryptoKey> {
    let entry = this.entries.get(url);
    const now = this.now();
    if (!entry || now - entry.fetchedAt > entry.maxAgeMs) {
      const neverWorked = !entry || entry.keys.size === 0;
      // A platform whose JWKS just failed is not asked again on every launch.
      if (entry && neverWorked && !entry.inFlight && now - entry.lastAttemptAt < this.cooldownMs) {
        throw new LtiError('jwks_unavailable', `The JWKS at ${url} could not be fetched moments ago; retrying after a pause.`);
      }
      entry = await this.refresh(url, neverWorked);
    }
    const known = entry.keys.get(kid);
    if (known) return known;
    if (this.now() - entry.lastAttemptAt >= this.cooldownMs || entry.inFlight) {
      entry = await this.refresh(url, false);
      const found = entry.keys.get(kid);
      if (found) return found;
    }
    throw new LtiError('kid_unknown', `No key with kid "${kid.slice(0, 100)}" in ${url}.`);
  }

  /** Forgets a URL (a registration's JWKS URL changed). */
  invalidate(url: string): void {
    this.entries.delete(url);
  }

  private async refresh(url: string, mustSucceed: boolean): Promise<Entry> {
    let entry = this.entries.get(url);
    if (!entry) {
      entry = { keys: new Map(), fetchedAt: 0, maxAgeMs: this.maxAgeMs, lastAttemptAt: 0, inFlight: undefined };
      this.remember(url, entry);
    }
    const target = entry;
    target.inFlight ??= (async () => {
      target.lastAttemptAt = this.now();
      try {
        const { keys, maxAgeMs } = await this.fetchKeys(url);
        target.keys = keys;
        target.maxAgeMs = maxAgeMs;
        target.fetchedAt = this.now();
      } catch (error) {
        this.options.log?.warn({ url, err: error }, 'platform JWKS fetch failed');
        // Serve the keys we have; a platform outage should not stop launches signed with them.
        if (target.keys.size === 0 || mustSucceed) throw error;
      } finally {
        target.inFlight = undefined;
      }
    })();
    await target.inFlight;
    return target;
  }

  private remember(url: string, entry: Entry): void {
    if (this.entries.size >= this.maxEntries) {
      const oldest = [...this.entries.entries()].sort((a, b) => a[1].lastAttemptAt - b[1].lastAttemptAt)[0];
      if (oldest) this.entries.delete(oldest[0]);
    }
    this.entries.set(url, entry);
  }

  private async fetchKeys(url: string): Promise<{ keys: Map<string, CryptoKey>; maxAgeMs: number }> {
    let response: Response;
    try {
      response = await this.fetchImpl(url, { headers: { accept: 'application/json, application/jwk-set+json' }, signal: AbortSignal.timeout(this.timeoutMs), redirect: 'follow' });
    } catch (error) {
      throw new LtiError('jwks_unavailable', `The JWKS at ${url} could not be fetched (${(error as Error).message}).`, { cause: error });
    }
    if (!response.ok) throw new LtiError('jwks_unavailable', `The JWKS at ${url} answered ${response.status}.`);
    const text = await response.text();
    if (text.length > this.maxBytes) throw new LtiError('jwks_unavailable', `The JWKS at ${url} is larger than ${this.maxBytes} bytes.`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new LtiError('jwks_unavailable', `The JWKS at ${url} is not JSON.`);
    }
    const list = (body as { keys?: unknown }).keys;
    if (!Array.isArray(list)) throw new LtiError('jwks_unavailable', `The JWKS at ${url} has no "keys" array.`);
    const keys = new Map<string, CryptoKey>();
    for (const jwk of list as JWK[]) {
      // Only RSA signing keys usable with RS256; anything else in the set is ignored.
      if (typeof jwk !== 'object' || jwk === null || jwk.kty !== 'RSA' || typeof jwk.kid !== 'string') continue;
      if (jwk.use !== undefined && jwk.use !== 'sig') continue;
      if (jwk.alg !== undefined && jwk.alg !== 'RS256') continue;
      try {
        if (typeof jwk.n !== 'string' || typeof jwk.e !== 'string') continue;
        keys.set(jwk.kid, (await importJWK({ kty: 'RSA', n: jwk.n, e: jwk.e }, 'RS256')) as CryptoKey);
      } catch {
        // A malformed key does not invalidate the others.
      }
    }
    return { keys, maxAgeMs: this.maxAgeFrom(response.headers.get('cache-control')) };
  }

  private maxAgeFrom(cacheControl: string | null): number {
    const match = cacheControl ? /max-age=(\d+)/i.exec(cacheControl) : null;
    if (!match) return this.maxAgeMs;
    // Bounded both ways: no refetch storm for max-age=0, no day-long blindness to a rotation.
    return Math.min(Math.max(Number(match[1]) * 1000, 60_000), 24 * 3600_000);
  }
}
