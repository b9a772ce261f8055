import { SignJWT, jwtVerify } from 'jose';
import type { SecretBox } from '../../../auth/secret-box.js';

/**
 * The first-party context a launch leaves behind: a short-lived signed token in the landing
 * page's URL, naming the launch, user, course and item. Pages opened after a launch work from
 * it, not from a main-origin cookie (an LMS iframe often gets no cookies at all). HS256 with a
 * key derived from CAIRN_SECRET_KEY, so every node verifies what any node issued.
 */
export interface LaunchContext {
  readonly launchId: string;
  readonly tenantId: string;
  readonly userId: string;
  readonly courseId: string | null;
  readonly itemId: string | null;
  readonly courseRole: string;
}

export const contextTokenSeconds = 2 * 3600;
const audience = 'cairn:lti-context';

const keys = new WeakMap<SecretBox, Uint8Array>();
function keyFor(secrets: SecretBox): Uint8Array {
  let key = keys.get(secrets);
  if (!key) {
    key = Buffer.from(secrets.mac('lti-context-token', 'v1'), 'hex');
    keys.set(secrets, key);
  }
  return key;
}

export async function signContextToken(secrets: SecretBox, context: LaunchContext, now: Date): Promise<string> {
  const iat = Math.floor(now.getTime() / 1000);
  return new SignJWT({ tid: context.tenantId, cid: context.courseId, iid: context.itemId, rol: context.courseRole, lid: context.launchId })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(context.userId)
    .setAudience(audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + contextTokenSeconds)
    .sign(keyFor(secrets));
}

/** The context, or undefined when the token is forged, from another installation, or expired. */
export async function verifyContextToken(secrets: SecretBox, token: string, now: Date): Promise<LaunchContext | undefined> {
  try {
    const { payload } = await jwtVerify(token, keyFor(secrets), { algorithms: ['HS256'], audience, currentDate: now });
    return {
      launchId: String(payload['lid']), tenantId: String(payload['tid']), userId: String(payload.sub),
      courseId: typeof payload['cid'] === 'string' ? payload['cid'] : null,
      itemId: typeof payload['iid'] === 'string' ? payload['iid'] : null,
      courseRole: String(payload['rol']),
    };
  } catch {
    return undefined;
  }
}
