export interface ResetTokenRecord {
  id: string;
  userId: string;
  secretHash: string;
  createdAt: Date;
  expiresAt: Date;
  usedAt: Date | null;
}

/** Persistence of password-reset tokens (hashes only). */
export interface ResetTokenStore {
  insert(token: Omit<ResetTokenRecord, 'usedAt'>): Promise<void>;
  findById(id: string): Promise<ResetTokenRecord | undefined>;
  /** Marks the token used if it is unused and unexpired at `now`; true for exactly one caller. */
  consume(id: string, now: Date): Promise<boolean>;
  /**
   * Ends (deletes) every unused token of the user: call it in the transaction that changes the
   * password, after the user's row is written (lock order: user, then tokens), so two concurrent
   * resets of one user queue on the user instead of deadlocking on each other's tokens. A
   * concurrent `consume` of an ended token then finds nothing; returns how many ended.
   */
  endUnusedForUser(userId: string): Promise<number>;
  /**
   * Deletes up to `limit` tokens that expired before `before` (used ones included: a token
   * expires 30 minutes after it is minted, used or not). Safe on every instance at once: rows
   * another caller holds are skipped (`SKIP LOCKED`). Returns how many went.
   */
  deleteExpiredBefore(before: Date, limit: number): Promise<number>;
}
