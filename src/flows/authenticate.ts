import type { Clock } from '../clock.js';
import { AuthError } from '../errors/auth-error.js';
import { isSessionActive, type Session } from '../sessions/session.js';
import type { SessionStore } from '../sessions/store.js';
import type { AccessTokenClaims } from '../tokens/access-token.js';
import type { AccessVerifier, TokenOrigin } from '../tokens/access-verifier.js';
import type { UserStore } from '../users/store.js';
import type { User } from '../users/user.js';

/** Who is calling: a verified access token, its user and its session. */
export interface AuthContext {
  claims: AccessTokenClaims;
  user: User;
  session: Session;
}

export type Authenticate = (token: string, origin?: TokenOrigin) => Promise<AuthContext>;

/**
 * The access-token pipeline (signature, claims, revocation), then the stored state routes that
 * act for the user rely on: the user exists and is enabled, the session is the user's and active.
 * Every failure is 401 `invalid_token`.
 */
export function createAuthenticate(options: {
  verifier: AccessVerifier;
  stores: { users: Pick<UserStore, 'findById'>; sessions: Pick<SessionStore, 'findById'> };
  clock: Clock;
}): Authenticate {
  const { verifier, stores, clock } = options;

  return async function authenticate(token, origin) {
    const claims = await verifier.verify(token, origin);
    const [user, session] = await Promise.all([
      stores.users.findById(claims.sub),
      stores.sessions.findById(claims.sid),
    ]);
    if (!user || user.disabled) throw new AuthError('invalid_token', { detail: 'user missing or disabled' });
    if (!session || session.userId !== user.id || !isSessionActive(session, clock.now())) {
      throw new AuthError('invalid_token', { detail: 'session ended' });
    }
    return { claims, user, session };
  };
}
