import { refuse, type Refusal } from './result.js';

/** The claims of a Tessera access token (SPEC §2, RFC 9068 §2.2). */
export interface AccessTokenClaims {
  iss: string;
  aud: string | string[];
  sub: string;
  client_id: string;
  iat: number;
  nbf: number;
  exp: number;
  jti: string;
  sid: string;
  roles: string[];
  permissions: string[];
  amr: string[];
  username?: string;
  tenant?: string;
}

/** Milliseconds since the epoch; tests pass a fixed clock. Structurally the same as the server's Clock. */
export interface VerifyClock {
  now(): number;
}

export interface ClaimsPolicy {
  /** The one issuer accepted, or a list of them. */
  issuer: string | readonly string[];
  /** This verifier's own audience: `aud` must be it, or a list naming it. */
  audience: string;
  clock: VerifyClock;
  /** Leeway for exp, nbf and iat, in seconds (default 30). */
  leewaySeconds?: number;
  /**
   * The longest `exp - iat` accepted, in seconds (default: none). No leeway: the issuer sets both
   * from one clock reading. The server sets its access-token TTL, so a token minted before the TTL
   * was lowered cannot outlive the revocations kept for it.
   */
  maxLifetimeSeconds?: number;
}

export interface CheckedClaims {
  readonly ok: true;
  readonly claims: AccessTokenClaims;
}

/** RFC 9068 §4: the media type, with or without its application/ prefix, in any case. */
const accessTokenType = /^(application\/)?at\+jwt$/i;

/** The typ check of RFC 9068 §4 and RFC 8725 §3.11, on a verified header. */
export function checkType(header: Record<string, unknown>): Refusal | undefined {
  if (typeof header.typ !== 'string' || !accessTokenType.test(header.typ)) return refuse('wrong_type', 'typ is not at+jwt');
  return undefined;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

type Shape = 'string' | 'number' | 'string list' | 'audience';

function hasShape(value: unknown, shape: Shape): boolean {
  switch (shape) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number';
    case 'string list':
      return isStringArray(value);
    case 'audience':
      return typeof value === 'string' || isStringArray(value);
  }
}

/** Required claims of RFC 9068 §2.2, then Tessera's own (SPEC §2), with their shapes. */
const requiredClaims: readonly (readonly [keyof AccessTokenClaims, Shape])[] = [
  ['iss', 'string'],
  ['exp', 'number'],
  ['aud', 'audience'],
  ['sub', 'string'],
  ['client_id', 'string'],
  ['iat', 'number'],
  ['jti', 'string'],
  ['sid', 'string'],
  ['roles', 'string list'],
  ['permissions', 'string list'],
  ['amr', 'string list'],
];

/** Optional claims, checked when present: `scope` is RFC 9068 §2.2.3's space-delimited string. */
const optionalClaims: readonly (readonly [string, Shape])[] = [
  ['nbf', 'number'],
  ['username', 'string'],
  ['tenant', 'string'],
  ['scope', 'string'],
];

function checkShapes(payload: Record<string, unknown>): Refusal | undefined {
  for (const [name, shape] of requiredClaims) {
    if (payload[name] === undefined) return refuse('missing_claim', `no ${name}`);
    if (!hasShape(payload[name], shape)) return refuse('invalid_claim', `${name} is not a ${shape}`);
  }
  for (const [name, shape] of optionalClaims) {
    if (payload[name] !== undefined && !hasShape(payload[name], shape)) return refuse('invalid_claim', `${name} is not a ${shape}`);
  }
  return undefined;
}

/** Whether claims already verified are still inside their validity window at `nowSeconds`. */
export function withinValidity(claims: Pick<AccessTokenClaims, 'exp' | 'nbf'>, nowSeconds: number, leewaySeconds: number): boolean {
  return claims.exp + leewaySeconds > nowSeconds && !(claims.nbf - leewaySeconds > nowSeconds);
}

/**
 * The claims checks of a verified payload (RFC 7519 §4.1, RFC 9068 §4, SPEC §2): every required
 * claim present with its shape, then issuer, audience, the time claims with the leeway, and the
 * lifetime cap. Returns the typed claims, or the first reason to refuse.
 */
export function createClaimsCheck(policy: ClaimsPolicy): (payload: Record<string, unknown>) => CheckedClaims | Refusal {
  const issuers: ReadonlySet<unknown> = new Set(typeof policy.issuer === 'string' ? [policy.issuer] : policy.issuer);
  const { audience, clock } = policy;
  const leeway = policy.leewaySeconds ?? 30;
  const maxLifetime = policy.maxLifetimeSeconds ?? Infinity;

  return (payload) => {
    const shapes = checkShapes(payload);
    if (shapes) return shapes;
    const claims = payload as unknown as AccessTokenClaims;
    if (!issuers.has(claims.iss)) return refuse('wrong_issuer', 'wrong issuer');
    if (!(claims.aud === audience || (Array.isArray(claims.aud) && claims.aud.includes(audience)))) return refuse('wrong_audience', 'wrong audience');
    const now = clock.now() / 1000;
    if (claims.exp + leeway <= now) return refuse('expired', 'expired');
    if (claims.nbf !== undefined && claims.nbf - leeway > now) return refuse('not_yet_valid', 'not yet valid');
    if (claims.iat - leeway > now) return refuse('issued_in_future', 'iat in the future');
    if (claims.exp - claims.iat > maxLifetime) return refuse('lifetime_too_long', 'lifetime longer than the access-token TTL');
    return { ok: true, claims };
  };
}
