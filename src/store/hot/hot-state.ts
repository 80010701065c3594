import type { LockoutStore } from '../../protection/lockout.js';
import type { RevocationChange } from '../../revocation/revocation.js';

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

/** What a sliding window holds after an add. */
export interface WindowState {
  /** Distinct members seen within the window, this one included. */
  size: number;
  /** False when the member was already in the window (its time is refreshed). */
  added: boolean;
}

/** Members one window keeps at most; the oldest drop out first. Bounds attacker-chosen members. */
export const maxWindowMembers = 1000;

export interface HotStateSubscriber {
  /** A change published by any instance, this one included. */
  change(change: RevocationChange): void;
  /** The fan-out was interrupted (e.g. Redis reconnected): changes may have been missed. */
  resync(): void;
}

/**
 * State shared by every instance and read on hot paths: the revocation fan-out and the
 * rate-limit counters. In-process for the embedded default; Redis when REDIS_URL is set, with
 * keys hash-tagged for Redis Cluster.
 */
export interface HotState {
  readonly kind: 'memory' | 'redis';
  /** Fans a revocation change out to every instance sharing this hot state. */
  publish(change: RevocationChange): Promise<void>;
  subscribe(subscriber: HotStateSubscriber): () => void;
  rateLimiter(name: string, points: number, durationSeconds: number): RateLimiter;
  /** Failed password attempts and locks per lane (identifier, device, network), shared by every instance. */
  readonly lockouts: LockoutStore;
  /**
   * Detection windows: records `member` at time `at` (ms, from the injected clock) under `key`,
   * forgets members older than `windowMs`, and says how many distinct members remain.
   */
  windowAdd(key: string, member: string, at: number, windowMs: number): Promise<WindowState>;
  /** A mark that holds until a time (IP blocks): `until` in ms; `now` sets its expiry. */
  setUntil(key: string, until: number, now: number): Promise<void>;
  /** The time a mark holds until, or undefined. */
  getUntil(key: string): Promise<number | undefined>;
  /** Removes a mark at once, for every instance; true when there was one. */
  clearUntil(key: string): Promise<boolean>;
  /** Adds one to a counter kept for `ttlSeconds` (hourly statistics). */
  increment(key: string, ttlSeconds: number): Promise<void>;
  /** The values of counters, 0 for missing ones. */
  readCounters(keys: readonly string[]): Promise<number[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
