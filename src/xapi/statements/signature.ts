import { compactVerify, decodeProtectedHeader, importX509 } from 'jose';
import { XapiValidationError } from '../validation/agent.js';
import { statementsEquivalent } from './equivalence.js';

export const signatureUsageType = 'http://adlnet.gov/expapi/attachments/signature';
const allowedAlgorithms = new Set(['RS256', 'RS384', 'RS512']);

/**
 * Checks a signed statement (xAPI 1.0.3 Part 2 §2.6): the signature attachment is a JWS in
 * compact serialization, signed with RS256/384/512, whose payload is the statement as it was
 * signed — equivalent to the one received, ignoring what the LRS assigns and `attachments`.
 * When the JWS header carries an x5c chain the signature is verified with the first
 * certificate's key; without one the LRS cannot know the key, so only the form and the
 * payload are checked (the spec leaves key distribution to the parties).
 */
export async function verifySignedStatement(statement: Record<string, unknown>, jws: string, path: string): Promise<void> {
  const bad = (message: string) => new XapiValidationError(`${path}.attachments`, `signature: ${message}`);
  const segments = jws.trim().split('.');
  if (segments.length !== 3) throw bad('is not a JWS in compact serialization');
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jws.trim());
  } catch {
    throw bad('has an unreadable JWS header');
  }
  if (!header.alg || !allowedAlgorithms.has(header.alg)) throw bad(`alg must be RS256, RS384 or RS512 (got ${String(header.alg)})`);
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(segments[1]!, 'base64url').toString('utf8'));
  } catch {
    throw bad('the JWS payload is not a JSON statement');
  }
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) throw bad('the JWS payload is not a JSON statement');
  if (header.x5c !== undefined) {
    const certificate = header.x5c[0];
    if (!Array.isArray(header.x5c) || typeof certificate !== 'string') throw bad('x5c must be an array of base64 certificates');
    try {
      const key = await importX509(`-----BEGIN CERTIFICATE-----\n${certificate.replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----`, header.alg);
      await compactVerify(jws.trim(), key, { algorithms: [header.alg] });
    } catch {
      throw bad('the JWS does not verify with the x5c certificate');
    }
  }
  const signed = payload as Record<string, unknown>;
  if (signed['id'] !== undefined && statement['id'] !== undefined && String(signed['id']).toLowerCase() !== String(statement['id']).toLowerCase()) {
    throw bad('the signed statement has another id');
  }
  if (!statementsEquivalent(signed, statement)) throw bad('the JWS payload is not the statement that was sent');
}
