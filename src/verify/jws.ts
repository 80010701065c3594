import { verify, type KeyObject, type SignKeyObjectInput } from 'node:crypto';
import { cryptoParameters, isHighS, isJwsAlgorithm, keyFitsAlgorithm, signatureBytes, type JwsAlgorithm } from './algorithms.js';
import { refuse, type Refusal } from './result.js';

/** A public key and the one algorithm it verifies (RFC 8725 §3.1: the algorithm comes from the key). */
export interface VerificationKey {
  readonly alg: JwsAlgorithm;
  readonly publicKey: KeyObject;
}

/**
 * Where keys come from: the server backs it with its key ring, an SDK with a JWKS cache (which
 * refetches on `unknown_kid` and asks again). Never a key named or carried by the token.
 */
export type KeyLookup = (kid: string) => VerificationKey | undefined;

/** A key for a `KeyLookup`, checked once: throws a TypeError when the key cannot be used with `alg`. */
export function createVerificationKey(alg: JwsAlgorithm, publicKey: KeyObject): VerificationKey {
  if (!isJwsAlgorithm(alg)) throw new TypeError('unsupported JWS algorithm');
  if (publicKey.type !== 'public' || !keyFitsAlgorithm(alg, publicKey)) throw new TypeError(`the key cannot verify ${alg}`);
  return Object.freeze({ alg, publicKey });
}

export interface VerifiedJws {
  readonly ok: true;
  readonly header: Record<string, unknown>;
  readonly payload: Record<string, unknown>;
  readonly key: VerificationKey;
}

export type JwsResult = VerifiedJws | Refusal;

/** Header members that would let a token choose its own key or semantics (RFC 8725 §3.10, RFC 7515 §4.1, RFC 7797). */
const forbiddenHeaderMembers = ['jwk', 'jku', 'x5u', 'x5c', 'x5t', 'x5t#S256', 'b64', 'zip', 'enc'] as const;

const segment = /^[A-Za-z0-9_-]+$/;

function decodeJsonObject(part: string): Record<string, unknown> | 'not JSON' | 'not a JSON object' {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return 'not JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  return value as Record<string, unknown>;
}

/** Everything checked before the signature, and what the signature check needs. */
interface Prepared {
  readonly ok: true;
  readonly header: Record<string, unknown>;
  readonly payloadPart: string;
  readonly key: VerificationKey;
  readonly signingInput: Buffer;
  readonly signature: Buffer;
  readonly digest: string | null;
  readonly verifyKey: KeyObject | SignKeyObjectInput;
}

/*
 * The order of the checks is part of the contract: it decides which reason a token gets, and
 * forgery detection counts some reasons and not others. Structure, then refused header members,
 * then the kid and its key, then the algorithm against that key, then the signature; the payload
 * is decoded only once the signature holds.
 */
function prepare(token: string, keys: KeyLookup): Prepared | Refusal {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((part) => segment.test(part))) return refuse('malformed', 'not a compact JWS');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = decodeJsonObject(headerPart);
  if (typeof header === 'string') return refuse('malformed', `header is ${header}`);
  for (const member of forbiddenHeaderMembers) {
    if (Object.hasOwn(header, member)) return refuse('forbidden_header', `header member ${member} is not accepted`);
  }
  if (Object.hasOwn(header, 'crit')) return refuse('unsupported_crit', 'header member crit is not accepted');
  if (typeof header.kid !== 'string') return refuse('missing_kid', 'no kid');
  const key = keys(header.kid);
  if (!key) return refuse('unknown_kid', 'unknown kid');
  if (header.alg !== key.alg) {
    return isJwsAlgorithm(header.alg) ? refuse('alg_mismatch', 'alg does not match the key') : refuse('unsupported_alg', 'alg is not an asymmetric algorithm we verify');
  }
  const signature = Buffer.from(signaturePart, 'base64url');
  // Exactly one encoding per signature: no trailing bits, no padding games.
  if (signature.length !== signatureBytes(key.alg, key.publicKey) || signature.toString('base64url') !== signaturePart) {
    return refuse('bad_signature', 'malformed signature');
  }
  if (key.alg === 'ES256' && isHighS(signature)) return refuse('bad_signature', 'high-s ECDSA signature');
  const [digest, verifyKey] = cryptoParameters(key.alg, key.publicKey);
  return { ok: true, header, payloadPart, key, signingInput: Buffer.from(`${headerPart}.${payloadPart}`), signature, digest, verifyKey };
}

function finish(prepared: Prepared, valid: boolean): JwsResult {
  if (!valid) return refuse('bad_signature', 'bad signature');
  const payload = decodeJsonObject(prepared.payloadPart);
  if (typeof payload === 'string') return refuse('malformed', `payload is ${payload}`);
  return { ok: true, header: prepared.header, payload, key: prepared.key };
}

/**
 * Verifies a compact JWS synchronously on node:crypto: the key comes only from `keys(kid)`, the
 * algorithm is the key's own, and the header may carry no key references or critical extensions.
 * Returns the decoded header and payload, or the reason for refusing; claims are checked apart
 * (claims.ts). Never throws for any input string.
 */
export function verifyJws(token: string, keys: KeyLookup): JwsResult {
  const prepared = prepare(token, keys);
  if (!prepared.ok) return prepared;
  return finish(prepared, verify(prepared.digest, prepared.signingInput, prepared.verifyKey, prepared.signature));
}

/**
 * The same as `verifyJws`, with the signature check on the libuv thread pool (node:crypto's
 * asynchronous verify), so the event loop serves other requests meanwhile: the server's path.
 */
export function verifyJwsOffThread(token: string, keys: KeyLookup): Promise<JwsResult> {
  const prepared = prepare(token, keys);
  if (!prepared.ok) return Promise.resolve(prepared);
  return new Promise((resolve, reject) => {
    verify(prepared.digest, prepared.signingInput, prepared.verifyKey, prepared.signature, (error, valid) => {
      // node:crypto reports an error only for a key it cannot use, which the key source guarantees against.
      if (error) reject(error);
      else resolve(finish(prepared, valid));
    });
  });
}
