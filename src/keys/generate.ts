import { createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { calculateJwkThumbprint } from 'jose';
import type { SigningAlg } from '../config/schema.js';
import type { PublicJwk } from './signing-key.js';

const generate = promisify(generateKeyPair);

export interface GeneratedKey {
  kid: string;
  alg: SigningAlg;
  privateKey: KeyObject;
  publicJwk: PublicJwk;
}

async function keyPair(alg: SigningAlg): Promise<KeyObject> {
  switch (alg) {
    case 'RS256':
    case 'PS256':
      return (await generate('rsa', { modulusLength: 2048, publicExponent: 0x10001 })).privateKey;
    case 'ES256':
      return (await generate('ec', { namedCurve: 'P-256' })).privateKey;
    case 'EdDSA':
      return (await generate('ed25519')).privateKey;
  }
}

/** Only the public members, whatever the key type: a private member can never be published. */
export function publicJwkOf(publicKey: KeyObject, alg: SigningAlg, kid: string): PublicJwk {
  const jwk = publicKey.export({ format: 'jwk' });
  const base = { kty: String(jwk.kty), kid, alg, use: 'sig' as const };
  if (jwk.kty === 'RSA') return { ...base, n: String(jwk.n), e: String(jwk.e) };
  if (jwk.kty === 'EC') return { ...base, crv: String(jwk.crv), x: String(jwk.x), y: String(jwk.y) };
  return { ...base, crv: String(jwk.crv), x: String(jwk.x) };
}

/** A new key pair; its kid is the RFC 7638 thumbprint of the public key. */
export async function generateSigningKey(alg: SigningAlg): Promise<GeneratedKey> {
  const privateKey = await keyPair(alg);
  const publicKey = createPublicKey(privateKey);
  const kid = await calculateJwkThumbprint(publicKey.export({ format: 'jwk' }) as Parameters<typeof calculateJwkThumbprint>[0]);
  return { kid, alg, privateKey, publicJwk: publicJwkOf(publicKey, alg, kid) };
}
