import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { SigningAlg } from '../config/schema.js';
import { publicJwkOf } from './generate.js';
import type { Sealer } from './sealer.js';
import type { PublicJwk, SigningKeyRecord } from './signing-key.js';

/**
 * The associated data a private key is sealed with: its kid, alg and public key. A sealed value
 * then opens only on the row it was made for, with the public key it was made with, so a row
 * whose public key was swapped (or a seal copied onto another row) never opens.
 */
export function signingKeyBinding(kid: string, alg: SigningAlg, jwk: PublicJwk): string {
  return JSON.stringify(['tessera/signing-key/v2', kid, alg, jwk.kty, jwk.crv ?? null, jwk.x ?? null, jwk.y ?? null, jwk.n ?? null, jwk.e ?? null]);
}

/** Seals `privateKey` for the row of `kid`, bound to its alg and public key. */
export function sealSigningKey(sealer: Sealer, privateKey: KeyObject, record: { kid: string; alg: SigningAlg; publicJwk: PublicJwk }): string {
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  return sealer.seal(pem, signingKeyBinding(record.kid, record.alg, record.publicJwk));
}

/** The key type each algorithm signs with (RFC 7518 §3, RFC 8037). */
const keyTypeOf: Record<SigningAlg, { kty: string; crv?: string }> = {
  RS256: { kty: 'RSA' },
  PS256: { kty: 'RSA' },
  ES256: { kty: 'EC', crv: 'P-256' },
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
};

export type KeyCheck =
  | { ok: true; privateKey: KeyObject; publicKey: KeyObject; /** Sealed before the binding: re-seal with this. */ resealed?: string }
  | { ok: false; reason: 'unopenable' | 'not_a_private_key' | 'wrong_key_type' | 'public_key_mismatch' };

function sameJwk(a: PublicJwk, b: PublicJwk): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => (a as unknown as Record<string, unknown>)[key] === (b as unknown as Record<string, unknown>)[key]);
}

/**
 * Whether a stored row is one of our keys: its sealed private key opens under TESSERA_SECRET, and
 * the public key derived from it is exactly the published one (same members, nothing else). A row
 * written by anyone with database access but without the secret fails here, whatever its status.
 * Seals made before the binding (associated data: the kid alone) are accepted on the same check
 * and come back re-sealed with the binding.
 */
export function checkSigningKey(sealer: Sealer, record: SigningKeyRecord): KeyCheck {
  let pem: string;
  let legacy = false;
  try {
    pem = sealer.open(record.privateKeySealed, signingKeyBinding(record.kid, record.alg, record.publicJwk));
  } catch {
    try {
      pem = sealer.open(record.privateKeySealed, record.kid);
      legacy = true;
    } catch {
      return { ok: false, reason: 'unopenable' };
    }
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    return { ok: false, reason: 'not_a_private_key' };
  }
  const publicKey = createPublicKey(privateKey);
  const derived = publicJwkOf(publicKey, record.alg, record.kid);
  const expected = keyTypeOf[record.alg];
  if (expected === undefined || derived.kty !== expected.kty || derived.crv !== expected.crv) return { ok: false, reason: 'wrong_key_type' };
  if (!sameJwk(derived, record.publicJwk)) return { ok: false, reason: 'public_key_mismatch' };
  return legacy ? { ok: true, privateKey, publicKey, resealed: sealSigningKey(sealer, privateKey, record) } : { ok: true, privateKey, publicKey };
}
