import { checkType, createClaimsCheck, type CheckedClaims, type ClaimsPolicy } from './claims.js';
import type { PinnedKey, VerifiedJwsOf } from './jws-structure.js';
import { refuse, type Refusal } from './result.js';

/** Tokens larger than this are refused before any parsing (SPEC §2). */
export const maxTokenBytes = 8192;

export interface AccessTokenChecks {
  /** Whether the input may be parsed at all: a string within the size cap. */
  sized(token: unknown): token is string;
  /** The refusal of an input that is not. */
  readonly tooLarge: Refusal;
  /** After the signature: `typ: at+jwt`, then the claims (SPEC §2, RFC 9068 §4). */
  afterSignature(jws: VerifiedJwsOf<PinnedKey> | Refusal): CheckedClaims | Refusal;
}

/**
 * The access-token checks around the signature, without cryptography: shared by the node:crypto
 * verifier (access-token.ts) and the Web Crypto one, so both accept and refuse alike.
 */
export function createAccessTokenChecks(policy: ClaimsPolicy): AccessTokenChecks {
  const checkClaims = createClaimsCheck(policy);
  return {
    sized: (token): token is string => typeof token === 'string' && token.length <= maxTokenBytes,
    tooLarge: refuse('too_large', 'token too large or not a string'),
    // The type is checked once the signature holds, so a stranger's token with a wrong typ is
    // refused as a bad signature (forgery), not as a mere wrong type.
    afterSignature(jws) {
      if (!jws.ok) return jws;
      return checkType(jws.header) ?? checkClaims(jws.payload);
    },
  };
}
