/** The lockout state of one key (a lane: docs/adr/006). Times are milliseconds since the epoch. */
export interface LockState {
  /** Failures inside the current window. */
  failures: number;
  /** While `now` is before this, every password attempt for the key is refused. 0 when not locked. */
  lockedUntil: number;
  /** How many times the key has been locked since the last success or unlock (doubles the lock). */
  locks: number;
}

export interface LockoutPolicy {
  /** Failures within `windowMs` that lock the key. */
  threshold: number;
  windowMs: number;
  /** The first lock; each repeat lock doubles it, up to `maxLockMs`. */
  lockMs: number;
  maxLockMs: number;
}

/**
 * Hot state for lockouts, shared by every instance. Every method takes `now` from the injected
 * Clock, so expiry follows that clock (tests move it) rather than the store's own time.
 */
export interface LockoutStore {
  get(key: string, now: number): Promise<LockState>;
  /**
   * Counts one failure. When the failures inside the window reach the threshold, locks the key
   * for lockMs × 2^(locks) (capped) and clears the count. Atomic per key across instances.
   */
  recordFailure(key: string, now: number, policy: LockoutPolicy): Promise<LockState>;
  /** A success: the failure count and the doubling start over. */
  recordSuccess(key: string): Promise<void>;
  /** An admin unlock: clears everything for the key. */
  unlock(key: string): Promise<void>;
}

/** The duration of the next lock after `locks` earlier ones. */
export function lockDuration(policy: LockoutPolicy, locks: number): number {
  return Math.min(policy.maxLockMs, policy.lockMs * 2 ** Math.min(locks, 30));
}

/** Locks remembered for the fallback; beyond this, expired ones are swept, then the oldest dropped. */
const rememberAtMost = 10_000;

/**
 * A shared store that falls back to per-instance memory while it fails (Redis down): lockouts
 * then count per instance until it returns, instead of failing every sign-in. Every lock this
 * instance saw or set while the shared store answered is remembered, and still refuses (and
 * doubles) during the fallback, so an outage never lifts a lock this instance knows of.
 */
export function withLockoutFallback(primary: LockoutStore, fallback: LockoutStore, onError?: (error: unknown) => void): LockoutStore {
  const seen = new Map<string, { lockedUntil: number; locks: number }>();

  /** What the shared store says: a lock is remembered, anything else forgets the key. */
  function remember(key: string, state: LockState, now: number): LockState {
    seen.delete(key);
    if (state.lockedUntil > now) {
      if (seen.size >= rememberAtMost) {
        for (const [k, lock] of seen) if (lock.lockedUntil <= now) seen.delete(k);
        if (seen.size >= rememberAtMost) seen.delete(seen.keys().next().value as string);
      }
      seen.set(key, { lockedUntil: state.lockedUntil, locks: state.locks });
    }
    return state;
  }
  /** The fallback's state on top of the lock remembered for the key: its locks add to those seen. */
  function merged(key: string, state: LockState, now: number): LockState {
    const lock = seen.get(key);
    if (!lock) return state;
    const lockedUntil = lock.lockedUntil > now ? Math.max(lock.lockedUntil, state.lockedUntil) : state.lockedUntil;
    return { failures: lockedUntil > now ? 0 : state.failures, lockedUntil, locks: lock.locks + state.locks };
  }
  async function attempt<T>(run: (store: LockoutStore) => Promise<T>, degraded: (store: LockoutStore) => Promise<T>): Promise<T> {
    try {
      return await run(primary);
    } catch (error) {
      onError?.(error);
      return degraded(fallback);
    }
  }

  return {
    get: (key, now) =>
      attempt(
        async (store) => remember(key, await store.get(key, now), now),
        async (store) => merged(key, await store.get(key, now), now),
      ),
    recordFailure: (key, now, policy) =>
      attempt(
        async (store) => remember(key, await store.recordFailure(key, now, policy), now),
        async (store) => {
          // The doubling goes on from the locks seen: the fallback alone would start over.
          const lock = seen.get(key);
          const state = await store.recordFailure(key, now, lock ? { ...policy, lockMs: lockDuration(policy, lock.locks) } : policy);
          return merged(key, state, now);
        },
      ),
    recordSuccess: async (key) => {
      seen.delete(key);
      await attempt((store) => store.recordSuccess(key), (store) => store.recordSuccess(key));
    },
    unlock: async (key) => {
      seen.delete(key);
      await fallback.unlock(key);
      await primary.unlock(key);
    },
  };
}
