import { createAccessTokenChecks, maxTokenBytes } from './access-token-checks.js';
import type { AccessTokenClaims, CheckedClaims, ClaimsPolicy } from './claims.js';
import { verifyJws, verifyJwsOffThread, type KeyLookup } from './jws.js';
import type { Refusal } from './result.js';

export { maxTokenBytes };

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
 * Verification of an access token (SPEC §2, RFC 9068 §4, RFC 8725) on node:crypto: the size cap,
 * the compact JWS with the key by kid and the algorithm of that key, `typ: at+jwt`, then the
 * claims (access-token-checks.ts, shared with the Web Crypto path). What a token's revocation or
 * its user's state says is the caller's to check.
 */
export function createAccessTokenVerifier(policy: AccessTokenPolicy): AccessTokenVerifier {
  const { keys } = policy;
  const { sized, tooLarge, afterSignature } = createAccessTokenChecks(policy);
  return {
    verify: (token) => (sized(token) ? afterSignature(verifyJws(token, keys)) : tooLarge),
    verifyOffThread: async (token) => (sized(token) ? afterSignature(await verifyJwsOffThread(token, keys)) : tooLarge),
  };
}

export type { AccessTokenClaims };
