import { verifyJws, type KeyLookup } from '../jws.js';
import type { CryptoBackend } from './backend.js';
import { importKeySet } from './keys.js';

/** node:crypto: KeyObjects imported once, the signature checked synchronously (the fast path). */
export const nodeBackend: CryptoBackend = {
  name: 'node',
  importKeySet,
  // The keys handed here are the ones importKeySet made: VerificationKeys.
  verifyJws: (token, keys) => verifyJws(token, keys as KeyLookup),
  base64url: {
    decode: (part) => Buffer.from(part, 'base64url'),
    encode: (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url'),
    text: (part) => Buffer.from(part, 'base64url').toString('utf8'),
  },
};
