import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { AppError } from '../errors/index.js';

/**
 * scrypt from Node's crypto (no native dependency). N = 2^15, r = 8, p = 1 uses 32 MiB and
 * roughly 50–100 ms per hash on a small server, within OWASP's recommended range. Parameters
 * travel in the stored string so they can be raised later without breaking old hashes.
 */
const defaults = { logN: 15, r: 8, p: 1, keyLength: 32 };

export const minPasswordLength = 12;
/** Bounded so a huge "password" cannot be used to burn CPU. */
export const maxPasswordLength = 256;

function scryptAsync(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, keyLength, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const { logN, r, p, keyLength } = defaults;
  const key = await scryptAsync(password, salt, keyLength, { N: 2 ** logN, r, p, maxmem: 128 * 2 ** logN * r * 2 });
  return ['scrypt', logN, r, p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, logNText, rText, pText, saltText, keyText] = stored.split('$');
  if (scheme !== 'scrypt' || !saltText || !keyText) return false;
  const logN = Number(logNText), r = Number(rText), p = Number(pText);
  const expected = Buffer.from(keyText, 'base64url');
  const actual = await scryptAsync(password, Buffer.from(saltText, 'base64url'), expected.length, { N: 2 ** logN, r, p, maxmem: 128 * 2 ** logN * r * 2 });
  return timingSafeEqual(actual, expected);
}

/**
 * Verifying against this when the account does not exist keeps the response time the same,
 * so timing does not reveal which emails have accounts.
 */
let dummyHash: Promise<string> | undefined;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
  return dummyHash;
}

/** Length rules per NIST SP 800-63B: at least 12 characters, no composition rules. */
export function assertPasswordPolicy(password: string, pointer: string, email?: string): void {
  const problem =
    password.length < minPasswordLength ? `must be at least ${minPasswordLength} characters`
      : password.length > maxPasswordLength ? `must be at most ${maxPasswordLength} characters`
        : email && password.toLowerCase() === email.toLowerCase() ? 'must not be the email address'
          : undefined;
  if (problem) throw new AppError('validation_failed', `The password ${problem}.`, { errors: [{ pointer, message: problem }] });
}

export function generatePassword(): string {
  // 18 random bytes → 24 base64url characters, about 144 bits.
  return randomBytes(18).toString('base64url');
}
