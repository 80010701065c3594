import { createPublicKey, type JsonWebKey } from 'node:crypto';
import type { JwsAlgorithm } from '../algorithms.js';
import { createVerificationKey, type VerificationKey } from '../jws.js';
import { checkKeySet, KeySetError } from './jwk-rules.js';

export { KeySetError, maxKeys } from './jwk-rules.js';

/** Public keys by kid, each pinned to its one algorithm. */
export type KeySet = ReadonlyMap<string, VerificationKey>;

/**
 * Imports a JWKS document (`{ keys: [...] }`) or a list of JWKs into a key set of node:crypto
 * KeyObjects, once, after the document rules (jwk-rules.ts). Throws KeySetError for the whole
 * document at the first key that breaks a rule or does not import.
 */
export function importKeySet(document: unknown, algorithms: readonly JwsAlgorithm[]): KeySet {
  const keys = new Map<string, VerificationKey>();
  for (const jwk of checkKeySet(document, algorithms)) {
    let key: VerificationKey;
    try {
      key = createVerificationKey(jwk.alg, createPublicKey({ key: jwk.members as JsonWebKey, format: 'jwk' }));
    } catch {
      throw new KeySetError(`${jwk.where} is not a valid ${jwk.kty} public key for ${jwk.alg}`);
    }
    keys.set(jwk.kid, key);
  }
  return keys;
}
