import { jwtVerify, SignJWT, errors as joseErrors } from 'jose';
import type { SecretBox } from '../../auth/secret-box.js';
import { AppError } from '../../errors/index.js';

/**
 * Launch and session tokens of the content origin (docs/decisions/0050): HS256 JWTs signed with a
 * key derived from CAIRN_SECRET_KEY, verified without a database read, so the content origin's
 * file and commit requests (3,000 commits/s is the target) cost no lookup to authenticate.
 *
 * - `launch`: what the launch API returns, in the player URL. Lives minutes: it only opens the player.
 * - `session`: minted when the player opens, scoped to one attempt; carried in content paths
 *   (`/c/<token>/…`) and runtime calls (`/r/<token>/…`). Whether the attempt is still open is
 *   checked where it matters (session start and every commit), in the same statement as the write.
 */
export type TokenUse = 'launch' | 'session';

export type LessonMode = 'normal' | 'browse' | 'review';

export interface RuntimeClaims {
  readonly use: TokenUse;
  readonly tenantId: string;
  readonly registrationId: string;
  readonly attemptId: string;
  readonly packageId: string;
  readonly userId: string;
  readonly mode: LessonMode;
  /** SCORM 1.2 or 2004: how the commit path reads the CMI, without a package lookup. */
  readonly family: '1.2' | '2004';
  /** Seconds since the epoch. */
  readonly expiresAt: number;
}

const issuer = 'cairn:content';
const audience: Record<TokenUse, string> = { launch: 'cairn:scorm-launch', session: 'cairn:scorm-session' };

export class RuntimeTokens {
  private readonly key: Uint8Array;

  constructor(secrets: SecretBox, private readonly ttlSeconds: Readonly<Record<TokenUse, number>>) {
    // A key of its own (HKDF inside SecretBox.mac keyed per purpose): a leaked token key helps
    // with nothing else Cairn signs or encrypts.
    this.key = Buffer.from(secrets.mac('scorm-runtime-token', 'v1'), 'hex');
  }

  async sign(claims: Omit<RuntimeClaims, 'expiresAt'>, now: Date): Promise<{ token: string; expiresAt: Date }> {
    const iat = Math.floor(now.getTime() / 1000);
    const exp = iat + this.ttlSeconds[claims.use];
    const token = await new SignJWT({ ten: claims.tenantId, reg: claims.registrationId, pkg: claims.packageId, uid: claims.userId, mode: claims.mode, fam: claims.family })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(issuer)
      .setAudience(audience[claims.use])
      .setSubject(claims.attemptId)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(this.key);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  /**
   * The claims of a valid token of the given use. A token that is malformed, forged, expired or
   * meant for another use is `unauthenticated` (401): the caller holds nothing usable.
   */
  async verify(token: string, use: TokenUse, now: Date): Promise<RuntimeClaims> {
    // A player sends the same session token with every commit and file: verified claims are
    // remembered (bounded) until the token's own expiry, saving the HMAC and JSON work per request.
    const cached = this.verified.get(token);
    if (cached && cached.use === use && cached.expiresAt > now.getTime() / 1000) return cached;
    const claims = await this.verifyUncached(token, use, now);
    if (this.verified.size >= 10_000) this.verified.clear();
    this.verified.set(token, claims);
    return claims;
  }

  private readonly verified = new Map<string, RuntimeClaims>();

  private async verifyUncached(token: string, use: TokenUse, now: Date): Promise<RuntimeClaims> {
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token) || token.length > 2048) {
      throw new AppError('unauthenticated', 'The content link is not valid.');
    }
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'], issuer, audience: audience[use], currentDate: now, clockTolerance: 5,
      });
      const { ten, reg, pkg, uid, mode, fam, sub, exp } = payload as Record<string, unknown>;
      if (typeof ten !== 'string' || typeof reg !== 'string' || typeof pkg !== 'string' || typeof uid !== 'string' || typeof sub !== 'string'
        || (mode !== 'normal' && mode !== 'browse' && mode !== 'review') || (fam !== '1.2' && fam !== '2004') || typeof exp !== 'number') {
        throw new AppError('unauthenticated', 'The content link is not valid.');
      }
      return { use, tenantId: ten, registrationId: reg, attemptId: sub, packageId: pkg, userId: uid, mode, family: fam, expiresAt: exp };
    } catch (error) {
      if (error instanceof AppError) throw error;
      if (error instanceof joseErrors.JWTExpired) throw new AppError('unauthenticated', 'The content link has expired; launch the item again from the course.');
      throw new AppError('unauthenticated', 'The content link is not valid.');
    }
  }
}
