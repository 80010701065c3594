import { maxTokenBytes } from '../access-token-checks.js';
import { withinValidity, type AccessTokenClaims, type VerifyClock } from '../claims.js';
import type { JwsAlgorithm } from '../jws-structure.js';
import { refuse, type Refusal } from '../result.js';
import { TokenCache } from '../token-cache.js';
import type { CryptoBackend, SdkKeySet } from './backend.js';
import { codeOf, VerifyError } from './errors.js';
import { createRevocationSubscription, type RevocationOptions, type RevocationSubscription } from './revocation.js';
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
  /** Subscribes to the issuer's revocation stream (GET /auth/revocations), so revoked tokens are refused too. */
  revocation?: VerifierRevocationOptions;
  /** Verified tokens kept, so one presented again costs a lookup (default 10 000; 0: none). */
  cacheSize?: number;
}

/** `revocation`: the stream of one Tessera issuer (with `issuers`, name it unless only one is of kind tessera). */
export interface VerifierRevocationOptions extends RevocationOptions {
  issuer?: string;
  /** Hears why the stream is out of reach (a VerifyError `revocation_unavailable`), once per change of cause; never with a credential in it. */
  onError?: (error: unknown) => void;
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
  /** Subscribes to one Tessera issuer's revocation stream. */
  revocation?: VerifierRevocationOptions;
  /** Verified tokens kept (default 10 000; 0: none). */
  cacheSize?: number;
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
  /** The revocation subscription, when `revocation` was given: `ready`, `staleness()`, `size`. */
  readonly revocation: RevocationSubscription | undefined;
  /** Ends the revocation subscription and its timers; verification goes on without it. Idempotent. */
  close(): void;
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
function unverifiedIssuer(token: unknown, backend: CryptoBackend): string | Refusal {
  if (typeof token !== 'string' || token.length > maxTokenBytes) return refuse('too_large', 'token too large or not a string');
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((part) => segment.test(part))) return refuse('malformed', 'not a compact JWS');
  let payload: unknown;
  try {
    payload = JSON.parse(backend.base64url.text(parts[1]!));
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

function issuerVerifiers(options: VerifierOptions | IssuersVerifierOptions, backend: CryptoBackend): IssuerVerifier[] {
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
    return [createIssuerVerifier({ issuer, audience, jwksUri, keys, kind: 'tessera' }, { audience, algorithms, clock, leewaySeconds, fetchTimeoutMs, backend }, 'options')];
  }
  const { issuers, audience } = options as IssuersVerifierOptions;
  if (!Array.isArray(issuers) || issuers.length === 0) throw invalidOptions('issuers must be a non-empty list');
  if (audience !== undefined) nonEmptyString(audience, 'audience');
  const defaults = { audience, algorithms, clock, leewaySeconds, fetchTimeoutMs, backend };
  const built = issuers.map((issuer: IssuerOptions, index) => createIssuerVerifier(issuer, defaults, `issuers[${index}]`));
  if (new Set(built.map(({ issuer }) => issuer)).size !== built.length) throw invalidOptions('issuers must name each issuer once');
  return built;
}

/** `createVerifier`, as each entry point exports it (node:crypto or Web Crypto underneath). */
export interface CreateVerifier {
  (options: IssuersVerifierOptions): Verifier<VerifiedClaims & Readonly<Record<string, unknown>>>;
  (options: VerifierOptions): Verifier<AccessTokenClaims>;
}

/** What the cache keeps of a verified token: its claims, whose checks made them, with which keys. */
interface Verified {
  claims: VerifiedClaims;
  issuer: IssuerVerifier;
  keys: SdkKeySet | undefined;
}

function revocationFor(options: VerifierOptions | IssuersVerifierOptions, verifiers: IssuerVerifier[]): { issuer: IssuerVerifier; options: VerifierRevocationOptions } | undefined {
  const revocation = options.revocation;
  if (revocation === undefined) return undefined;
  if (typeof revocation !== 'object' || revocation === null) throw invalidOptions('revocation must be an object');
  const tessera = verifiers.filter((verifier) => verifier.kind === 'tessera');
  const named = revocation.issuer === undefined ? (tessera.length === 1 ? tessera[0] : undefined) : tessera.find((verifier) => verifier.issuer === revocation.issuer);
  if (!named) throw invalidOptions('revocation.issuer must name one of the issuers of kind tessera');
  return { issuer: named, options: revocation };
}

/**
 * `createVerifier` over a crypto backend: a verifier of access tokens from one Tessera issuer
 * (`issuer`) or several issuers (`issuers`), on the same verification core as the server
 * (src/verify/): keys given, fetched from a JWKS URI (jwks.ts) or found by OpenID discovery
 * (discovery.ts); tokens verified before answered from a cache until they expire; a Tessera
 * issuer's revocations followed (revocation.ts). Options are checked here, so a misconfiguration
 * fails at start-up with `invalid_options`.
 */
export function verifierFactory(backend: CryptoBackend): CreateVerifier {
  function createVerifier(options: VerifierOptions | IssuersVerifierOptions): Verifier {
    if (typeof options !== 'object' || options === null) throw invalidOptions('options must be an object');
    const verifiers = issuerVerifiers(options, backend);
    const byIssuer = new Map(verifiers.map((verifier) => [verifier.issuer, verifier]));
    const clock: VerifyClock = options.clock ?? Date;
    const leewaySeconds = options.clockTolerance ?? 30;
    const cacheSize = nonNegative(options.cacheSize, 'cacheSize', 10_000);
    const cache = cacheSize >= 1 ? new TokenCache<Verified>(cacheSize) : undefined;
    const followed = revocationFor(options, verifiers);
    const revocation = followed
      ? createRevocationSubscription({
          ...followed.options,
          issuer: followed.issuer.issuer,
          clock,
          fetchTimeoutMs: nonNegative(options.fetchTimeoutMs, 'fetchTimeoutMs', 5000),
        })
      : undefined;

    /** Whose token this claims to be. With one issuer there is no choice: its checks refuse another `iss`. */
    function issuerFor(token: unknown): IssuerVerifier | Refusal {
      if (verifiers.length === 1) return verifiers[0]!;
      const iss = unverifiedIssuer(token, backend);
      if (typeof iss !== 'string') return iss;
      return byIssuer.get(iss) ?? refuse('wrong_issuer', 'wrong issuer');
    }

    async function check(issuer: IssuerVerifier, token: unknown): Promise<IssuerResult> {
      try {
        return await issuer.check(token as string);
      } catch {
        // The checks never throw for any input; should they, the token is refused, never accepted.
        return { ok: false, reason: 'malformed', detail: 'unverifiable token' };
      }
    }

    /** The one place a verified result is produced, with the issuer's keys (fetched when due). */
    async function verifiedBy(issuer: IssuerVerifier, token: unknown): Promise<IssuerResult> {
      if (issuer.importing) await issuer.importing;
      const { remote } = issuer;
      if (!remote) return check(issuer, token);
      if (remote.due()) {
        const fetching = remote.refresh();
        if (fetching) await fetching;
        else if (!remote.current) throw remote.unavailable();
      }
      const result = await check(issuer, token);
      if (result.ok || result.reason !== 'unknown_kid') return result;
      // A kid we do not know may be a rotation's new key: fetch again, at most once per cool-down.
      const fetching = remote.refresh();
      if (!fetching) return result;
      await fetching;
      return check(issuer, token);
    }

    /**
     * A token verified before, while it is within its validity and its issuer's keys are the ones
     * it was verified with (a refetched key set, or one due for a refetch, sends it through again).
     */
    function cached(token: unknown): Verified | undefined {
      if (cache === undefined || typeof token !== 'string') return undefined;
      const hit = cache.get(token);
      if (hit === undefined) return undefined;
      const { remote } = hit.issuer;
      if (withinValidity(hit.claims as { exp: number; nbf: number }, clock.now() / 1000, leewaySeconds) && (!remote || (remote.current === hit.keys && !remote.due()))) return hit;
      cache.delete(token);
      return undefined;
    }

    /** Never cached or skipped: the revocation state of the followed issuer, for its tokens. */
    function checkRevocation(verified: Verified): void {
      if (!revocation || verified.issuer !== followed!.issuer) return;
      if (revocation.failingClosed()) throw new VerifyError('revocation_unavailable', 'the revocation stream has been out of reach longer than failClosedAfter');
      const claims = verified.claims as AccessTokenClaims;
      if (revocation.check(claims) !== undefined) throw new VerifyError('token_revoked', 'access token refused: revoked');
    }

    function authorized(claims: VerifiedClaims, permissions: readonly string[]): VerifiedClaims {
      if (permissions.length === 0) return claims;
      const held = new Set(claims.permissions);
      const missing = permissions.filter((permission) => !held.has(permission));
      if (missing.length > 0) throw new VerifyError('insufficient_permissions', `the token lacks ${missing.length} of the permissions required`);
      return claims;
    }

    /** After the signature and claims: the revocation state (never cached), then the permissions asked for. */
    function finish(verified: Verified, permissions: readonly string[]): VerifiedClaims {
      checkRevocation(verified);
      return authorized(verified.claims, permissions);
    }

    function remember(token: unknown, issuer: IssuerVerifier, result: IssuerResult): Verified {
      if (!result.ok) throw refusalError(result);
      const verified = { claims: result.claims, issuer, keys: issuer.remote?.current };
      cache?.set(token as string, verified);
      return verified;
    }

    async function verifySlowly(token: unknown, issuer: IssuerVerifier, permissions: readonly string[]): Promise<VerifiedClaims> {
      return finish(remember(token, issuer, await verifiedBy(issuer, token)), permissions);
    }

    /**
     * The synchronous check when it can be one (node:crypto, keys at hand and fresh, a known kid):
     * no await between the token and its answer, which is most of the SDK's cost over a raw
     * signature check. Anything else takes the path that may fetch keys.
     */
    function verifyNow(token: unknown, permissions: readonly string[]): VerifiedClaims | Promise<VerifiedClaims> {
      const hit = cached(token);
      if (hit !== undefined) return finish(hit, permissions);
      const issuer = issuerFor(token);
      if (!('check' in issuer)) throw refusalError(issuer);
      const { remote } = issuer;
      // Web Crypto's check is asynchronous anyway: straight to the path that awaits.
      if (backend.name === 'web' || issuer.importing !== undefined || (remote !== undefined && (remote.current === undefined || remote.due()))) return verifySlowly(token, issuer, permissions);
      let result: ReturnType<IssuerVerifier['check']>;
      try {
        result = issuer.check(token as string);
      } catch {
        result = { ok: false, reason: 'malformed', detail: 'unverifiable token' };
      }
      if (result instanceof Promise || (!result.ok && result.reason === 'unknown_kid' && remote !== undefined)) return verifySlowly(token, issuer, permissions);
      return finish(remember(token, issuer, result), permissions);
    }

    return {
      verify(token, verifyOptions) {
        try {
          const answer = verifyNow(token, requiredPermissions(verifyOptions));
          return answer instanceof Promise ? answer : Promise.resolve(answer);
        } catch (error) {
          return Promise.reject(error);
        }
      },
      async ready() {
        await Promise.all(
          verifiers.map(async ({ remote, importing }) => {
            if (importing) await importing;
            if (!remote || !remote.due()) return;
            const fetching = remote.refresh();
            if (fetching) await fetching;
            else if (!remote.current) throw remote.unavailable();
          }),
        );
      },
      revocation,
      close() {
        revocation?.close();
      },
    };
  }
  return createVerifier as CreateVerifier;
}
