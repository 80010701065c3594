import { constants, sign, verify, type KeyObject, type SignKeyObjectInput } from 'node:crypto';
import { promisify } from 'node:util';
import type { SigningAlg } from '../config/schema.js';

const verifyAsync = promisify(verify) as (
  algorithm: string | null,
  data: Buffer,
  key: KeyObject | SignKeyObjectInput,
  signature: Buffer,
) => Promise<boolean>;
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

/** Order of the P-256 group: an ECDSA signature (r, s) also verifies as (r, n − s). */
const p256Order = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const p256HalfOrder = p256Order >> 1n;

function readBigInt(bytes: Buffer): bigint {
  return BigInt(`0x${bytes.toString('hex') || '0'}`);
}

/** ES256 signatures are issued and accepted only with s ≤ n/2, so each token has one signature. */
function lowS(signature: Buffer): Buffer {
  const s = readBigInt(signature.subarray(32));
  if (s <= p256HalfOrder) return signature;
  const flipped = Buffer.from((p256Order - s).toString(16).padStart(64, '0'), 'hex');
  return Buffer.concat([signature.subarray(0, 32), flipped]);
}

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Signs a compact JWS with our own private key. The signature runs on the libuv thread pool
 * (node:crypto's asynchronous sign), so the event loop keeps serving requests meanwhile; jose's
 * WebCrypto signing costs ~0.3 ms of event-loop time per RS256 token here. Tests check every
 * algorithm against jose and a second, independent library.
 */
export async function signCompactJws(
  header: { alg: SigningAlg; kid: string; typ: string },
  payload: object,
  key: KeyObject,
): Promise<string> {
  const input = `${encode(header)}.${encode(payload)}`;
  const [digest, signingKey] = signingInput(header.alg, key);
  const raw = await signAsync(digest, Buffer.from(input), signingKey);
  const signature = header.alg === 'ES256' ? lowS(raw) : raw;
  return `${input}.${signature.toString('base64url')}`;
}

/** Why a compact JWS was refused; the caller maps every one to the same client error. */
export class JwsError extends Error {
  override readonly name = 'JwsError';
}

export interface VerificationKeyLike {
  alg: SigningAlg;
  publicKey: KeyObject;
}

/** Header members that would let a token choose its own key or semantics (RFC 8725 §3.10): refused. */
const refusedHeaderMembers = ['jwk', 'jku', 'x5u', 'x5c', 'x5t', 'x5t#S256', 'crit', 'b64', 'zip', 'enc'];

const segment = /^[A-Za-z0-9_-]+$/;

function decodeJsonObject(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new JwsError(`${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new JwsError(`${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

function expectedSignatureBytes(alg: SigningAlg, key: KeyObject): number {
  if (alg === 'ES256') return 64;
  if (alg === 'EdDSA') return 64;
  return (key.asymmetricKeyDetails?.modulusLength ?? 2048) / 8;
}

/**
 * Verifies a compact JWS signed by one of our own keys, synchronously on node:crypto: the key
 * comes only from `resolveKey(kid)` (never from the token), the algorithm is the key's own, and
 * the header may not carry key references or critical extensions. Returns the decoded header
 * and payload; claims are the caller's to check. Throws JwsError.
 */
export async function verifyCompactJws(
  token: string,
  resolveKey: (kid: string) => VerificationKeyLike | undefined,
): Promise<{ header: Record<string, unknown>; payload: Record<string, unknown> }> {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((part) => segment.test(part))) throw new JwsError('not a compact JWS');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = decodeJsonObject(headerPart, 'header');
  for (const member of refusedHeaderMembers) {
    if (Object.hasOwn(header, member)) throw new JwsError(`header member ${member} is not accepted`);
  }
  if (typeof header.kid !== 'string') throw new JwsError('no kid');
  const key = resolveKey(header.kid);
  if (!key) throw new JwsError('unknown kid');
  if (header.alg !== key.alg) throw new JwsError('alg does not match the key');

  const signature = Buffer.from(signaturePart, 'base64url');
  // Exactly one encoding per signature: no trailing bits, no padding games.
  if (signature.length !== expectedSignatureBytes(key.alg, key.publicKey) || signature.toString('base64url') !== signaturePart) {
    throw new JwsError('malformed signature');
  }
  if (key.alg === 'ES256' && readBigInt(signature.subarray(32)) > p256HalfOrder) throw new JwsError('high-s ECDSA signature');
  const [digest, verifyKey] = signingInput(key.alg, key.publicKey);
  if (!(await verifyAsync(digest, Buffer.from(`${headerPart}.${payloadPart}`), verifyKey, signature))) {
    throw new JwsError('bad signature');
  }
  return { header, payload: decodeJsonObject(payloadPart, 'payload') };
}
