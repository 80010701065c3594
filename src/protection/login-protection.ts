import { createHmac, hkdfSync } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Config } from '../config/config.js';
import { AuthError } from '../errors/auth-error.js';
import type { EventBus, EventContext } from '../events/bus.js';
import type { RateLimiter, RateLimiters, TimedMarks } from '../store/hot/ports.js';
import type { User } from '../users/user.js';
import { createDeviceTokens, deviceTokenTtlMs, type DeviceToken } from './device-tokens.js';
import type { LockState, LockoutStore } from './lockout.js';
import { networkOf } from './network.js';

/** How long a network an account signed in from keeps its own lane (docs/adr/006). */
export const knownNetworkMs = 30 * 24 * 60 * 60 * 1000;

/** Users whose unlock epoch this instance remembers for their session lanes; the oldest go first. */
const rememberEpochsAtMost = 10_000;

export type IdentifierKind = 'username' | 'email';

/**
 * Where a password attempt is counted and locked (docs/adr/006-trusted-devices-for-lockout.md):
 * the identifier as typed, shared by everyone who has nothing better; or the lane of a device
 * token, or of a network the account signed in from, which strangers' failures never touch.
 */
export interface AttemptLane {
  readonly key: string;
  readonly trusted: 'device' | 'network' | undefined;
  /** The presented device token, when `trusted` is 'device'. */
  readonly device?: DeviceToken;
}

export interface SignInAttempt {
  /** `identifierKey` of what was typed. */
  identifierKey: string;
  /** The account the identifier names, if any. */
  userId: string | undefined;
  ip: string | null;
  deviceToken: string | undefined;
}

export interface LoginProtection {
  /**
   * What attempts naming this identifier count under: `username:` or `email:` and the canonical
   * value, HMAC-ed, so known and unknown names are keyed alike and no name is kept in hot state.
   */
  identifierKey(kind: IdentifierKind, canonical: string): string;
  /**
   * Per-network and per-identifier-and-network limits; 429 `rate_limited` with Retry-After.
   * Counts the attempt in both, before the password is checked, so concurrent guesses cannot
   * all pass a check made before any of them is counted.
   */
  limitAttempt(ip: string | null, identifierKey: string, context?: EventContext): Promise<void>;
  /**
   * After a successful sign-in: gives back its point of the per-identifier-and-network limit,
   * which counts failures only (as Keycloak and django-axes do). The per-network limit keeps it:
   * spraying is many names, each of which could succeed.
   */
  refundAttempt(ip: string | null, identifierKey: string): Promise<void>;
  /** The lane of a sign-in attempt; the same hot-state reads whether or not the identifier names an account. */
  laneOf(attempt: SignInAttempt): Promise<AttemptLane>;
  /** The lane of current-password checks made by one signed-in session (POST /auth/password). */
  sessionLane(userId: string, sessionId: string): Promise<AttemptLane>;
  /** 429 `too_many_attempts` with Retry-After while the lane is locked, whatever the password. */
  assertNotLocked(lane: AttemptLane): Promise<void>;
  /** Counts a failure; a device lane that locks is never trusted again. */
  recordFailure(lane: AttemptLane, userId: string | undefined, context?: EventContext): Promise<LockState>;
  recordSuccess(lane: AttemptLane): Promise<void>;
  /** After a successful sign-in: remembers the network for the account and returns a device token. */
  trustDevice(lane: AttemptLane, userId: string, ip: string | null): Promise<string>;
  /**
   * Whether the account signed in from this network (IPv4 address, IPv6 /64) within the last
   * `knownNetworkMs`. Read only; false when hot state cannot be read, so a failure never grants
   * what a remembered network gets (password reset: a mail cap of its own).
   */
  isKnownNetwork(userId: string, ip: string | null): Promise<boolean>;
  /** An admin unlock (or a password reset): lifts every lock of the user, every lane included. */
  unlock(userId: string, context?: EventContext): Promise<void>;
  /**
   * Until when sign-in naming this user is refused by the lockout: the later lock of the shared
   * lanes of its username and e-mail (the lanes `unlock` clears), undefined when neither is
   * locked. Device and network lanes are not counted: they refuse only their own client. Read
   * only; both lanes read at once.
   */
  lockedUntil(user: Pick<User, 'username' | 'email'>): Promise<number | undefined>;
}

