import { createHash } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Config } from '../config/config.js';
import { AuthError } from '../errors/auth-error.js';
import type { EventBus, EventContext } from '../events/bus.js';
import type { HotState, RateLimiter } from '../store/hot/hot-state.js';
import type { LockState } from './lockout.js';

/**
 * What a password attempt is counted against: the account when the name or e-mail names one,
 * otherwise the name as typed (canonical). Hashed, so no account name is kept in hot state.
 */
export function attemptKey(account: { userId: string } | { identifier: string }): string {
  const subject = 'userId' in account ? `user:${account.userId}` : `name:${account.identifier}`;
  return createHash('sha256').update(subject).digest('base64url');
}

export interface LoginProtection {
  /** Per-IP and per-account-and-IP limits; 429 `rate_limited` with Retry-After. Counts the attempt. */
  limitAttempt(ip: string, key: string, context?: EventContext): Promise<void>;
  /** 429 `too_many_attempts` with Retry-After while the key is locked, whatever the password. */
  assertNotLocked(key: string): Promise<void>;
  recordFailure(key: string, userId: string | undefined, context?: EventContext): Promise<LockState>;
  recordSuccess(key: string): Promise<void>;
  /** An admin unlock (the admin route comes later). */
  unlock(userId: string, context?: EventContext): Promise<void>;
}

export interface LoginProtectionOptions {
  hotState: HotState;
  clock: Clock;
  events: EventBus;
  config: Pick<Config, 'loginAccountRateLimit' | 'loginIpRateLimit' | 'lockout'>;
}

function retryAfter(seconds: number): Record<string, string> {
  return { 'retry-after': String(Math.max(1, Math.ceil(seconds))) };
}

/**
 * Brute force, credential stuffing and spraying protection for password sign-in (SPEC §4).
 * Lockout counts failures per account across IPs; an unknown name is counted the same way, so
 * the answers never tell which names exist. It applies to password attempts only: refreshing an
 * existing session is never blocked by it.
 */
export function createLoginProtection(options: LoginProtectionOptions): LoginProtection {
  const { hotState, clock, events, config } = options;
  const perIp: RateLimiter = hotState.rateLimiter('login-ip', config.loginIpRateLimit.points, config.loginIpRateLimit.windowMs / 1000);
  const perAccount: RateLimiter = hotState.rateLimiter(
    'login-account',
    config.loginAccountRateLimit.points,
    config.loginAccountRateLimit.windowMs / 1000,
  );

  return {
    async limitAttempt(ip, key, context) {
      for (const [name, limiter, limitKey] of [
        ['login-ip', perIp, ip],
        ['login-account', perAccount, `${key}:${ip}`],
      ] as const) {
        const result = await limiter.consume(limitKey);
        if (!result.allowed) {
          await events.emit('rate_limited', { limiter: name }, context);
          throw new AuthError('rate_limited', { headers: retryAfter(result.retryAfterSeconds), detail: name });
        }
      }
    },

    async assertNotLocked(key) {
      const now = clock.now();
      const state = await hotState.lockouts.get(key, now);
      if (state.lockedUntil > now) {
        throw new AuthError('too_many_attempts', { headers: retryAfter((state.lockedUntil - now) / 1000), detail: 'locked' });
      }
    },

    async recordFailure(key, userId, context) {
      const state = await hotState.lockouts.recordFailure(key, clock.now(), config.lockout);
      if (state.lockedUntil > 0 && state.failures === 0) {
        await events.emit('user.locked', { ...(userId ? { userId } : {}), lockedUntil: state.lockedUntil, locks: state.locks }, context);
      }
      return state;
    },

    recordSuccess: (key) => hotState.lockouts.recordSuccess(key),

    async unlock(userId, context) {
      await hotState.lockouts.unlock(attemptKey({ userId }));
      await events.emit('user.unlocked', { userId }, context);
    },
  };
}
