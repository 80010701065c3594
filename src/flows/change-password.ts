import type { AuditQueue } from '../audit/store.js';
import type { Clock } from '../clock.js';
import type { EventBus, EventContext } from '../events/bus.js';
import type { PasswordHasher } from '../passwords/hasher.js';
import type { PasswordPolicy } from '../passwords/policy.js';
import type { ResetTokenStore } from '../passwords/reset-token-store.js';
import type { LoginProtection } from '../protection/login-protection.js';
import type { RevocationService } from '../revocation/service.js';
import type { SessionStore } from '../sessions/store.js';
import type { Transactional } from '../store/unit-of-work.js';
import type { UserStore } from '../users/store.js';
import { createConfirmPassword } from './confirm-password.js';

/** Passwords a change may not reuse: the current one and the four before it (SPEC §4). */
export const passwordHistorySize = 5;

export interface ChangePasswordInput {
  userId: string;
  /** The session making the change; every other session of the user is ended. */
  sessionId: string;
  currentPassword: string;
  newPassword: string;
  context?: EventContext;
}

export type ChangePassword = (input: ChangePasswordInput) => Promise<void>;

export interface ChangePasswordOptions {
  stores: Transactional<{ users: UserStore; sessions: SessionStore; resetTokens: ResetTokenStore; audit: AuditQueue }>;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  protection: LoginProtection;
  revocations: RevocationService;
  events: EventBus;
  clock: Clock;
}

/**
 * `POST /auth/password`: the current password proves it is the user (a stolen access token alone
 * cannot change it), and a wrong one counts towards a lock of this session's own (five lock its
 * changes; a stranger's sign-in failures never stop a signed-in user from changing it). The new
 * password meets the policy and is none of the last five; every other session and every unused
 * reset token ends.
 */
export function createChangePassword(options: ChangePasswordOptions): ChangePassword {
  const { stores, hasher, policy, revocations, events, clock } = options;
  const confirmPassword = createConfirmPassword({ stores, hasher, protection: options.protection });

  return async function changePassword({ userId, sessionId, currentPassword, newPassword, context }) {
    const user = await confirmPassword({ userId, sessionId, password: currentPassword, ...(context ? { context } : {}) });
    const previousHashes = await stores.users.recentPasswordHashes(userId, passwordHistorySize);
    await policy.assertAcceptable({ password: newPassword, username: user.username, email: user.email, previousHashes });
    const hash = await hasher.hash(newPassword);
    await stores.transaction(async (tx) => {
      await tx.users.changePassword(userId, hash, new Date(clock.now()), passwordHistorySize - 1);
      // A reset link mailed before the change must not undo it.
      await tx.resetTokens.endUnusedForUser(userId);
      await events.emitIn(tx, 'password.changed', { userId }, context);
    });

    // Each ended session is its own change, with its own session.revoked record.
    for (const session of await stores.sessions.listActiveByUser(userId, new Date(clock.now()))) {
      if (session.id !== sessionId) await revocations.revokeSession(session.id, 'password_changed', context);
    }
  };
}
