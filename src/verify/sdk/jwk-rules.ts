import { isJwsAlgorithm, type JwsAlgorithm } from '../jws-structure.js';

/*
 * The rules a key set must meet before any key of it is trusted, without a crypto library: both
 * key importers (keys.ts on node:crypto, web/keys.ts on Web Crypto) apply these first, so both
 * refuse the same documents with the same messages.
 */

/** A key set document refused as a whole; the message names the rule, never key material. */
export class KeySetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeySetError';
  }
}

/** Members that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). */
const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** The public members each key type needs; nothing else is handed to a crypto library. */
const publicMembers: Record<string, readonly string[]> = {
  RSA: ['n', 'e'],
  EC: ['crv', 'x', 'y'],
  OKP: ['crv', 'x'],
};

/** More keys than any issuer publishes: a document beyond this is refused, not imported. */
export const maxKeys = 100;

/** A JWK that passed the rules: its kid, its one algorithm, and only its public members. */
export interface CheckedJwk {
  readonly kid: string;
  readonly alg: JwsAlgorithm;
  readonly kty: 'RSA' | 'EC' | 'OKP';
  readonly members: Readonly<Record<string, unknown>>;
  /** "key 3", for messages. */
  readonly where: string;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const base64urlDigits = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The bit length of an RSA modulus given as base64url (RFC 7518 §6.3.1.1: no leading zero octets), or 0. */
function modulusBits(n: unknown): number {
  if (typeof n !== 'string' || !/^[A-Za-z0-9_-]{2,}$/.test(n)) return 0;
  const bytes = Math.floor((n.length * 6) / 8);
  const first = ((base64urlDigits.indexOf(n[0]!) << 2) | (base64urlDigits.indexOf(n[1]!) >> 4)) & 0xff;
  if (first === 0) return 0;
  return bytes * 8 - (Math.clz32(first) - 24);
}

/** Whether a JWK's public members fit an algorithm (RFC 8725 §3.1): RSA of 2048 bits or more, P-256, Ed25519. */
function fits(alg: JwsAlgorithm, kty: string, members: Record<string, unknown>): boolean {
  switch (alg) {
    case 'RS256':
    case 'PS256':
      return kty === 'RSA' && modulusBits(members.n) >= 2048;
    case 'ES256':
      return kty === 'EC' && members.crv === 'P-256';
    case 'EdDSA':
      return kty === 'OKP' && members.crv === 'Ed25519';
  }
}

function checkJwk(jwk: unknown, index: number, algorithms: readonly JwsAlgorithm[]): CheckedJwk {
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
  const kty = jwk.kty as CheckedJwk['kty'];
  const members: Record<string, unknown> = { kty };
  for (const member of publicMembers[kty]!) {
    if (typeof jwk[member] !== 'string') throw new KeySetError(`${where} is not a valid ${kty} public key`);
    members[member] = jwk[member];
  }
  let alg: JwsAlgorithm;
  if (jwk.alg !== undefined) {
    if (!isJwsAlgorithm(jwk.alg) || !algorithms.includes(jwk.alg)) throw new KeySetError(`${where} has an unsupported or disallowed alg`);
    alg = jwk.alg;
  } else {
    // No alg on the key: pin it only when the allowed algorithms leave no choice (an RSA key fits both RS256 and PS256).
    const fitting = algorithms.filter((candidate) => fits(candidate, kty, members));
    if (fitting.length !== 1) throw new KeySetError(`${where} has no alg and the allowed algorithms do not pin exactly one`);
    alg = fitting[0]!;
  }
  if (!fits(alg, kty, members)) throw new KeySetError(`${where} cannot verify ${alg} (wrong key type, curve or an RSA modulus under 2048 bits)`);
  return { kid: jwk.kid, alg, kty, members, where };
}

/**
 * The keys of a JWKS document (`{ keys: [...] }`) or a list of JWKs, checked: public asymmetric
 * keys only, each with a distinct kid and one algorithm among `algorithms`. Throws KeySetError
 * for the whole document at the first key that breaks a rule.
 */
export function checkKeySet(document: unknown, algorithms: readonly JwsAlgorithm[]): CheckedJwk[] {
  const list = Array.isArray(document) ? document : isObject(document) ? document.keys : undefined;
  if (!Array.isArray(list)) throw new KeySetError('not a JWKS document (no keys list)');
  if (list.length > maxKeys) throw new KeySetError(`more than ${maxKeys} keys`);
  const kids = new Set<string>();
  return list.map((jwk, index) => {
    const checked = checkJwk(jwk, index, algorithms);
    if (kids.has(checked.kid)) throw new KeySetError(`key ${index} repeats the kid of an earlier key`);
    kids.add(checked.kid);
    return checked;
  });
}
