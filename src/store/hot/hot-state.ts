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
}

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
  /** Failed password attempts and locks per account, shared by every instance. */
  readonly lockouts: LockoutStore;
  ping(): Promise<void>;
  close(): Promise<void>;
}
