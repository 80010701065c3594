import type { AccessVerifier } from '../tokens/access-verifier.js';
import type { SessionService } from '../sessions/service.js';
import type { AccessTokenClaims } from '../tokens/access-token.js';

/** RFC 7662 §2.2: `active` and, for an active token, what it says. */
export interface IntrospectionResult {
  active: boolean;
  token_type?: 'access_token' | 'refresh_token';
  sub?: string;
  exp?: number;
  iat?: number;
  nbf?: number;
  jti?: string;
  sid?: string;
  iss?: string;
  aud?: string | string[];
  client_id?: string;
  username?: string;
  roles?: string[];
  permissions?: string[];
}

export interface IntrospectInput {
  token: string;
  /** RFC 7662 §2.1 `token_type_hint`: only the order in which the kinds are tried. */
  hint?: string | undefined;
}

/** Describes a token for an authorised caller (the route checks who may ask). */
export type Introspect = (input: IntrospectInput) => Promise<IntrospectionResult>;

export interface IntrospectOptions {
  verifier: Pick<AccessVerifier, 'verify'>;
  sessions: Pick<SessionService, 'inspectRefreshToken'>;
}

/**
 * RFC 7662 introspection. An access token is active when it passes the same pipeline as any
 * request (signature, claims, revocation); a refresh token when a rotation would accept it now.
 * Anything else, garbage included, is exactly `{active: false}`.
 */
export function createIntrospect({ verifier, sessions }: IntrospectOptions): Introspect {
  async function access(token: string): Promise<IntrospectionResult | undefined> {
    let claims: AccessTokenClaims;
    try {
      claims = await verifier.verify(token);
    } catch {
      return undefined;
    }
    return {
      active: true,
      token_type: 'access_token',
      sub: claims.sub,
      exp: claims.exp,
      iat: claims.iat,
      nbf: claims.nbf,
      jti: claims.jti,
      sid: claims.sid,
      iss: claims.iss,
      aud: claims.aud,
      client_id: claims.client_id,
      ...(claims.username === undefined ? {} : { username: claims.username }),
      roles: claims.roles,
      permissions: claims.permissions,
    };
  }

  async function refresh(token: string): Promise<IntrospectionResult | undefined> {
    const check = await sessions.inspectRefreshToken(token);
    if (!check.found || check.state !== 'usable') return undefined;
    const { token: record, user } = check.family;
    return {
      active: true,
      token_type: 'refresh_token',
      sub: record.userId,
      sid: record.sessionId,
      // The public id, never the secret.
      jti: record.id,
      username: user.username,
      roles: user.roles,
      permissions: user.permissions,
      iat: Math.floor(record.createdAt.getTime() / 1000),
      exp: Math.floor(record.expiresAt.getTime() / 1000),
      client_id: 'tessera',
    };
  }

  return async function introspect({ token, hint }) {
    const order = hint === 'refresh_token' ? [refresh, access] : [access, refresh];
    for (const describe of order) {
      const result = await describe(token);
      if (result) return result;
    }
    return { active: false };
  };
}
