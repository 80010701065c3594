import { maxTokenBytes } from '../access-token-checks.js';
import type { JwsAlgorithm } from '../algorithms.js';
import type { AccessTokenClaims, VerifyClock } from '../claims.js';
import { refuse, type Refusal } from '../result.js';
import { codeOf, VerifyError } from './errors.js';
import { allowedAlgorithms, createIssuerVerifier, invalidOptions, nonEmptyString, type IssuerOptions, type IssuerResult, type IssuerVerifier, type VerifiedClaims } from './issuers.js';

/** One Tessera issuer: the form every verifier had before `issuers`. */
export interface VerifierOptions {
  /** The `iss` every token must carry: the issuer's public base URL (TESSERA_ISSUER). */
  issuer: string;
  /** This service's own audience: `aud` must be it or a list naming it. */
  audience: string;
  /** Where the issuer publishes its keys, e.g. `https://auth.example.com/.well-known/jwks.json`. Either this or `keys`. */
  jwksUri?: string | URL;
  /** Static public keys: a JWKS document (`{ keys: [...] }`) or a list of JWKs. Either this or `jwksUri`. */
  keys?: unknown;
  /** The algorithms accepted (default: RS256, PS256, ES256, EdDSA); each key verifies exactly one of them. */
  algorithms?: readonly JwsAlgorithm[];
  /** Leeway for `exp`, `nbf` and `iat`, in seconds (default 30). */
  clockTolerance?: number;
  /** Milliseconds since the epoch (default: Date); tests pass a fixed clock. */
  clock?: VerifyClock;
  /** Aborts a JWKS or discovery fetch after this long, in milliseconds (default 5000). */
  fetchTimeoutMs?: number;
}

/** Several issuers (Tessera and external providers) in one verifier; the token's `iss` picks one. */
export interface IssuersVerifierOptions {
  /** The trusted issuers, each `iss` once. */
  issuers: readonly IssuerOptions[];
  /** The audience of every issuer that sets none of its own. */
  audience?: string;
  /** The algorithms of every issuer that sets none of its own (default: RS256, PS256, ES256, EdDSA). */
  algorithms?: readonly JwsAlgorithm[];
  /** Leeway for `exp`, `nbf` and `iat`, in seconds (default 30). */
  clockTolerance?: number;
  clock?: VerifyClock;
  /** Aborts a JWKS or discovery fetch after this long, in milliseconds (default 5000). */
  fetchTimeoutMs?: number;
}

export interface VerifyOptions {
  /** Permissions the token must all carry, else `insufficient_permissions`. */
  permissions?: readonly string[];
}

export interface Verifier<Claims extends VerifiedClaims = VerifiedClaims> {
  /**
   * Resolves to the token's claims once the signature, the header and the claims hold (SPEC §2;
   * for `oidc` issuers, docs/sdk.md), and the token carries every permission asked for. Rejects
   * with a VerifyError, never another error. Waits only when keys must be fetched.
   */
  verify(token: string, options?: VerifyOptions): Promise<Claims>;
  /** Fetches every fetched issuer's discovery document and keys now; rejects with `jwks_unavailable` if one cannot be loaded. */
  ready(): Promise<void>;
}

function nonNegative(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw invalidOptions(`${name} must be a non-negative number`);
  return value;
}

function requiredPermissions(options: VerifyOptions | undefined): readonly string[] {
  const permissions = options?.permissions;
  if (permissions === undefined) return [];
  if (!Array.isArray(permissions) || !permissions.every((permission) => typeof permission === 'string')) {
    throw invalidOptions('permissions must be a list of strings');
  }
  return permissions;
}

const segment = /^[A-Za-z0-9_-]+$/;

/**
 * The `iss` of a token not yet verified, only to choose whose keys and checks apply: the signature
 * is then checked with that issuer's keys alone, and `iss` again among the claims. Nothing the
 * token names is ever fetched.
 */
function unverifiedIssuer(token: unknown): string | Refusal {
  if (typeof token !== 'string' || token.length > maxTokenBytes) return refuse('too_large', 'token too large or not a string');
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((part) => segment.test(part))) return refuse('malformed', 'not a compact JWS');
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  } catch {
    return refuse('malformed', 'payload is not JSON');
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return refuse('malformed', 'payload is not a JSON object');
  const { iss } = payload as Record<string, unknown>;
  if (iss === undefined) return refuse('missing_claim', 'no iss');
  return typeof iss === 'string' ? iss : refuse('invalid_claim', 'iss is not a string');
}

function refusalError(refusal: Refusal): VerifyError {
  return new VerifyError(codeOf(refusal.reason), `access token refused: ${refusal.detail}`, refusal.reason);
}

