import { constants, sign, type KeyObject, type SignKeyObjectInput } from 'node:crypto';
import { promisify } from 'node:util';
import type { SigningAlg } from '../config/schema.js';

const signAsync = promisify(sign) as (algorithm: string | null, data: Buffer, key: KeyObject | SignKeyObjectInput) => Promise<Buffer>;

/** The node:crypto parameters of each JWS algorithm we sign with (RFC 7518 §3, RFC 8037). */
function signingInput(alg: SigningAlg, key: KeyObject): [string | null, KeyObject | SignKeyObjectInput] {
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

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Signs a compact JWS with our own private key. The signature runs on the libuv thread pool
 * (node:crypto's asynchronous sign), so the event loop keeps serving requests meanwhile; jose's
 * WebCrypto signing costs ~0.3 ms of event-loop time per RS256 token here. Verification stays
 * with jose. Tests check every algorithm against jose and a second, independent library.
 */
export async function signCompactJws(
  header: { alg: SigningAlg; kid: string; typ: string },
  payload: object,
  key: KeyObject,
): Promise<string> {
  const input = `${encode(header)}.${encode(payload)}`;
  const [digest, signingKey] = signingInput(header.alg, key);
  const signature = await signAsync(digest, Buffer.from(input), signingKey);
  return `${input}.${signature.toString('base64url')}`;
}