export interface LoginProtectionOptions {
  hotState: RateLimiters & TimedMarks & { readonly lockouts: LockoutStore };
  clock: Clock;
  events: EventBus;
  users: { findById(id: string): Promise<User | undefined> };
  config: Pick<Config, 'loginAccountRateLimit' | 'loginIpRateLimit' | 'lockout' | 'secret'>;
}

function retryAfter(seconds: number): Record<string, string> {
  return { 'retry-after': String(Math.max(1, Math.ceil(seconds))) };
}

/**
 * Brute force, credential stuffing and spraying protection for password sign-in (SPEC §4).
 * Lockout counts failures per identifier across networks, alike for known and unknown names, so
 * the answers never tell which names exist; devices and networks that signed in before are
 * counted on their own, so strangers cannot lock the user out. It applies to password attempts
 * only: refreshing an existing session is never blocked by it.
 */
export function createLoginProtection(options: LoginProtectionOptions): LoginProtection {
  const { hotState, clock, events, users, config } = options;
  const perNetwork: RateLimiter = hotState.rateLimiter('login-ip', config.loginIpRateLimit.points, config.loginIpRateLimit.windowMs / 1000);
  const perIdentifier: RateLimiter = hotState.rateLimiter(
    'login-account',
    config.loginAccountRateLimit.points,
    config.loginAccountRateLimit.windowMs / 1000,
  );
  const keyOfKeys = Buffer.from(hkdfSync('sha256', config.secret, 'tessera', 'tessera/lockout-keys/v1', 32));
  const digest = (subject: string) => createHmac('sha256', keyOfKeys).update(subject).digest('base64url');
  const deviceTokens = createDeviceTokens(config.secret, clock);
  // Lanes are named after the user's unlock epoch, so an unlock starts every lane afresh; it
  // outlives any lane state and any device token.
  const epochMs = deviceTokenTtlMs + 2 * config.lockout.maxLockMs + config.lockout.windowMs;

  /** A mark's time, undefined when there is none, 'unreadable' when hot state fails. */
  async function mark(key: string): Promise<number | undefined | 'unreadable'> {
    return hotState.getUntil(`lockout:${key}`).catch(() => 'unreadable' as const);
  }
  /** Best effort: a mark that cannot be set while hot state fails only costs trust. */
  async function setMark(key: string, until: number): Promise<void> {
    await hotState.setUntil(`lockout:${key}`, until, clock.now()).catch(() => undefined);
  }
  const epochKey = (owner: string) => digest(`epoch:${owner}`);
  // Epochs read while hot state answered, so that a session lane keeps the key its locks are
  // remembered under (withLockoutFallback) when the epoch cannot be read.
  const seenEpochs = new Map<string, number>();
  async function sessionEpoch(userId: string): Promise<number> {
    const epoch = await mark(epochKey(userId));
    if (epoch === 'unreadable') return seenEpochs.get(userId) ?? 0;
    seenEpochs.delete(userId);
    if (seenEpochs.size >= rememberEpochsAtMost) seenEpochs.delete(seenEpochs.keys().next().value as string);
    seenEpochs.set(userId, epoch ?? 0);
    return epoch ?? 0;
  }
  const identifierLimitKey = (identifierKey: string, ip: string | null) => `${identifierKey}:${networkOf(ip ?? 'unknown')}`;
  const knownNetwork = (owner: string, ip: string | null) => digest(`known-network:${owner}:${networkOf(ip ?? 'unknown')}`);
  const distrusted = (device: DeviceToken) => digest(`distrusted-device:${device.deviceId}`);
  /** The identifier lanes of an account's username and e-mail, shared by everyone who types them. */
  function sharedLanes(user: Pick<User, 'username' | 'email'> | undefined): string[] {
    const identifiers: [IdentifierKind, string | null | undefined][] = [
      ['username', user?.username],
      ['email', user?.email],
    ];
    return identifiers.flatMap(([kind, canonical]) => (canonical ? [digest(`${kind}:${canonical}`)] : []));
  }

  return {
    identifierKey: (kind, canonical) => digest(`${kind}:${canonical}`),

    async limitAttempt(ip, identifierKey, context) {
      // By network (IPv4 address, IPv6 /64): one client holds a whole /64 and could rotate.
      const network = networkOf(ip ?? 'unknown');
      for (const [name, limiter, limitKey] of [
        ['login-ip', perNetwork, network],
        ['login-account', perIdentifier, identifierLimitKey(identifierKey, ip)],
      ] as const) {
        const result = await limiter.consume(limitKey);
        if (!result.allowed) {
          await events.emit('rate_limited', { limiter: name }, context);
          throw new AuthError('rate_limited', { headers: retryAfter(result.retryAfterSeconds), detail: name });
        }
      }
    },

    async refundAttempt(ip, identifierKey) {
      // Best effort: a refund lost while hot state fails costs the owner one point, not the sign-in.
      await perIdentifier.refund(identifierLimitKey(identifierKey, ip)).catch(() => undefined);
    },

    async laneOf({ identifierKey, userId, ip, deviceToken }) {
      const now = clock.now();
      // An unknown name gets an owner of its own, so it costs the same reads as an account.
      const owner = userId ?? `unknown:${identifierKey}`;
      const device = deviceTokens.verify(deviceToken, userId);
      const [epoch, distrustedUntil, knownUntil] = await Promise.all([
        mark(epochKey(owner)),
        device ? mark(distrusted(device)) : undefined,
        mark(knownNetwork(owner, ip)),
      ]);
      const shared: AttemptLane = { key: identifierKey, trusted: undefined };
      // A mark that cannot be read might say "distrusted", and a lane named after a guessed epoch
      // is one whose locks nobody saw: while hot state fails, nobody gets a lane of their own.
      if (epoch === 'unreadable' || distrustedUntil === 'unreadable' || knownUntil === 'unreadable') return shared;
      if (device) {
        const lane: AttemptLane = { key: digest(`device:${owner}:${epoch ?? 0}:${device.deviceId}`), trusted: 'device', device };
        // A device that failed the threshold waits out its own lock, then counts as a stranger.
        if ((distrustedUntil ?? 0) <= now) return lane;
        if ((await hotState.lockouts.get(lane.key, now)).lockedUntil > now) return lane;
      }
      if ((knownUntil ?? 0) > now) {
        return { key: digest(`network:${owner}:${epoch ?? 0}:${networkOf(ip ?? 'unknown')}`), trusted: 'network' };
      }
      return shared;
    },

    async sessionLane(userId, sessionId) {
      return { key: digest(`session:${userId}:${await sessionEpoch(userId)}:${sessionId}`), trusted: undefined };
    },

    async assertNotLocked(lane) {
      const now = clock.now();
      const state = await hotState.lockouts.get(lane.key, now);
      if (state.lockedUntil > now) {
        throw new AuthError('too_many_attempts', { headers: retryAfter((state.lockedUntil - now) / 1000), detail: 'locked' });
      }
    },

    async recordFailure(lane, userId, context) {
      const state = await hotState.lockouts.recordFailure(lane.key, clock.now(), config.lockout);
      if (state.lockedUntil > 0 && state.failures === 0) {
        if (lane.device) await setMark(distrusted(lane.device), lane.device.expiresAt);
        const trusted = lane.trusted ? { trusted: lane.trusted } : {};
        await events.emit('user.locked', { ...(userId ? { userId } : {}), lockedUntil: state.lockedUntil, locks: state.locks, ...trusted }, context);
      }
      return state;
    },

    recordSuccess: (lane) => hotState.lockouts.recordSuccess(lane.key),

    async trustDevice(lane, userId, ip) {
      if (ip !== null) await setMark(knownNetwork(userId, ip), clock.now() + knownNetworkMs);
      return deviceTokens.issue(userId, lane.device?.deviceId);
    },

    async isKnownNetwork(userId, ip) {
      if (ip === null) return false;
      const until = await mark(knownNetwork(userId, ip));
      return until !== 'unreadable' && (until ?? 0) > clock.now();
    },

    async unlock(userId, context) {
      const user = await users.findById(userId);
      for (const key of sharedLanes(user)) await hotState.lockouts.unlock(key);
      await hotState.setUntil(`lockout:${epochKey(userId)}`, clock.now() + epochMs, clock.now());
      await events.emit('user.unlocked', { userId }, context);
    },

    async lockedUntil(user) {
      const now = clock.now();
      const states = await Promise.all(sharedLanes(user).map((key) => hotState.lockouts.get(key, now)));
      const until = Math.max(0, ...states.map((state) => state.lockedUntil));
      return until > now ? until : undefined;
    },
  };
}
