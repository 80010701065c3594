export interface RefreshTokenRecord {
  /** Public lookup part of `<id>.<secret>`. */
  id: string;
  sessionId: string;
  userId: string;
  /** base64url SHA-256 of the secret part; the secret itself is never stored. */
  secretHash: string;
  createdAt: Date;
  expiresAt: Date;
  consumedAt: Date | null;
  successorId: string | null;
  /** The successor pair, sealed under TESSERA_SECRET, for the reuse grace window. */
  successorSealed: string | null;
  revokedAt: Date | null;
  revokeReason: string | null;
}

export type NewRefreshToken = Pick<RefreshTokenRecord, 'id' | 'sessionId' | 'userId' | 'secretHash' | 'createdAt' | 'expiresAt'>;

/** Persistence of refresh tokens (hashes only). */
export interface RefreshTokenStore {
  insert(token: NewRefreshToken): Promise<void>;
  findById(id: string): Promise<RefreshTokenRecord | undefined>;
  /** Reads and row-locks the token until the transaction ends (after locking its session). */
  lockById(id: string): Promise<RefreshTokenRecord | undefined>;
  /**
   * One rotation in one statement: inserts `successor`, marks `id` consumed at `successor.createdAt`
   * pointing at it with the sealed pair, and clears the sealed copy `id`'s predecessor kept.
   */
  rotate(id: string, successor: NewRefreshToken, successorSealed: string): Promise<void>;
  /**
   * Marks the token rotated: consumed at `at`, pointing at its successor, keeping the sealed
   * successor pair for the reuse grace window. Clears the sealed pair its predecessor kept for it.
   */
  markConsumed(id: string, at: Date, successorId: string, successorSealed: string): Promise<void>;
  /** Revokes every unrevoked token of the session and drops their sealed pairs; returns how many. */
  revokeBySession(sessionId: string, at: Date, reason?: string): Promise<number>;
}
