import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { AuthError } from '../errors/auth-error.js';
import type { TokenRejectionReason } from '../events/bus.js';
import type { KeyRing } from '../keys/key-ring.js';
import { JwsError, signCompactJws, verifyCompactJws } from './jws.js';

/** The claims of a Tessera access token (SPEC §2, RFC 9068). */
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

export interface AccessTokenSubject {
  userId: string;
  sessionId: string;
  username: string;
  roles: string[];
  permissions: string[];
  amr: string[];
  tenant: string | null;
  /** The token never outlives this (its session's absolute end), in milliseconds. */
  notAfterMs?: number;
}

export interface AccessTokenOptions {
  keyRing: KeyRing;
  clock: Clock;
  issuer: string;
  audience: string;
  ttlMs: number;
  /** Leeway for exp, nbf and iat, in seconds (default 30). */
  leewaySeconds?: number;
}

/** RFC 9068 §2.2: the OAuth client the token was issued to; Tessera's own sign-in API. */
export const clientId = 'tessera';

/** Tokens larger than this are rejected before any parsing. */
export const maxTokenBytes = 8192;

function invalid(detail: string, cause?: unknown): AuthError {
  return new AuthError('invalid_token', { detail, cause });
}

/**
 * Why a rejected token looks forged or tampered with (a bad signature, a key we never published,
 * a header we refuse), rather than merely expired, revoked or malformed: what detection counts.
 */
export function forgeryOf(error: unknown): TokenRejectionReason | undefined {
  if (!(error instanceof AuthError) || !(error.cause instanceof JwsError)) return undefined;
  const message = error.cause.message;
  if (/signature/.test(message)) return 'bad_signature';
  if (message === 'unknown kid') return 'unknown_key';
  if (/^header member|^no kid|^alg does not match/.test(message)) return 'bad_header';
  return undefined;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

export interface AccessTokens {
  issue(subject: AccessTokenSubject): Promise<{ token: string; claims: AccessTokenClaims }>;
  /**
   * Verifies signature and claims (SPEC §2: key by kid among our published keys, alg pinned to
   * that key, typ at+jwt, iss, aud, exp/nbf/iat with leeway, exp - iat within the TTL, size
   * cap). Revocation and user state are checked by the caller. Throws AuthError `invalid_token`.
   */
  verify(token: string): Promise<AccessTokenClaims>;
}

export function createAccessTokens(options: AccessTokenOptions): AccessTokens {
  const { keyRing, clock, issuer, audience, ttlMs } = options;
  const leeway = options.leewaySeconds ?? 30;
  const ttlSeconds = Math.floor(ttlMs / 1000);

  return {
    async issue(subject) {
      const key = keyRing.signingKey;
      const now = Math.floor(clock.now() / 1000);
      const claims: AccessTokenClaims = {
        iss: issuer,
        aud: audience,
        sub: subject.userId,
        client_id: clientId,
        iat: now,
        nbf: now,
        exp: Math.min(now + ttlSeconds, Math.floor((subject.notAfterMs ?? Infinity) / 1000)),
        jti: randomUUID(),
        sid: subject.sessionId,
        roles: [...subject.roles],
        permissions: [...subject.permissions],
        amr: [...subject.amr],
        username: subject.username,
        ...(subject.tenant === null ? {} : { tenant: subject.tenant }),
      };
      const token = await signCompactJws({ alg: key.alg, kid: key.kid, typ: 'at+jwt' }, claims, key.privateKey);
      return { token, claims };
    },

    async verify(token) {
      if (typeof token !== 'string' || token.length > maxTokenBytes) throw invalid('token too large or not a string');
      let header: Record<string, unknown>;
      let payload: Record<string, unknown>;
      try {
        ({ header, payload } = await verifyCompactJws(token, (kid) => keyRing.verificationKey(kid)));
      } catch (error) {
        if (error instanceof JwsError) throw invalid(error.message, error);
        throw error;
      }
      // RFC 9068 §4: the media type, with or without its application/ prefix, any case.
      if (typeof header.typ !== 'string' || !/^(application\/)?at\+jwt$/i.test(header.typ)) throw invalid('typ is not at+jwt');
      if (payload.iss !== issuer) throw invalid('wrong issuer');
      if (!(payload.aud === audience || (Array.isArray(payload.aud) && payload.aud.includes(audience)))) throw invalid('wrong audience');
      const nowSeconds = clock.now() / 1000;
      if (typeof payload.exp !== 'number' || payload.exp + leeway <= nowSeconds) throw invalid('expired');
      if (payload.nbf !== undefined && (typeof payload.nbf !== 'number' || payload.nbf - leeway > nowSeconds)) throw invalid('not yet valid');
      if (typeof payload.iat !== 'number' || payload.iat - leeway > nowSeconds) throw invalid('iat in the future');
      if (
        typeof payload.sub !== 'string' ||
        typeof payload.jti !== 'string' ||
        typeof payload.sid !== 'string' ||
        typeof payload.exp !== 'number' ||
        !isStringArray(payload.roles) ||
        !isStringArray(payload.permissions) ||
        !isStringArray(payload.amr) ||
        (payload.username !== undefined && typeof payload.username !== 'string') ||
        (payload.tenant !== undefined && typeof payload.tenant !== 'string')
      ) {
        throw invalid('claims of the wrong type');
      }
      // Revocations live as long as the configured TTL; a token meant to outlive them (minted
      // before TESSERA_ACCESS_TTL was lowered) would come back to life when its entry expires.
      // No tolerance: we set both claims from one clock reading, so exp - iat is exactly the TTL.
      if (payload.exp - payload.iat > ttlSeconds) throw invalid('lifetime longer than the access-token TTL');
      return payload as unknown as AccessTokenClaims;
    },
  };
}
