/**
 * A fact that makes access tokens invalid before their `exp`:
 * - `jti`: that one token;
 * - `sid`: every token of that session;
 * - `user`: every token of that user issued before `at` (revoke-all);
 * - `disabled`: every token of that user while disabled;
 * - `api_key`: that API key (its id), so a verifier caching API-key checks drops it at once.
 * Each lives until `expiresAt`, when every token it can affect has expired anyway.
 */
export const revocationKinds = ['jti', 'sid', 'user', 'disabled', 'api_key'] as const;

export type RevocationKind = (typeof revocationKinds)[number];

export interface Revocation {
  kind: RevocationKind;
  subject: string;
  /** Milliseconds since the epoch. */
  at: number;
  expiresAt: number;
}

/** A change to fan out: a new revocation, or a user enabled again (the `disabled` entry ends). */
export type RevocationChange = { type: 'revoked'; revocation: Revocation } | { type: 'enabled'; userId: string };

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
