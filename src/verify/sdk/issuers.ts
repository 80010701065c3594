import { createAccessTokenChecks } from '../access-token-checks.js';
import type { VerifyClock } from '../claims.js';
import { createExternalTokenVerifier, type ExternalTokenResult } from '../external-claims.js';
import { isJwsAlgorithm, jwsAlgorithms, type JwsAlgorithm, type PinnedKeyLookup } from '../jws-structure.js';
import { refuse, type Refusal } from '../result.js';
import type { CryptoBackend, MaybePromise, SdkKey, SdkKeySet } from './backend.js';
import { isClaimMapping, mapPermissions, mapRoles, type ClaimMapping } from './claims-mapping.js';
import { createDiscoveredKeySet } from './discovery.js';
import { VerifyError } from './errors.js';
import { checkKeySet, KeySetError } from './jwk-rules.js';
import { createRemoteKeySet, parseJwksUri, type RemoteKeySet } from './jwks.js';

/**
 * How an issuer's tokens are checked. `tessera`: Tessera's own access tokens, with every check the
 * server makes (`typ: at+jwt`, `jti`, `sid`, `roles`, `permissions`, `amr`, … required).
 * `oidc`: another provider's JWT access tokens (Cognito, Auth0, Keycloak), RFC 7519 / RFC 9068.
 */
export type IssuerKind = 'tessera' | 'oidc';

/**
 * What `verify` resolves to: the token's claims as issued, with `roles` and `permissions` always
 * lists of strings (for `oidc` issuers, mapped as configured). Tessera's AccessTokenClaims is one.
 * Every other claim is on the object too: a verifier built with `issuers` types it so
 * (`claims['cognito:username']` is `unknown`).
 */
export interface VerifiedClaims {
  iss: string;
  sub: string;
  exp: number;
  roles: string[];
  permissions: string[];
  aud?: string | string[];
  iat?: number;
  nbf?: number;
  jti?: string;
  client_id?: string;
  sid?: string;
  amr?: string[];
  scope?: string;
  username?: string;
  tenant?: string;
}

/** One trusted issuer of a verifier built with `issuers`. */
export interface IssuerOptions {
  /** The `iss` its tokens carry, exactly (for discovery, also where its document is). */
  issuer: string;
  /** This service's audience for this issuer (default: the verifier's `audience`). */
  audience?: string;
  /** Where its keys are; with neither this nor `keys`, they are found by OpenID discovery. */
  jwksUri?: string | URL;
  /** Static public keys (a JWKS document or a list of JWKs). */
  keys?: unknown;
  /** Default `tessera`: an external provider must be declared `oidc`. */
  kind?: IssuerKind;
  /** The algorithms its keys may use (default: the verifier's `algorithms`). */
  algorithms?: readonly JwsAlgorithm[];
  /** `oidc` only: where permissions come from (default: `permissions` if present, else `scope`). */
  permissions?: ClaimMapping;
  /** `oidc` only: where roles come from (default: `roles` if present, else `cognito:groups`, else none). */
  roles?: ClaimMapping;
  /** `oidc` only: the `token_use` every token must carry (Cognito: `access`). */
  tokenUse?: string;
}

/** The settings every issuer shares unless it sets its own. */
export interface IssuerDefaults {
  audience: string | undefined;
  algorithms: readonly JwsAlgorithm[];
  leewaySeconds: number;
  clock: VerifyClock;
  fetchTimeoutMs: number;
  /** Where keys are imported and signatures checked (node:crypto or Web Crypto). */
  backend: CryptoBackend;
}

export type IssuerResult = { readonly ok: true; readonly claims: VerifiedClaims } | Refusal;

/** One configured issuer: its keys and its checks. */
export interface IssuerVerifier {
  readonly issuer: string;
  readonly kind: IssuerKind;
  /** The fetched key set (a jwksUri or discovery); undefined for static keys. */
  readonly remote: RemoteKeySet | undefined;
  /** Static keys a backend imports asynchronously (Web Crypto): settled before the first check. */
  readonly importing: Promise<void> | undefined;
  /** Signature and claims with this issuer's keys only; synchronous on node:crypto, never throws (or rejects). */
  check(token: string): MaybePromise<IssuerResult>;
}

export function invalidOptions(message: string): VerifyError {
  return new VerifyError('invalid_options', message);
}

export function nonEmptyString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) throw invalidOptions(`${name} must be a non-empty string`);
  return value;
}

export function allowedAlgorithms(value: unknown, fallback: readonly JwsAlgorithm[] = jwsAlgorithms): readonly JwsAlgorithm[] {
  if (value === undefined) return fallback;
  if (!Array.isArray(value) || value.length === 0 || !value.every(isJwsAlgorithm)) {
    throw invalidOptions(`algorithms must be a non-empty list of ${jwsAlgorithms.join(', ')}`);
  }
  return [...new Set(value)];
}

interface KeySource {
  lookup: PinnedKeyLookup<SdkKey>;
  remote: RemoteKeySet | undefined;
  importing: Promise<void> | undefined;
}

