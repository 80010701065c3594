import { AuthError } from '../errors/auth-error.js';
import type { EventContext } from '../events/bus.js';
import type { PasswordHasher } from '../passwords/hasher.js';
import { assertPasswordInput } from '../passwords/rules.js';
import type { LoginProtection } from '../protection/login-protection.js';
import type { UserStore } from '../users/store.js';
import type { User } from '../users/user.js';

export interface ConfirmPasswordInput {
  userId: string;
  /** The session asking: a wrong password counts towards a lock of this session's own. */
  sessionId: string;
  password: string;
  context?: EventContext;
}

/** Resolves with the stored user once its current password is confirmed. */
export type ConfirmPassword = (input: ConfirmPasswordInput) => Promise<User>;

export interface ConfirmPasswordOptions {
  stores: { users: Pick<UserStore, 'findById'> };
  hasher: PasswordHasher;
  protection: Pick<LoginProtection, 'sessionLane' | 'assertNotLocked' | 'recordFailure' | 'recordSuccess'>;
}

/**
 * The current password, asked again before an action a stolen access token alone must not
 * take (changing the password, minting an API key that outlives the session). A wrong one is
 * 401 `invalid_credentials` and counts towards a lock of the session's own lane: five lock these
 * actions for that session, and a stranger's sign-in failures never lock out a signed-in user.
 */
export function createConfirmPassword({ stores, hasher, protection }: ConfirmPasswordOptions): ConfirmPassword {
  return async function confirmPassword({ userId, sessionId, password, context }) {
    assertPasswordInput(password);
    const user = await stores.users.findById(userId);
    if (!user || user.disabled) throw new AuthError('invalid_token', { detail: 'user missing or disabled' });
    const lane = await protection.sessionLane(userId, sessionId);
    await protection.assertNotLocked(lane);
    if (!(await hasher.verify(user.passwordHash, password))) {
      await protection.recordFailure(lane, userId, context);
      throw new AuthError('invalid_credentials', { description: 'The current password is wrong.', detail: 'wrong current password' });
    }
    await protection.recordSuccess(lane);
    return user;
  };
}
