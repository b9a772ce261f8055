import { createHash, randomBytes } from 'node:crypto';

/** 256-bit random secret, URL-safe. */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** API tokens carry a recognisable prefix so secret scanners and humans can spot them. */
export const apiTokenPrefix = 'cairn_pat_';

export function newApiToken(): { token: string; hash: string; displayPrefix: string } {
  const token = apiTokenPrefix + randomSecret(32);
  return { token, hash: sha256Hex(token), displayPrefix: token.slice(0, apiTokenPrefix.length + 6) };
}
