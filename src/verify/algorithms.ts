import { constants, type KeyObject, type SignKeyObjectInput } from 'node:crypto';

import { isHighS, isJwsAlgorithm, jwsAlgorithms, p256Order, readBigInt, type JwsAlgorithm } from './jws-structure.js';

/*
 * The node:crypto side of the algorithms: key parameters, key checks and signature lengths on
 * KeyObjects. The runtime-free part (the names, the high-s rule) is in jws-structure.ts.
 */
export { isHighS, isJwsAlgorithm, jwsAlgorithms, type JwsAlgorithm };

/** The node:crypto digest and key parameters of a JWS algorithm (RFC 7518 §3, RFC 8037), for signing and verifying. */
export function cryptoParameters(alg: JwsAlgorithm, key: KeyObject): [string | null, KeyObject | SignKeyObjectInput] {
  switch (alg) {
    case 'RS256':
      return ['sha256', key];
    case 'PS256':
      // RFC 7518 §3.5: the salt is as long as the hash.
      return ['sha256', { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }];
    case 'ES256':
      // JWS carries R || S (RFC 7518 §3.4), not DER.
      return ['sha256', { key, dsaEncoding: 'ieee-p1363' }];
    case 'EdDSA':
      return [null, key];
  }
}

/**
 * Whether a key can be used with an algorithm (RFC 8725 §3.1: the algorithm belongs to the key):
 * RSA for RS256 and PS256, P-256 for ES256, Ed25519 for EdDSA. A key source (a JWKS import, the
 * key ring) checks this once per key, not per token.
 */
export function keyFitsAlgorithm(alg: JwsAlgorithm, key: KeyObject): boolean {
  switch (alg) {
    case 'RS256':
    case 'PS256':
      return key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048;
    case 'ES256':
      return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
    case 'EdDSA':
      return key.asymmetricKeyType === 'ed25519';
  }
}

/** The length of every valid signature under this key: anything else is refused before any crypto. */
export function signatureBytes(alg: JwsAlgorithm, key: KeyObject): number {
  if (alg === 'ES256' || alg === 'EdDSA') return 64;
  return (key.asymmetricKeyDetails?.modulusLength ?? 2048) / 8;
}

/** The low-s twin of an ES256 signature (R || S), for the signer. */
export function toLowS(signature: Buffer): Buffer {
  if (!isHighS(signature)) return signature;
  const s = readBigInt(signature.subarray(32));
  const flipped = Buffer.from((p256Order - s).toString(16).padStart(64, '0'), 'hex');
  return Buffer.concat([signature.subarray(0, 32), flipped]);
}
