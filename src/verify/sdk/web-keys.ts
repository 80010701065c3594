import { webAlgorithms, type WebVerificationKey } from '../web-jws.js';
import type { JwsAlgorithm } from '../jws-structure.js';
import { checkKeySet, KeySetError } from './jwk-rules.js';
// Types only (erased): the DOM lib is off.
import type { webcrypto } from 'node:crypto';

/** Public CryptoKeys by kid, each pinned to its one algorithm. */
export type WebKeySet = ReadonlyMap<string, WebVerificationKey>;

/**
 * Imports a JWKS document into Web Crypto keys, once, after the document rules (jwk-rules.ts, the
 * same as the node:crypto importer's). Rejects with KeySetError for the whole document at the
 * first key that breaks a rule or does not import.
 */
export async function importWebKeySet(document: unknown, algorithms: readonly JwsAlgorithm[]): Promise<WebKeySet> {
  const keys = new Map<string, WebVerificationKey>();
  for (const jwk of checkKeySet(document, algorithms)) {
    const { importParams, verifyParams } = webAlgorithms[jwk.alg];
    let cryptoKey: webcrypto.CryptoKey;
    try {
      cryptoKey = await crypto.subtle.importKey('jwk', { ...jwk.members, ext: true } as webcrypto.JsonWebKey, importParams, false, ['verify']);
    } catch {
      throw new KeySetError(`${jwk.where} is not a valid ${jwk.kty} public key for ${jwk.alg}`);
    }
    const modulusLength = (cryptoKey.algorithm as webcrypto.RsaHashedKeyAlgorithm).modulusLength;
    const signatureLength = jwk.kty === 'RSA' ? modulusLength / 8 : 64;
    keys.set(jwk.kid, Object.freeze({ alg: jwk.alg, signatureLength, cryptoKey, verifyParams }));
  }
  return keys;
}
