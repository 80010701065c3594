import { verifyJwsWeb, webBase64url, type WebKeyLookup } from '../web-jws.js';
import type { CryptoBackend } from './backend.js';
import { importWebKeySet } from './web-keys.js';

/** Web Crypto (crypto.subtle): for Deno, Bun, Cloudflare Workers and other runtimes without node:crypto. */
export const webBackend: CryptoBackend = {
  name: 'web',
  importKeySet: importWebKeySet,
  // The keys handed here are the ones importWebKeySet made: WebVerificationKeys.
  verifyJws: (token, keys) => verifyJwsWeb(token, keys as WebKeyLookup),
  base64url: webBase64url,
};
