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
}

export type NewRefreshToken = Pick<RefreshTokenRecord, 'id' | 'sessionId' | 'userId' | 'secretHash' | 'createdAt' | 'expiresAt'>;

/** Persistence of refresh tokens (hashes only). */
export interface RefreshTokenStore {
  insert(token: NewRefreshToken): Promise<void>;
  findById(id: string): Promise<RefreshTokenRecord | undefined>;
  /** Revokes every unrevoked token of the session; returns how many. */
  revokeBySession(sessionId: string, at: Date): Promise<number>;
}
