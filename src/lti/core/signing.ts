import { randomUUID } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import type { KeyRing } from './keys.js';

export interface SignOptions {
  readonly issuer: string;
  readonly audience: string | readonly string[];
  readonly subject?: string;
  /** Seconds; LTI messages and client assertions live a few minutes. */
  readonly expiresIn?: number;
  /** Seconds since the epoch; defaults to the system time. Tests move it. */
  readonly now?: number;
  readonly jti?: boolean;
}

/**
 * Signs a JWT with Cairn's current key (RS256, `kid` in the header) — deep-linking responses
 * and AGS/NRPS client assertions in the tool role, id_tokens in the platform role.
 *
 * @example
 * const assertion = await signJwt(keyRing, {}, { issuer: clientId, subject: clientId, audience: tokenUrl, jti: true });
 */
export async function signJwt(keyRing: KeyRing, claims: JWTPayload, options: SignOptions): Promise<string> {
  const { kid, key } = await keyRing.signingKey();
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
    .setIssuer(options.issuer)
    .setAudience(options.audience as string | string[])
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresIn ?? 300));
  if (options.subject !== undefined) jwt.setSubject(options.subject);
  if (options.jti) jwt.setJti(randomUUID());
  return jwt.sign(key);
}
