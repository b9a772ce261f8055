import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Authenticated encryption (AES-256-GCM) for secrets Cairn must read back: TOTP seeds,
 * LTI private keys. The key is derived from CAIRN_SECRET_KEY with HKDF per purpose, so one
 * leaked ciphertext class does not help with another. Format: `v1.<iv>.<tag>.<ciphertext>`.
 */
export class SecretBox {
  private readonly keys = new Map<string, Buffer>();

  constructor(private readonly secretKey: string) {
    if (secretKey.length < 32) throw new Error('SecretBox needs a key of at least 32 characters');
  }

  encrypt(purpose: string, plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key(purpose), iv);
    cipher.setAAD(Buffer.from(purpose));
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')].join('.');
  }

  decrypt(purpose: string, sealed: string): string {
    const [version, iv, tag, data] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || data === undefined) throw new Error('Unrecognised sealed secret format');
    const decipher = createDecipheriv('aes-256-gcm', this.key(purpose), Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(purpose));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
  }

  /**
   * Keyed hash (HMAC-SHA256, hex) for secrets Cairn only needs to compare, never read back:
   * without CAIRN_SECRET_KEY a stolen table does not allow offline guessing.
   */
  mac(purpose: string, value: string): string {
    return createHmac('sha256', this.key(`mac:${purpose}`)).update(value).digest('hex');
  }

  private key(purpose: string): Buffer {
    let key = this.keys.get(purpose);
    if (!key) {
      key = Buffer.from(hkdfSync('sha256', this.secretKey, 'cairn', `cairn:${purpose}`, 32));
      this.keys.set(purpose, key);
    }
    return key;
  }
}
