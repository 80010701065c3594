import { createAccessTokenVerifier, type AccessTokenResult } from '../access-token.js';
import { isJwsAlgorithm, jwsAlgorithms, type JwsAlgorithm } from '../algorithms.js';
import type { AccessTokenClaims, VerifyClock } from '../claims.js';
import type { KeyLookup } from '../jws.js';
import { codeOf, VerifyError } from './errors.js';
import { createRemoteKeySet, parseJwksUri, type RemoteKeySet } from './jwks.js';
import { importKeySet, KeySetError, type KeySet } from './keys.js';

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
  /** Aborts a JWKS fetch after this long, in milliseconds (default 5000). */
  fetchTimeoutMs?: number;
}

export interface VerifyOptions {
  /** Permissions the token must all carry, else `insufficient_permissions`. */
  permissions?: readonly string[];
}

export interface Verifier {
  /**
   * Resolves to the token's claims once the signature, the header and the claims hold (SPEC §2),
   * and the token carries every permission asked for. Rejects with a VerifyError, never another
   * error. Waits only when the key set must be fetched; otherwise the check is synchronous.
   */
  verify(token: string, options?: VerifyOptions): Promise<AccessTokenClaims>;
}

function invalidOptions(message: string): VerifyError {
  return new VerifyError('invalid_options', message);
}

function nonEmptyString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) throw invalidOptions(`${name} must be a non-empty string`);
  return value;
}

function allowedAlgorithms(value: unknown): readonly JwsAlgorithm[] {
  if (value === undefined) return jwsAlgorithms;
  if (!Array.isArray(value) || value.length === 0 || !value.every(isJwsAlgorithm)) {
    throw invalidOptions(`algorithms must be a non-empty list of ${jwsAlgorithms.join(', ')}`);
  }
  return [...new Set(value)];
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

/**
 * A verifier of one issuer's access tokens, on the same verification core as the server
 * (src/verify/access-token.ts), with its keys given or fetched from a JWKS URI (jwks.ts).
 * Options are checked here, so a misconfiguration fails at start-up with `invalid_options`.
 */
export function createVerifier(options: VerifierOptions): Verifier {
  if (typeof options !== 'object' || options === null) throw invalidOptions('options must be an object');
  const issuer = nonEmptyString(options.issuer, 'issuer');
  const audience = nonEmptyString(options.audience, 'audience');
  const algorithms = allowedAlgorithms(options.algorithms);
  const leewaySeconds = nonNegative(options.clockTolerance, 'clockTolerance', 30);
  const fetchTimeoutMs = nonNegative(options.fetchTimeoutMs, 'fetchTimeoutMs', 5000);
  const clock: VerifyClock = options.clock ?? Date;
  if (typeof clock.now !== 'function') throw invalidOptions('clock must have a now() method');
  if ((options.jwksUri === undefined) === (options.keys === undefined)) throw invalidOptions('give exactly one of jwksUri and keys');

  let staticKeys: KeySet | undefined;
  let remote: RemoteKeySet | undefined;
  if (options.keys !== undefined) {
    try {
      staticKeys = importKeySet(options.keys, algorithms);
    } catch (error) {
      throw invalidOptions(`keys: ${error instanceof KeySetError ? error.message : 'not a JWKS document'}`);
    }
  } else {
    remote = createRemoteKeySet({ uri: parseJwksUri(options.jwksUri), algorithms, clock, fetchTimeoutMs });
  }

  // Read at each lookup, so a refetched set is used at once; never a key named or carried by the token.
  const keys: KeyLookup = staticKeys ? (kid) => staticKeys.get(kid) : (kid) => remote!.current?.get(kid);
  const core = createAccessTokenVerifier({ keys, issuer, audience, clock, leewaySeconds });

  function check(token: unknown): AccessTokenResult {
    try {
      return core.verify(token);
    } catch {
      // The core never throws for any input; should it, the token is refused, never accepted.
      return { ok: false, reason: 'malformed', detail: 'unverifiable token' };
    }
  }

  async function withKeys(token: unknown): Promise<AccessTokenResult> {
    if (!remote) return check(token);
    if (remote.due()) {
      const fetching = remote.refresh();
      if (fetching) await fetching;
      else if (!remote.current) throw remote.unavailable();
    }
    const result = check(token);
    if (result.ok || result.reason !== 'unknown_kid') return result;
    // A kid we do not know may be a rotation's new key: fetch again, at most once per cool-down.
    const fetching = remote.refresh();
    if (!fetching) return result;
    await fetching;
    return check(token);
  }

  return {
    async verify(token, verifyOptions) {
      const permissions = requiredPermissions(verifyOptions);
      const result = await withKeys(token);
      if (!result.ok) throw new VerifyError(codeOf(result.reason), `access token refused: ${result.detail}`, result.reason);
      if (permissions.length === 0) return result.claims;
      const held = new Set(result.claims.permissions);
      const missing = permissions.filter((permission) => !held.has(permission));
      if (missing.length > 0) throw new VerifyError('insufficient_permissions', `the token lacks ${missing.length} of the permissions required`);
      return result.claims;
    },
  };
}
