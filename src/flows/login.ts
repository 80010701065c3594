import type { Clock } from '../clock.js';
import { AuthError } from '../errors/auth-error.js';
import type { EventBus, EventContext, LoginFailureReason } from '../events/bus.js';
import { provesWholePassword, type PasswordHasher } from '../passwords/hasher.js';
import type { AttemptLane, LoginProtection } from '../protection/login-protection.js';
import { assertPasswordInput } from '../passwords/rules.js';
import type { DeviceInfo, SessionService } from '../sessions/service.js';
import type { AccessTokens } from '../tokens/access-token.js';
import type { UserStore } from '../users/store.js';
import type { User } from '../users/user.js';
import { canonicalEmail, canonicalUsername } from '../users/username.js';
import { issueTokenResponse, type TokenResponse } from './token-response.js';

export interface LoginInput {
  username?: string | undefined;
  email?: string | undefined;
  password: string;
  device?: DeviceInfo | undefined;
  /** The `device_token` of an earlier sign-in on this device (docs/adr/006). */
  deviceToken?: string | undefined;
  ip: string | null;
  userAgent: string | null;
  context?: EventContext;
}

export interface LoginOptions {
  /** Read, and a rehash written, outside any transaction: the session is opened by `sessions`. */
  stores: { users: UserStore };
  hasher: PasswordHasher;
  sessions: SessionService;
  tokens: AccessTokens;
  clock: Clock;
  events: EventBus;
  protection: LoginProtection;
}

export type Login = (input: LoginInput) => Promise<TokenResponse>;

/**
 * Password sign-in as named steps. Unknown user, wrong password and disabled user all end in
 * the same 401 `invalid_credentials` after the same work (one argon2id verification).
 */
export function createLogin(options: LoginOptions): Login {
  const { stores, hasher, sessions, tokens, clock, events, protection } = options;

  /** The account named, and the key of the identifier as typed (never of the account: finding 6 of issue 10). */
  async function findAccount(input: LoginInput): Promise<{ user: User | undefined; key: string }> {
    if (input.username !== undefined) {
      const username = canonicalUsername(input.username);
      return { user: await stores.users.findByUsername(username), key: protection.identifierKey('username', username) };
    }
    if (input.email !== undefined) {
      const email = canonicalEmail(input.email);
      return { user: await stores.users.findByEmail(email), key: protection.identifierKey('email', email) };
    }
    throw new AuthError('invalid_request', { description: 'Give a username or an email.' });
  }

  async function verifyPassword(user: User | undefined, password: string): Promise<User> {
    const ok = user ? await hasher.verify(user.passwordHash, password) : await hasher.verifyDummy(password);
    if (!user || !ok) throw new AuthError('invalid_credentials', { detail: user ? 'wrong_password' : 'unknown_user' });
    return user;
  }

  function assertEnabled(user: User): void {
    if (user.disabled) throw new AuthError('invalid_credentials', { detail: 'user_disabled' });
  }

  /** Imported bcrypt hashes (and argon2id with older costs) become current argon2id on sign-in. */
  async function rehashIfNeeded(user: User, password: string): Promise<void> {
    if (!hasher.needsRehash(user.passwordHash) || !provesWholePassword(user.passwordHash, password)) return;
    await stores.users.updatePasswordHash(user.id, await hasher.hash(password), new Date(clock.now()), false);
  }

  return async function login(input) {
    assertPasswordInput(input.password);
    const account = await findAccount(input);
    await protection.limitAttempt(input.ip, account.key, input.context);
    const lane: AttemptLane = await protection.laneOf({ identifierKey: account.key, userId: account.user?.id, ip: input.ip, deviceToken: input.deviceToken });
    try {
      await protection.assertNotLocked(lane);
    } catch (error) {
      await events.emit('login.failed', { reason: 'locked', ...(account.user ? { userId: account.user.id } : {}) }, { ...input.context, accountKey: account.key });
      throw error;
    }
    let user: User;
    try {
      user = await verifyPassword(account.user, input.password);
      assertEnabled(user);
    } catch (error) {
      if (error instanceof AuthError && error.code === 'invalid_credentials') {
        await protection.recordFailure(lane, account.user?.id, input.context);
        const reason = (error.detail ?? 'wrong_password') as LoginFailureReason;
        await events.emit('login.failed', { reason, ...(account.user ? { userId: account.user.id } : {}) }, { ...input.context, accountKey: account.key });
      }
      throw error;
    }
    await protection.recordSuccess(lane);
    await protection.refundAttempt(input.ip, account.key);
    await rehashIfNeeded(user, input.password);
    const opened = await sessions.open({
      user,
      amr: ['pwd'],
      device: input.device,
      ip: input.ip,
      userAgent: input.userAgent,
      ...(input.context ? { context: input.context } : {}),
      alsoInTransaction: (tx, session) => events.emitIn(tx, 'login.succeeded', { userId: user.id, sessionId: session.id }, input.context),
    });
    const deviceToken = await protection.trustDevice(lane, user.id, input.ip);
    return { ...(await issueTokenResponse(tokens, clock, user, opened)), device_token: deviceToken };
  };
}
