import { finishJws, prepareJws, type Base64url, type JwsAlgorithm, type PinnedKey, type PinnedKeyLookup, type VerifiedJwsOf } from './jws-structure.js';
import type { Refusal } from './result.js';
// Types only (erased): the Web Crypto types as @types/node declares them, the DOM lib being off.
import type { webcrypto } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
type VerifyParams = webcrypto.AlgorithmIdentifier | webcrypto.RsaPssParams | webcrypto.EcdsaParams;
type ImportParams = webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams | webcrypto.Algorithm;

/*
 * Compact JWS verification on Web Crypto (crypto.subtle), for runtimes without node:crypto:
 * Deno, Bun, Cloudflare Workers and other edge runtimes. The checks before and after the
 * signature are jws-structure.ts's, the same as the node:crypto path's (jws.ts), so both refuse
 * the same tokens for the same reasons; only the signature check differs. Imports no runtime module.
 */

/** A public CryptoKey and the one algorithm it verifies. */
export interface WebVerificationKey extends PinnedKey {
  readonly cryptoKey: CryptoKey;
  readonly verifyParams: VerifyParams;
}

export type WebKeyLookup = PinnedKeyLookup<WebVerificationKey>;

export type WebJwsResult = VerifiedJwsOf<WebVerificationKey> | Refusal;

/** How each algorithm's public key is imported and its signatures verified (RFC 7518 §3, RFC 8037). */
export const webAlgorithms: Record<JwsAlgorithm, { importParams: ImportParams; verifyParams: VerifyParams }> = {
  RS256: { importParams: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, verifyParams: { name: 'RSASSA-PKCS1-v1_5' } },
  // RFC 7518 §3.5: the salt is as long as the hash.
  PS256: { importParams: { name: 'RSA-PSS', hash: 'SHA-256' }, verifyParams: { name: 'RSA-PSS', saltLength: 32 } },
  // Web Crypto's ECDSA signatures are R || S, as JWS carries them (RFC 7518 §3.4).
  ES256: { importParams: { name: 'ECDSA', namedCurve: 'P-256' }, verifyParams: { name: 'ECDSA', hash: 'SHA-256' } },
  EdDSA: { importParams: { name: 'Ed25519' }, verifyParams: { name: 'Ed25519' } },
};

const utf8 = new TextDecoder();
const ascii = new TextEncoder();

function decode(part: string): Uint8Array {
  // As Buffer does: a final lone character carries no whole byte and is dropped, not an error.
  const whole = part.length % 4 === 1 ? part.slice(0, -1) : part;
  const binary = atob(whole.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Base64url without Buffer: atob and btoa, which every runtime has. */
export const webBase64url: Base64url = {
  decode,
  encode(bytes) {
    let binary = '';
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  },
  text: (part) => utf8.decode(decode(part)),
};

/**
 * Verifies a compact JWS on Web Crypto: the key only from `keys(kid)`, the algorithm the key's
 * own, no key references or critical extensions in the header. Resolves to the decoded header and
 * payload, or the reason for refusing; never rejects for any input string.
 */
export async function verifyJwsWeb(token: string, keys: WebKeyLookup): Promise<WebJwsResult> {
  const prepared = prepareJws(token, keys, webBase64url);
  if (!prepared.ok) return prepared;
  let valid: boolean;
  try {
    valid = await crypto.subtle.verify(prepared.key.verifyParams, prepared.key.cryptoKey, prepared.signature, ascii.encode(prepared.signingInput));
  } catch {
    // Web Crypto rejects only for a key it cannot use, which the key import rules out: refused, never accepted.
    valid = false;
  }
  return finishJws(prepared, valid, webBase64url);
}
