import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { createMemoryLockoutStore } from '../../protection/lockout.js';
import type { HotState, HotStateSubscriber, RateLimiter } from './hot-state.js';

/** Rate-limiter-flexible's answer, as ours. */
export function limiterResult(outcome: unknown): { allowed: boolean; retryAfterSeconds: number } {
  if (outcome instanceof RateLimiterRes) {
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(outcome.msBeforeNext / 1000)) };
  }
  throw outcome;
}

/** Hot state for a single process (the embedded default). */
export function createMemoryHotState(): HotState {
  const subscribers = new Set<HotStateSubscriber>();
  return {
    kind: 'memory',
    lockouts: createMemoryLockoutStore(),
    async publish(change) {
      for (const subscriber of subscribers) subscriber.change(change);
    },
    subscribe(subscriber) {
      subscribers.add(subscriber);
      return () => subscribers.delete(subscriber);
    },
    rateLimiter(name, points, durationSeconds): RateLimiter {
      const limiter = new RateLimiterMemory({ keyPrefix: name, points, duration: durationSeconds });
      return {
        async consume(key) {
          try {
            await limiter.consume(key);
            return { allowed: true, retryAfterSeconds: 0 };
          } catch (outcome) {
            return limiterResult(outcome);
          }
        },
      };
    },
    async ping() {},
    async close() {
      subscribers.clear();
    },
  };
}
