/**
 * Why a token was refused: a stable code for programs (metrics, forgery detection, an SDK's
 * error codes), never a message to parse. Each failure carries exactly one.
 */
export type RefusalReason =
  // Before any parsing.
  /** Not a string, or longer than the size cap. */
  | 'too_large'
  /** Not three base64url segments, or a header or payload that is not a JSON object. */
  | 'malformed'
  // The protected header (RFC 7515 §4, RFC 8725 §3).
  /** A header member that carries or points to a key, or changes the encoding (`jwk`, `jku`, `x5u`, `x5c`, `x5t`, `x5t#S256`, `b64`, `zip`, `enc`). */
  | 'forbidden_header'
  /** A `crit` member: no extension is understood (RFC 7515 §4.1.11). */
  | 'unsupported_crit'
  /** No `kid`, or one that is not a string. */
  | 'missing_kid'
  /** A `kid` the key lookup does not know. */
  | 'unknown_kid'
  /** An `alg` that is not an asymmetric algorithm we verify (`none`, `HS256`, anything unknown, or absent). */
  | 'unsupported_alg'
  /** A supported `alg` that is not the algorithm of the key named by `kid` (RFC 8725 §3.1). */
  | 'alg_mismatch'
  /** A signature of the wrong length or encoding, a high-s ECDSA twin, or one that does not verify. */
  | 'bad_signature'
  /** `typ` is not `at+jwt` (RFC 9068 §4, RFC 8725 §3.11). */
  | 'wrong_type'
  // The claims (RFC 7519 §4.1, RFC 9068 §2.2).
  | 'wrong_issuer'
  | 'wrong_audience'
  /** `exp` (plus the leeway) is past. */
  | 'expired'
  /** `nbf` (minus the leeway) is ahead. */
  | 'not_yet_valid'
  /** `iat` (minus the leeway) is ahead. */
  | 'issued_in_future'
  /** A required claim is absent. */
  | 'missing_claim'
  /** A claim is present with the wrong type or shape (`roles` not a list of strings, `exp` a string). */
  | 'invalid_claim'
  /** `exp - iat` is longer than any token the issuer mints. */
  | 'lifetime_too_long';

/** Every reason, for exhaustive tables. */
export const refusalReasons = [
  'too_large',
  'malformed',
  'forbidden_header',
  'unsupported_crit',
  'missing_kid',
  'unknown_kid',
  'unsupported_alg',
  'alg_mismatch',
  'bad_signature',
  'wrong_type',
  'wrong_issuer',
  'wrong_audience',
  'expired',
  'not_yet_valid',
  'issued_in_future',
  'missing_claim',
  'invalid_claim',
  'lifetime_too_long',
] as const satisfies readonly RefusalReason[];

/**
 * A refused token. `detail` is for logs: it names the check (and a claim or header member name
 * from a fixed list), never a value taken from the token.
 */
export interface Refusal {
  readonly ok: false;
  readonly reason: RefusalReason;
  readonly detail: string;
}

export function refuse(reason: RefusalReason, detail: string): Refusal {
  return { ok: false, reason, detail };
}
