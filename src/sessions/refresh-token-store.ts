import type { Session } from './session.js';
import type { User } from '../users/user.js';

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

/** What a rotation reads, in one round trip. */
export interface RotationView {
  token: RefreshTokenRecord;
  session: Session;
  user: User;
}

export type NewRefreshToken = Pick<RefreshTokenRecord, 'id' | 'sessionId' | 'userId' | 'secretHash' | 'createdAt' | 'expiresAt'>;

/** Persistence of refresh tokens (hashes only). */
export interface RefreshTokenStore {
  insert(token: NewRefreshToken): Promise<void>;
  findById(id: string): Promise<RefreshTokenRecord | undefined>;
  /**
   * Row-locks the token's session, then the token, and reads the token with its session and user.
   * Of concurrent rotations of one token exactly one holds the locks at a time; the others then
   * see it consumed. Lock order: session, then token, as every revocation path.
   */
  lockForRotation(id: string): Promise<RotationView | undefined>;
  /**
   * One rotation in one statement: inserts `successor`, marks `id` consumed at `successor.createdAt`
   * pointing at it with the sealed pair, clears the sealed copy `id`'s predecessor kept, and records
   * the session's activity (`ip`, `userAgent`, last active = `successor.createdAt`).
   */
  rotate(id: string, successor: NewRefreshToken, successorSealed: string, activity: { ip: string | null; userAgent: string | null }): Promise<void>;
  /** Erases the sealed successor pairs of tokens consumed before `before` (grace over); returns how many. */
  clearSealedBefore(before: Date): Promise<number>;
  /** Revokes every unrevoked token of the session and drops their sealed pairs; returns how many. */
  revokeBySession(sessionId: string, at: Date, reason?: string): Promise<number>;
  /**
   * Deletes up to `limit` tokens of sessions whose absolute end is before `before`. Only by their
   * session's end, never by their own `expires_at`: while its session may live, a consumed token
   * is what detects a replay (reuse ends the session). Safe on every instance at once (`SKIP
   * LOCKED`, and never waiting on a rotation's locks); returns how many went.
   */
  deleteOfSessionsExpiredBefore(before: Date, limit: number): Promise<number>;
}
