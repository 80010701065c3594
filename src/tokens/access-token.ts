import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { AuthError } from '../errors/auth-error.js';
import type { KeyRing } from '../keys/key-ring.js';
import { createAccessTokenVerifier, type AccessTokenResult } from '../verify/access-token.js';
import type { AccessTokenClaims } from '../verify/claims.js';
import type { Refusal } from '../verify/result.js';
import { signCompactJws } from './jws.js';

export type { AccessTokenClaims };

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

/** The client error of a refused token: the default description, and the check that failed as the detail (logs only). */
export function invalidToken(refusal: Refusal): AuthError {
  return new AuthError('invalid_token', { detail: refusal.detail });
}

export interface AccessTokens {
  issue(subject: AccessTokenSubject): Promise<{ token: string; claims: AccessTokenClaims }>;
  /**
   * Verifies signature and claims through the verification core (src/verify/, SPEC §2: key by
   * kid among our published keys, alg pinned to that key, typ at+jwt, iss, aud, exp/nbf/iat with
   * leeway, exp - iat within the TTL, size cap), the signature on the thread pool. Revocation and
   * user state are checked by the caller. Resolves to the claims or the reason for refusing.
   */
  check(token: string): Promise<AccessTokenResult>;
  /** `check`, throwing AuthError `invalid_token` for a refused token. */
  verify(token: string): Promise<AccessTokenClaims>;
}

export function createAccessTokens(options: AccessTokenOptions): AccessTokens {
  const { keyRing, clock, issuer, audience, ttlMs } = options;
  const leeway = options.leewaySeconds ?? 30;
  const ttlSeconds = Math.floor(ttlMs / 1000);
  const verifier = createAccessTokenVerifier({
    keys: (kid) => keyRing.verificationKey(kid),
    issuer,
    audience,
    clock,
    leewaySeconds: leeway,
    // Revocations live as long as the configured TTL; a token meant to outlive them (minted
    // before TESSERA_ACCESS_TTL was lowered) would come back to life when its entry expires.
    maxLifetimeSeconds: ttlSeconds,
  });

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

    check: (token) => verifier.verifyOffThread(token),

    async verify(token) {
      const result = await verifier.verifyOffThread(token);
      if (!result.ok) throw invalidToken(result);
      return result.claims;
    },
  };
}