function issuerVerifiers(options: VerifierOptions | IssuersVerifierOptions): IssuerVerifier[] {
  const algorithms = allowedAlgorithms(options.algorithms);
  const clock: VerifyClock = options.clock ?? Date;
  if (clock === null || typeof clock.now !== 'function') throw invalidOptions('clock must have a now() method');
  const leewaySeconds = nonNegative(options.clockTolerance, 'clockTolerance', 30);
  const fetchTimeoutMs = nonNegative(options.fetchTimeoutMs, 'fetchTimeoutMs', 5000);
  const single = 'issuer' in options && options.issuer !== undefined;
  const several = 'issuers' in options && options.issuers !== undefined;
  if (single === several) throw invalidOptions('give exactly one of issuer and issuers');

  if (single) {
    const { issuer, audience, jwksUri, keys } = options as VerifierOptions;
    nonEmptyString(issuer, 'issuer');
    nonEmptyString(audience, 'audience');
    // No discovery in this form: it stays what it always was, one Tessera issuer and its keys.
    if ((jwksUri === undefined) === (keys === undefined)) throw invalidOptions('give exactly one of jwksUri and keys');
    return [createIssuerVerifier({ issuer, audience, jwksUri, keys, kind: 'tessera' }, { audience, algorithms, clock, leewaySeconds, fetchTimeoutMs }, 'options')];
  }
  const { issuers, audience } = options as IssuersVerifierOptions;
  if (!Array.isArray(issuers) || issuers.length === 0) throw invalidOptions('issuers must be a non-empty list');
  if (audience !== undefined) nonEmptyString(audience, 'audience');
  const defaults = { audience, algorithms, clock, leewaySeconds, fetchTimeoutMs };
  const built = issuers.map((issuer: IssuerOptions, index) => createIssuerVerifier(issuer, defaults, `issuers[${index}]`));
  if (new Set(built.map(({ issuer }) => issuer)).size !== built.length) throw invalidOptions('issuers must name each issuer once');
  return built;
}

/**
 * A verifier of access tokens from one Tessera issuer (`issuer`) or several issuers (`issuers`),
 * on the same verification core as the server (src/verify/): keys given, fetched from a JWKS URI
 * (jwks.ts) or found by OpenID discovery (discovery.ts). Options are checked here, so a
 * misconfiguration fails at start-up with `invalid_options`.
 */
export function createVerifier(options: IssuersVerifierOptions): Verifier<VerifiedClaims & Readonly<Record<string, unknown>>>;
export function createVerifier(options: VerifierOptions): Verifier<AccessTokenClaims>;
export function createVerifier(options: VerifierOptions | IssuersVerifierOptions): Verifier<AccessTokenClaims> | Verifier {
  if (typeof options !== 'object' || options === null) throw invalidOptions('options must be an object');
  const verifiers = issuerVerifiers(options);
  const byIssuer = new Map(verifiers.map((verifier) => [verifier.issuer, verifier]));

  /** Whose token this claims to be. With one issuer there is no choice: its checks refuse another `iss`. */
  function issuerFor(token: unknown): IssuerVerifier | Refusal {
    if (verifiers.length === 1) return verifiers[0]!;
    const iss = unverifiedIssuer(token);
    if (typeof iss !== 'string') return iss;
    return byIssuer.get(iss) ?? refuse('wrong_issuer', 'wrong issuer');
  }

  function check(issuer: IssuerVerifier, token: unknown): IssuerResult {
    try {
      return issuer.check(token as string);
    } catch {
      // The checks never throw for any input; should they, the token is refused, never accepted.
      return { ok: false, reason: 'malformed', detail: 'unverifiable token' };
    }
  }

  /** The one place a verified result is produced, with the issuer's keys (fetched when due). */
  async function verifiedBy(issuer: IssuerVerifier, token: unknown): Promise<IssuerResult> {
    const { remote } = issuer;
    if (!remote) return check(issuer, token);
    if (remote.due()) {
      const fetching = remote.refresh();
      if (fetching) await fetching;
      else if (!remote.current) throw remote.unavailable();
    }
    const result = check(issuer, token);
    if (result.ok || result.reason !== 'unknown_kid') return result;
    // A kid we do not know may be a rotation's new key: fetch again, at most once per cool-down.
    const fetching = remote.refresh();
    if (!fetching) return result;
    await fetching;
    return check(issuer, token);
  }

  function authorized(claims: VerifiedClaims, permissions: readonly string[]): VerifiedClaims {
    if (permissions.length === 0) return claims;
    const held = new Set(claims.permissions);
    const missing = permissions.filter((permission) => !held.has(permission));
    if (missing.length > 0) throw new VerifyError('insufficient_permissions', `the token lacks ${missing.length} of the permissions required`);
    return claims;
  }

  return {
    async verify(token, verifyOptions) {
      const permissions = requiredPermissions(verifyOptions);
      const issuer = issuerFor(token);
      if (!('check' in issuer)) throw refusalError(issuer);
      // A cache of verified tokens goes here (by the token's text, with the issuer it was verified for).
      const result = await verifiedBy(issuer, token);
      if (!result.ok) throw refusalError(result);
      // A revocation check goes here, on `result.claims` of a `tessera` issuer (jti, sid, sub, iat).
      return authorized(result.claims, permissions);
    },
    async ready() {
      await Promise.all(
        verifiers.map(async ({ remote }) => {
          if (!remote || !remote.due()) return;
          const fetching = remote.refresh();
          if (fetching) await fetching;
          else if (!remote.current) throw remote.unavailable();
        }),
      );
    },
  } as Verifier;
}
