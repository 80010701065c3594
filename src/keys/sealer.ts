import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Authenticated encryption of secrets at rest (AES-256-GCM). Each purpose gets its own key,
 * derived from TESSERA_SECRET with HKDF-SHA256, so a value sealed for one purpose never opens
 * for another. The associated data binds a sealed value to its row (e.g. the kid).
 */
export interface Sealer {
  seal(plaintext: string, associatedData: string): string;
  /** Throws when the value was tampered with, sealed for other data, or under another secret. */
  open(sealed: string, associatedData: string): string;
}

const version = 'v1';

export function createSealer(secret: string, purpose: string): Sealer {
  const key = Buffer.from(hkdfSync('sha256', secret, 'tessera', `tessera/${purpose}/${version}`, 32));
  return {
    seal(plaintext, associatedData) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(associatedData));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `${version}.${iv.toString('base64url')}.${ciphertext.toString('base64url')}`;
    },
    open(sealed, associatedData) {
      const [tag, ivText, bodyText, ...rest] = sealed.split('.');
      if (tag !== version || ivText === undefined || bodyText === undefined || rest.length > 0) {
        throw new Error('unrecognised sealed value');
      }
      const iv = Buffer.from(ivText, 'base64url');
      const body = Buffer.from(bodyText, 'base64url');
      if (iv.length !== 12 || body.length < 16) throw new Error('unrecognised sealed value');
      const decipher = createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAAD(Buffer.from(associatedData));
      decipher.setAuthTag(body.subarray(body.length - 16));
      return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString('utf8');
    },
  };
}
