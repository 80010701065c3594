import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { isJwsAlgorithm, keyFitsAlgorithm, type JwsAlgorithm } from '../algorithms.js';
import { createVerificationKey, type VerificationKey } from '../jws.js';

/** Public keys by kid, each pinned to its one algorithm. */
export type KeySet = ReadonlyMap<string, VerificationKey>;

/** A key set document refused as a whole; the message names the rule, never key material. */
export class KeySetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeySetError';
  }
}

/** Members that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). */
const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** The public members node:crypto needs per key type; nothing else is handed to it. */
const publicMembers: Record<string, readonly string[]> = {
  RSA: ['n', 'e'],
  EC: ['crv', 'x', 'y'],
  OKP: ['crv', 'x'],
};

/** More keys than any issuer publishes: a document beyond this is refused, not imported. */
export const maxKeys = 100;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function importKey(jwk: unknown, index: number, algorithms: readonly JwsAlgorithm[]): [string, VerificationKey] {
  const where = `key ${index}`;
  if (!isObject(jwk)) throw new KeySetError(`${where} is not a JSON object`);
  // Refused whole rather than skipped: a set holding private or symmetric material is misconfigured, and trusting the rest of it would hide that.
  for (const member of privateMembers) {
    if (Object.hasOwn(jwk, member)) throw new KeySetError(`${where} holds the private or symmetric member ${member}`);
  }
  if (jwk.kty === 'oct') throw new KeySetError(`${where} is a symmetric (oct) key`);
  if (typeof jwk.kty !== 'string' || !Object.hasOwn(publicMembers, jwk.kty)) throw new KeySetError(`${where} has an unsupported kty`);
  if (typeof jwk.kid !== 'string' || jwk.kid.length === 0) throw new KeySetError(`${where} has no kid`);
  if (jwk.use !== undefined && jwk.use !== 'sig') throw new KeySetError(`${where} is not a signature key (use)`);
  const members: Record<string, unknown> = { kty: jwk.kty };
  for (const member of publicMembers[jwk.kty]!) members[member] = jwk[member];
  let publicKey;
  try {
    publicKey = createPublicKey({ key: members as JsonWebKey, format: 'jwk' });
  } catch {
    throw new KeySetError(`${where} is not a valid ${jwk.kty} public key`);
  }
  let alg: JwsAlgorithm;
  if (jwk.alg !== undefined) {
    if (!isJwsAlgorithm(jwk.alg) || !algorithms.includes(jwk.alg)) throw new KeySetError(`${where} has an unsupported or disallowed alg`);
    alg = jwk.alg;
  } else {
    // No alg on the key: pin it only when the allowed algorithms leave no choice (an RSA key fits both RS256 and PS256).
    const fitting = algorithms.filter((candidate) => keyFitsAlgorithm(candidate, publicKey));
    if (fitting.length !== 1) throw new KeySetError(`${where} has no alg and the allowed algorithms do not pin exactly one`);
    alg = fitting[0]!;
  }
  try {
    return [jwk.kid, createVerificationKey(alg, publicKey)];
  } catch {
    throw new KeySetError(`${where} cannot verify ${alg} (wrong key type, curve or an RSA modulus under 2048 bits)`);
  }
}

/**
 * Imports a JWKS document (`{ keys: [...] }`) or a list of JWKs into a key set, once: public
 * asymmetric keys only, each with a distinct kid and one algorithm among `algorithms`. Throws
 * KeySetError for the whole document at the first key that breaks a rule.
 */
export function importKeySet(document: unknown, algorithms: readonly JwsAlgorithm[]): KeySet {
  const list = Array.isArray(document) ? document : isObject(document) ? document.keys : undefined;
  if (!Array.isArray(list)) throw new KeySetError('not a JWKS document (no keys list)');
  if (list.length > maxKeys) throw new KeySetError(`more than ${maxKeys} keys`);
  const keys = new Map<string, VerificationKey>();
  list.forEach((jwk, index) => {
    const [kid, key] = importKey(jwk, index, algorithms);
    if (keys.has(kid)) throw new KeySetError(`key ${index} repeats the kid of an earlier key`);
    keys.set(kid, key);
  });
  return keys;
}
