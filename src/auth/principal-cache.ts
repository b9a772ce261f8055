import type { Principal } from './principal.js';

interface Entry {
  readonly principal: Principal;
  readonly expires: number;
}

/**
 * Resolved API-token principals, kept for a few seconds so automation hammering the API costs
 * one database round trip per token per TTL instead of one per request (the difference
 * between ~20% and ~50% of a bare route's throughput in bench:api). Keys are token hashes,
 * never tokens. Revoking a token, or changing/suspending/deleting its user, through the API
 * forgets the entries on this node at once; other nodes converge within the TTL, as
 * docs/decisions/0006-identity-and-access.md states.
 */
export class PrincipalCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly ttlMs = 5_000, private readonly maxEntries = 10_000) {}

  get(key: string, now: number): Principal | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expires <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.principal;
  }

  /** `notAfter` caps the entry at the token's own expiry. */
  set(key: string, principal: Principal, now: number, notAfter?: number): void {
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(key, { principal, expires: Math.min(now + this.ttlMs, notAfter ?? Number.POSITIVE_INFINITY) });
  }

  forgetToken(tokenId: string): void {
    for (const [key, entry] of this.entries) if (entry.principal.tokenId === tokenId) this.entries.delete(key);
  }

  forgetUser(userId: string): void {
    for (const [key, entry] of this.entries) if (entry.principal.userId === userId) this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
