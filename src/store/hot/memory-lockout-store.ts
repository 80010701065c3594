import { lockDuration, type LockState, type LockoutPolicy, type LockoutStore } from '../../protection/lockout.js';

/** Keys kept in memory before stale ones are swept (attackers can try endless usernames). */
const sweepAbove = 10_000;

/** In-process lockouts (the embedded default). */
export function createMemoryLockoutStore(): LockoutStore {
  const states = new Map<string, { failures: number[]; lockedUntil: number; locks: number }>();
  const unlocked: LockState = { failures: 0, lockedUntil: 0, locks: 0 };

  function sweep(now: number, policy: LockoutPolicy): void {
    for (const [key, state] of states) {
      const quiet = state.failures.every((at) => at <= now - policy.windowMs);
      // A key that is neither locked nor counting is forgotten, and so is its doubling, a full
      // maximum lock after its last lock ended.
      if (quiet && state.lockedUntil + policy.maxLockMs <= now) states.delete(key);
    }
  }

  return {
    async get(key, now) {
      const state = states.get(key);
      if (!state) return { ...unlocked };
      return { failures: state.failures.length, lockedUntil: state.lockedUntil > now ? state.lockedUntil : 0, locks: state.locks };
    },
    async recordFailure(key, now, policy) {
      if (states.size > sweepAbove) sweep(now, policy);
      const state = states.get(key) ?? { failures: [], lockedUntil: 0, locks: 0 };
      state.failures = state.failures.filter((at) => at > now - policy.windowMs);
      state.failures.push(now);
      if (state.failures.length >= policy.threshold) {
        state.lockedUntil = now + lockDuration(policy, state.locks);
        state.locks += 1;
        state.failures = [];
      }
      states.set(key, state);
      return { failures: state.failures.length, lockedUntil: state.lockedUntil > now ? state.lockedUntil : 0, locks: state.locks };
    },
    async recordSuccess(key) {
      states.delete(key);
    },
    async unlock(key) {
      states.delete(key);
    },
  };
}