function keySource(options: IssuerOptions, issuer: string, algorithms: readonly JwsAlgorithm[], defaults: IssuerDefaults, where: string): KeySource {
  if (options.jwksUri !== undefined && options.keys !== undefined) throw invalidOptions(`${where}: give at most one of jwksUri and keys`);
  const { backend } = defaults;
  if (options.keys !== undefined) {
    const refused = (error: unknown) => invalidOptions(`${where} keys: ${error instanceof KeySetError ? error.message : 'not a JWKS document'}`);
    // The document's rules at once, on every runtime, so a misconfiguration fails at start-up.
    try {
      checkKeySet(options.keys, algorithms);
    } catch (error) {
      throw refused(error);
    }
    let keys: SdkKeySet | undefined;
    let imported: MaybePromise<SdkKeySet>;
    try {
      imported = backend.importKeySet(options.keys, algorithms);
    } catch (error) {
      throw refused(error);
    }
    if (!(imported instanceof Promise)) {
      keys = imported;
      return { lookup: (kid) => keys!.get(kid), remote: undefined, importing: undefined };
    }
    // Web Crypto imports asynchronously: verifications wait for it, and see its failure.
    const importing = imported.then(
      (done) => void (keys = done),
      (error: unknown) => Promise.reject(refused(error)),
    );
    importing.catch(() => undefined);
    return { lookup: (kid) => keys?.get(kid), remote: undefined, importing };
  }
  const { clock, fetchTimeoutMs } = defaults;
  const remote =
    options.jwksUri !== undefined
      ? createRemoteKeySet({ uri: parseJwksUri(options.jwksUri), algorithms, clock, fetchTimeoutMs, backend })
      : createDiscoveredKeySet({ issuer, algorithms, clock, fetchTimeoutMs, backend });
  // Read at each lookup, so a refetched set is used at once; never a key named or carried by the token.
  return { lookup: (kid) => remote.current?.get(kid), remote, importing: undefined };
}

/**
 * One issuer's verifier from its options, checked at once (`invalid_options` names the issuer's
 * index, never a value). Both kinds run on the same JWS core; only the checks after it differ.
 */
export function createIssuerVerifier(options: IssuerOptions, defaults: IssuerDefaults, where: string): IssuerVerifier {
  if (typeof options !== 'object' || options === null) throw invalidOptions(`${where} must be an object`);
  const issuer = nonEmptyString(options.issuer, `${where}.issuer`);
  const audience = nonEmptyString(options.audience ?? defaults.audience, `${where}.audience (or the verifier's audience)`);
  const kind = options.kind ?? 'tessera';
  if (kind !== 'tessera' && kind !== 'oidc') throw invalidOptions(`${where}.kind must be 'tessera' or 'oidc'`);
  const algorithms = allowedAlgorithms(options.algorithms, defaults.algorithms);
  for (const name of ['permissions', 'roles', 'tokenUse'] as const) {
    if (options[name] === undefined) continue;
    // Tessera's tokens carry their own lists; a mapping here means the issuer is an external one.
    if (kind === 'tessera') throw invalidOptions(`${where}.${name} applies to kind 'oidc' only`);
    if (name === 'tokenUse' ? typeof options.tokenUse !== 'string' || options.tokenUse.length === 0 : !isClaimMapping(options[name])) {
      throw invalidOptions(`${where}.${name} must be ${name === 'tokenUse' ? 'a non-empty string' : 'a claim name or a function'}`);
    }
  }
  const { lookup, remote, importing } = keySource(options, issuer, algorithms, defaults, where);
  const { clock, leewaySeconds, backend } = defaults;

  if (kind === 'tessera') {
    const { sized, tooLarge, afterSignature } = createAccessTokenChecks({ issuer, audience, clock, leewaySeconds });
    return {
      issuer,
      kind,
      remote,
      importing,
      check(token) {
        if (!sized(token)) return tooLarge;
        const jws = backend.verifyJws(token, lookup);
        return jws instanceof Promise ? jws.then(afterSignature) : afterSignature(jws);
      },
    };
  }

  const external = createExternalTokenVerifier(
    { keys: lookup, issuer, audience, clock, leewaySeconds, ...(options.tokenUse === undefined ? {} : { tokenUse: options.tokenUse }) },
    { verify: (token, keys) => backend.verifyJws(token, keys), base64url: backend.base64url },
  );
  const { permissions: permissionsMapping, roles: rolesMapping } = options;
  function mapped(result: ExternalTokenResult): IssuerResult {
    if (!result.ok) return result;
    const permissions = mapPermissions(result.claims, permissionsMapping);
    if (typeof permissions === 'string') return refuse('invalid_claim', 'the permissions claim is not a list of strings');
    const roles = mapRoles(result.claims, rolesMapping);
    if (typeof roles === 'string') return refuse('invalid_claim', 'the roles claim is not a list of strings');
    return { ok: true, claims: { ...result.claims, roles, permissions } };
  }
  return {
    issuer,
    kind,
    remote,
    importing,
    check(token) {
      const result = external.verify(token);
      return result instanceof Promise ? result.then(mapped) : mapped(result);
    },
  };
}
