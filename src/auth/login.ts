import type { Clock } from '../clock.js';
import { AuthError } from '../errors/auth-error.js';
import type { EventBus, EventContext } from '../events/bus.js';
import type { PasswordHasher } from '../passwords/hasher.js';
import { assertPasswordInput } from '../passwords/rules.js';
import type { DeviceInfo, SessionService } from '../sessions/service.js';
import type { StoreSet } from '../store/stores.js';
import type { AccessTokens } from '../tokens/access-token.js';
import type { User } from '../users/user.js';
import { canonicalEmail, canonicalUsername } from '../users/username.js';
import { issueTokenResponse, type TokenResponse } from './token-response.js';

export interface LoginInput {
  username?: string | undefined;
  email?: string | undefined;
  password: string;
  device?: DeviceInfo | undefined;
  ip: string | null;
  userAgent: string | null;
  context?: EventContext;
}

export interface LoginOptions {
  stores: StoreSet;
  hasher: PasswordHasher;
  sessions: SessionService;
  tokens: AccessTokens;
  clock: Clock;
  events: EventBus;
}

export type Login = (input: LoginInput) => Promise<TokenResponse>;

/**
 * Password sign-in as named steps. Unknown user, wrong password and disabled user all end in
 * the same 401 `invalid_credentials` after the same work (one argon2id verification).
 */
export function createLogin(options: LoginOptions): Login {
  const { stores, hasher, sessions, tokens, clock, events } = options;

  async function findAccount(input: LoginInput): Promise<User | undefined> {
    if (input.username !== undefined) return stores.users.findByUsername(canonicalUsername(input.username));
    if (input.email !== undefined) return stores.users.findByEmail(canonicalEmail(input.email));
    throw new AuthError('invalid_request', { description: 'Give a username or an email.' });
  }

  async function verifyPassword(user: User | undefined, password: string): Promise<User> {
    const ok = user ? await hasher.verify(user.passwordHash, password) : await hasher.verifyDummy(password);
    if (!user || !ok) throw new AuthError('invalid_credentials', { detail: user ? 'wrong password' : 'unknown user' });
    return user;
  }

  function assertEnabled(user: User): void {
    if (user.disabled) throw new AuthError('invalid_credentials', { detail: 'user disabled' });
  }

  /** Imported bcrypt hashes (and argon2id with older costs) become current argon2id on sign-in. */
  async function rehashIfNeeded(user: User, password: string): Promise<void> {
    if (!hasher.needsRehash(user.passwordHash)) return;
    await stores.users.updatePasswordHash(user.id, await hasher.hash(password), new Date(clock.now()), false);
  }

  return async function login(input) {
    assertPasswordInput(input.password);
    let user: User;
    try {
      user = await verifyPassword(await findAccount(input), input.password);
      assertEnabled(user);
    } catch (error) {
      if (error instanceof AuthError && error.code === 'invalid_credentials') {
        events.emit('login.failed', { reason: error.detail ?? 'invalid_credentials' }, input.context);
      }
      throw error;
    }
    await rehashIfNeeded(user, input.password);
    const opened = await sessions.open({
      user,
      amr: ['pwd'],
      device: input.device,
      ip: input.ip,
      userAgent: input.userAgent,
      ...(input.context ? { context: input.context } : {}),
    });
    events.emit('login.succeeded', { userId: user.id, sessionId: opened.session.id }, input.context);
    return issueTokenResponse(tokens, clock, user, opened);
  };
}
