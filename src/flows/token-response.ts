import type { Clock } from '../clock.js';
import type { OpenedSession } from '../sessions/service.js';
import type { AccessTokens } from '../tokens/access-token.js';
import { toPublicUser, type PublicUser, type User } from '../users/user.js';

/** The SPEC token response. */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  /** Seconds. */
  expires_in: number;
  refresh_token: string;
  /** Seconds. */
  refresh_expires_in: number;
  session_id: string;
  user: PublicUser;
  /** Sign-in only: presented with the next sign-in, keeps this device out of strangers' lockouts (docs/adr/006). */
  device_token?: string;
}

export async function issueTokenResponse(
  tokens: AccessTokens,
  clock: Clock,
  user: User,
  opened: OpenedSession,
): Promise<TokenResponse> {
  const { token, claims } = await tokens.issue({
    userId: user.id,
    sessionId: opened.session.id,
    username: user.username,
    roles: user.roles,
    permissions: user.permissions,
    amr: opened.session.amr,
    tenant: user.tenant,
    notAfterMs: opened.session.expiresAt.getTime(),
  });
  return {
    access_token: token,
    token_type: 'Bearer',
    expires_in: claims.exp - claims.iat,
    refresh_token: opened.refreshToken,
    refresh_expires_in: Math.max(0, Math.floor((opened.refreshExpiresAt.getTime() - clock.now()) / 1000)),
    session_id: opened.session.id,
    user: toPublicUser(user),
  };
}
