import type { RefusalReason } from '../result.js';

/**
 * The stable codes of a refused verification, for programs to branch on (SPEC §6).
 */
export type VerifyErrorCode =
  /** Anything wrong with the token itself: signature, header, claims, size, shape. */
  | 'invalid_token'
  /** `exp` (plus the leeway) is past. */
  | 'token_expired'
  /** Revoked at the issuer (a logout, a session ended, the user disabled): known from the revocation stream. */
  | 'token_revoked'
  /** `revocation.failClosedAfter` is set and the revocation stream has been out of reach longer than that. */
  | 'revocation_unavailable'
  /** The token is valid but lacks a permission the caller asked for. */
  | 'insufficient_permissions'
  /** The issuer's key set could not be loaded and no earlier one is at hand. */
  | 'jwks_unavailable'
  /** The options given to `createVerifier` or `verify` are unusable (a programming error). */
  | 'invalid_options';

/**
 * The one error the verifier throws. Its message names the check that failed, never a value taken
 * from the token (nor the token): it is safe to log.
 */
export class VerifyError extends Error {
  readonly code: VerifyErrorCode;
  /** The verification core's reason (result.ts), for diagnostics and metrics; absent for errors not about a token. */
  readonly reason: RefusalReason | undefined;

  constructor(code: VerifyErrorCode, message: string, reason?: RefusalReason) {
    super(message);
    this.name = 'VerifyError';
    this.code = code;
    this.reason = reason;
  }
}

export function codeOf(reason: RefusalReason): VerifyErrorCode {
  return reason === 'expired' ? 'token_expired' : 'invalid_token';
}
