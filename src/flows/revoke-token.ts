import type { EventContext } from '../events/bus.js';
import { AuthError } from '../errors/auth-error.js';
import type { RevocationService } from '../revocation/service.js';
import type { SessionService } from '../sessions/service.js';
import type { AccessTokens } from '../tokens/access-token.js';

export interface RevokeTokenInput {
  token: string;
  /** RFC 7009 §2.1 `token_type_hint`: only the order in which the kinds are tried. */
  hint?: string | undefined;
  /** The authenticated caller, when the request carried a Bearer: it may revoke only its own tokens. */
  callerId?: string | undefined;
  context?: EventContext;
}

/** RFC 7009: resolves for unknown and invalid tokens too (§2.2); 403 `not_token_owner` for another user's. */
export type RevokeToken = (input: RevokeTokenInput) => Promise<void>;

export interface RevokeTokenOptions {
  tokens: Pick<AccessTokens, 'verify'>;
  sessions: Pick<SessionService, 'inspectRefreshToken'>;
  revocations: Pick<RevocationService, 'revokeRefreshToken' | 'revokeAccessToken'>;
}

/**
 * Holding a token is enough to revoke it (RFC 7009 §2.1). A refresh token ends its session
 * whatever its state (a rotated one too: the family goes); an access token is refused from now
 * on while its session lives. Access tokens are checked by signature and claims only, so an
 * already revoked one is found and revoking it again changes nothing.
 */
export function createRevokeToken({ tokens, sessions, revocations }: RevokeTokenOptions): RevokeToken {
  type Owned = { userId: string; revoke: (context: EventContext | undefined) => Promise<void> };

  async function refreshToken(token: string): Promise<Owned | undefined> {
    const check = await sessions.inspectRefreshToken(token);
    if (!check.found) return undefined;
    const owner = { userId: check.family.token.userId, sessionId: check.family.token.sessionId };
    return { userId: owner.userId, revoke: (context) => revocations.revokeRefreshToken(owner, context) };
  }

  async function accessToken(token: string): Promise<Owned | undefined> {
    try {
      const claims = await tokens.verify(token);
      return { userId: claims.sub, revoke: (context) => revocations.revokeAccessToken(claims, context) };
    } catch {
      return undefined;
    }
  }

  return async function revokeToken({ token, hint, callerId, context }) {
    const order = hint === 'access_token' ? [accessToken, refreshToken] : [refreshToken, accessToken];
    for (const find of order) {
      const owned = await find(token);
      if (!owned) continue;
      if (callerId !== undefined && callerId !== owned.userId) throw new AuthError('not_token_owner');
      await owned.revoke(context);
      return;
    }
  };
}
