import { randomUUID } from 'node:crypto';
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { Clock } from '../clock.js';
import { AuthError } from '../errors/auth-error.js';
import type { KeyRing } from '../keys/key-ring.js';
import { signCompactJws } from './jws.js';

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

/** Header members that would let a token choose its own key; never trusted, so refused (RFC 8725 §3.10). */
const forbiddenHeaderMembers = ['jwk', 'jku', 'x5u', 'x5c', 'x5t', 'x5t#S256', 'crit'] as const;

const compactJws = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function invalid(detail: string, cause?: unknown): AuthError {
  return new AuthError('invalid_token', { detail, cause });
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

export interface AccessTokens {
  issue(subject: AccessTokenSubject): Promise<{ token: string; claims: AccessTokenClaims }>;
  /**
   * Verifies signature and claims (SPEC §2: key by kid among our published keys, alg pinned to
   * that key, typ at+jwt, iss, aud, exp/nbf/iat with leeway, size cap). Revocation and user
   * state are checked by the caller. Throws AuthError `invalid_token`.
   */
  verify(token: string): Promise<AccessTokenClaims>;
}

export function createAccessTokens(options: AccessTokenOptions): AccessTokens {
  const { keyRing, clock, issuer, audience, ttlMs } = options;
  const leeway = options.leewaySeconds ?? 30;

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
        exp: Math.min(now + Math.floor(ttlMs / 1000), Math.floor((subject.notAfterMs ?? Infinity) / 1000)),
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
      if (!compactJws.test(token)) throw invalid('not a compact JWS');
      let header: ReturnType<typeof decodeProtectedHeader>;
      try {
        header = decodeProtectedHeader(token);
      } catch (error) {
        throw invalid('undecodable header', error);
      }
      for (const member of forbiddenHeaderMembers) {
        if (member in header) throw invalid(`header member ${member} is not accepted`);
      }
      if (typeof header.kid !== 'string') throw invalid('no kid');
      const key = keyRing.verificationKey(header.kid);
      if (!key) throw invalid('unknown kid');
      if (header.alg !== key.alg) throw invalid('alg does not match the key');

      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, key.publicKey, {
          algorithms: [key.alg],
          issuer,
          audience,
          typ: 'at+jwt',
          clockTolerance: leeway,
          currentDate: new Date(clock.now()),
          requiredClaims: ['iss', 'aud', 'sub', 'iat', 'exp', 'jti', 'sid'],
        }));
      } catch (error) {
        if (error instanceof joseErrors.JOSEError) throw invalid(error.code, error);
        throw error;
      }

      const now = clock.now() / 1000;
      if (typeof payload.iat !== 'number' || payload.iat > now + leeway) throw invalid('iat in the future');
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
      return payload as unknown as AccessTokenClaims;
    },
  };
}
