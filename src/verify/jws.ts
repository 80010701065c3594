import { verify, type KeyObject, type SignKeyObjectInput } from 'node:crypto';
import { cryptoParameters, keyFitsAlgorithm, signatureBytes } from './algorithms.js';
import { finishJws, isJwsAlgorithm, prepareJws, type Base64url, type JwsAlgorithm, type PinnedKey, type PreparedJws, type VerifiedJwsOf } from './jws-structure.js';
import type { Refusal } from './result.js';

/** A public key and the one algorithm it verifies (RFC 8725 §3.1: the algorithm comes from the key). */
export interface VerificationKey extends PinnedKey {
  readonly publicKey: KeyObject;
  /** node:crypto's digest and key input for the algorithm, worked out once per key. */
  readonly digest: string | null;
  readonly verifyInput: KeyObject | SignKeyObjectInput;
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
  const [digest, verifyInput] = cryptoParameters(alg, publicKey);
  return Object.freeze({ alg, publicKey, signatureLength: signatureBytes(alg, publicKey), digest, verifyInput });
}

export type VerifiedJws = VerifiedJwsOf<VerificationKey>;

export type JwsResult = VerifiedJws | Refusal;

const nodeBase64url: Base64url = {
  decode: (part) => Buffer.from(part, 'base64url'),
  encode: (bytes) => (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes)).toString('base64url'),
  text: (part) => Buffer.from(part, 'base64url').toString('utf8'),
};

function signingInput(prepared: PreparedJws<VerificationKey>): Buffer {
  // Base64url characters only (checked): latin1 is their bytes, without UTF-8's scan.
  return Buffer.from(prepared.signingInput, 'latin1');
}

/**
 * Verifies a compact JWS synchronously on node:crypto: the key comes only from `keys(kid)`, the
 * algorithm is the key's own, and the header may carry no key references or critical extensions
 * (jws-structure.ts, shared with the Web Crypto path). Returns the decoded header and payload, or
 * the reason for refusing; claims are checked apart (claims.ts). Never throws for any input string.
 */
export function verifyJws(token: string, keys: KeyLookup): JwsResult {
  const prepared = prepareJws(token, keys, nodeBase64url);
  if (!prepared.ok) return prepared;
  const { key } = prepared;
  return finishJws(prepared, verify(key.digest, signingInput(prepared), key.verifyInput, prepared.signature), nodeBase64url);
}

/**
 * The same as `verifyJws`, with the signature check on the libuv thread pool (node:crypto's
 * asynchronous verify), so the event loop serves other requests meanwhile: the server's path.
 */
export function verifyJwsOffThread(token: string, keys: KeyLookup): Promise<JwsResult> {
  const prepared = prepareJws(token, keys, nodeBase64url);
  if (!prepared.ok) return Promise.resolve(prepared);
  const { key } = prepared;
  return new Promise((resolve, reject) => {
    verify(key.digest, signingInput(prepared), key.verifyInput, prepared.signature, (error, valid) => {
      // node:crypto reports an error only for a key it cannot use, which the key source guarantees against.
      if (error) reject(error);
      else resolve(finishJws(prepared, valid, nodeBase64url));
    });
  });
}
