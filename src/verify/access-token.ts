import { checkType, createClaimsCheck, type AccessTokenClaims, type CheckedClaims, type ClaimsPolicy } from './claims.js';
import { verifyJws, verifyJwsOffThread, type JwsResult, type KeyLookup } from './jws.js';
import { refuse, type Refusal } from './result.js';

/** Tokens larger than this are refused before any parsing (SPEC §2). */
export const maxTokenBytes = 8192;

export interface AccessTokenPolicy extends ClaimsPolicy {
  /** The keys tokens may be signed with, by kid. */
  keys: KeyLookup;
}

export type AccessTokenResult = CheckedClaims | Refusal;

export interface AccessTokenVerifier {
  /** Signature (synchronous node:crypto) and every claims check. Never throws for any input. */
  verify(token: unknown): AccessTokenResult;
  /** The same, with the signature check on the libuv thread pool. */
  verifyOffThread(token: unknown): Promise<AccessTokenResult>;
}

/**
 * Verification of an access token (SPEC §2, RFC 9068 §4, RFC 8725): the size cap, the compact
 * JWS with the key by kid and the algorithm of that key, `typ: at+jwt`, then the claims. What a
 * token's revocation or its user's state says is the caller's to check.
 */
export function createAccessTokenVerifier(policy: AccessTokenPolicy): AccessTokenVerifier {
  const { keys } = policy;
  const checkClaims = createClaimsCheck(policy);

  function sized(token: unknown): token is string {
    return typeof token === 'string' && token.length <= maxTokenBytes;
  }

  // The type is checked once the signature holds, so a stranger's token with a wrong typ is
  // refused as a bad signature (forgery), not as a mere wrong type.
  function afterSignature(jws: JwsResult): AccessTokenResult {
    if (!jws.ok) return jws;
    return checkType(jws.header) ?? checkClaims(jws.payload);
  }

  const tooLarge = refuse('too_large', 'token too large or not a string');
  return {
    verify: (token) => (sized(token) ? afterSignature(verifyJws(token, keys)) : tooLarge),
    verifyOffThread: async (token) => (sized(token) ? afterSignature(await verifyJwsOffThread(token, keys)) : tooLarge),
  };
}

export type { AccessTokenClaims };
