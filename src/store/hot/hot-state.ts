import type { LockoutStore } from '../../protection/lockout.js';
import type { RevocationFanOut, RevocationSubscriber } from '../../revocation/revocation.js';
import type { Counters, HotStateHealth, RateLimiters, SlidingWindows, TimedMarks } from './ports.js';

export type HotStateSubscriber = RevocationSubscriber;

/**
 * State shared by every instance and read on hot paths: the revocation fan-out and the
 * rate-limit counters. In-process for the embedded default; Redis when REDIS_URL is set, with
 * keys hash-tagged for Redis Cluster. The aggregate the adapters implement and the composition
 * root passes in; features take the narrow shapes in ports.ts (or `RevocationFanOut`, `LockoutStore`).
 */
export interface HotState extends RevocationFanOut, RateLimiters, SlidingWindows, TimedMarks, Counters, HotStateHealth {
  /** Failed password attempts and locks per lane (identifier, device, network), shared by every instance. */
  readonly lockouts: LockoutStore;
  close(): Promise<void>;
}
