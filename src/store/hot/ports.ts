/*
 * The shapes of hot state that features use, each on its own, so that a feature states the one
 * it needs (a `RateLimiter`, `TimedMarks`) rather than the whole `HotState` (hot-state.ts), which
 * the adapters implement. No feature imports here.
 */

export interface RateLimitResult {
  allowed: boolean;
  /** Seconds until the next attempt is allowed (when refused). */
  retryAfterSeconds: number;
}

/** A fixed-window limit of `points` per `durationSeconds` per key. */
export interface RateLimiter {
  consume(key: string): Promise<RateLimitResult>;
  /** Gives back one point consumed for `key` in the current window (an attempt that must not count). */
  refund(key: string): Promise<void>;
}

/** Makes rate limiters whose counts every instance sharing the hot state sees. */
export interface RateLimiters {
  rateLimiter(name: string, points: number, durationSeconds: number): RateLimiter;
}

/** What a sliding window holds after an add. */
export interface WindowState {
  /** Distinct members seen within the window, this one included. */
  size: number;
  /** False when the member was already in the window (its time is refreshed). */
  added: boolean;
}

/** Members one window keeps at most; the oldest drop out first. Bounds attacker-chosen members. */
export const maxWindowMembers = 1000;

/** Detection windows. */
export interface SlidingWindows {
  /**
   * Records `member` at time `at` (ms, from the injected clock) under `key`, forgets members
   * older than `windowMs`, and says how many distinct members remain.
   */
  windowAdd(key: string, member: string, at: number, windowMs: number): Promise<WindowState>;
}

/** Marks that hold until a time (IP blocks, lock epochs), shared by every instance. */
export interface TimedMarks {
  /** `until` in ms; `now` sets its expiry. */
  setUntil(key: string, until: number, now: number): Promise<void>;
  /** The time a mark holds until, or undefined. */
  getUntil(key: string): Promise<number | undefined>;
  /** Removes a mark at once, for every instance; true when there was one. */
  clearUntil(key: string): Promise<boolean>;
}

/** Hourly statistics. */
export interface Counters {
  /** Adds one to a counter kept for `ttlSeconds`. */
  increment(key: string, ttlSeconds: number): Promise<void>;
  /** The values of counters, 0 for missing ones. */
  readCounters(keys: readonly string[]): Promise<number[]>;
}

/** Where the hot state lives, and whether it answers (health and statistics). */
export interface HotStateHealth {
  readonly kind: 'memory' | 'redis';
  ping(): Promise<void>;
}
