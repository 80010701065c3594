import type { Revocation, RevocationChange } from '../verify/revocation-state.js';

// The facts themselves live in the verification core, which the SDK shares (src/verify/revocation-state.ts).
export { revocationKinds, type Revocation, type RevocationChange, type RevocationKind } from '../verify/revocation-state.js';

/** Hears the revocation changes of every instance. */
export interface RevocationSubscriber {
  /** A change published by any instance, this one included. */
  change(change: RevocationChange): void;
  /** The fan-out was interrupted (e.g. Redis reconnected): changes may have been missed. */
  resync(): void;
}

/** Fans revocation changes out to every instance sharing the hot state. */
export interface RevocationFanOut {
  publish(change: RevocationChange): Promise<void>;
  /** Returns the unsubscribe function. */
  subscribe(subscriber: RevocationSubscriber): () => void;
}

/** The durable record of revocations (SQL); the hot state is rebuilt from it. */
export interface RevocationStore {
  /** Inserts or extends a revocation (the later `at` and `expiresAt` win). */
  put(revocation: Revocation): Promise<void>;
  /** Removes a user's `disabled` entry. */
  deleteDisabled(userId: string): Promise<void>;
  /** Every revocation still in force at `now`. */
  listActive(now: Date): Promise<Revocation[]>;
  /** Deletes revocations that expired before `before`; returns how many. */
  prune(before: Date): Promise<number>;
}
