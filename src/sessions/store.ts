import type { SessionCursor } from './cursor.js';
import type { NewSession, Session } from './session.js';

/** A session with the name of its user, as the admin API lists it. */
export interface SessionListing {
  session: Session;
  username: string;
}

export interface ActiveSessionQuery {
  now: Date;
  /** Only sessions used after this instant. */
  idleSince: Date;
  /** Only this user's sessions; a malformed id finds none. */
  userId?: string | undefined;
  /** Resume after this session. */
  after?: SessionCursor | undefined;
  limit: number;
}

/** Persistence of sign-in sessions (one per device sign-in; the refresh-token family). */
export interface SessionStore {
  create(session: NewSession): Promise<Session>;
  findById(id: string): Promise<Session | undefined>;
  /**
   * Reads and row-locks the session until the transaction ends (use inside `transaction`).
   * Lock order everywhere: the session first, then its refresh tokens.
   */
  lockById(id: string): Promise<Session | undefined>;
  /**
   * Sessions of a user that are neither revoked nor expired at `now`, oldest first; with
   * `idleSince`, only those active after it.
   */
  /** Sessions not ended, not expired and, when `idleSince` is given, used after it (statistics). */
  countActive(now: Date, idleSince?: Date): Promise<number>;
  listActiveByUser(userId: string, now: Date, idleSince?: Date): Promise<Session[]>;
  /**
   * Up to `limit` active sessions of every user (or of `userId`) with their usernames, newest
   * first by (createdAt, id), after `after`: a keyset page. A plain read, no locks: a session that
   * stays active appears on exactly one page however many are opened or ended meanwhile.
   */
  listActive(query: ActiveSessionQuery): Promise<SessionListing[]>;
  /**
   * The user's active sessions other than `except`, beyond the newest `keep` of them, oldest
   * first: the ones a session limit ends. Returns only those rows, however many the user has.
   */
  listExcessByUser(userId: string, now: Date, keep: number, except: string): Promise<Session[]>;
  /** Marks the session revoked; returns false if it was already revoked or does not exist. Idempotent. */
  revoke(id: string, at: Date, reason: string): Promise<boolean>;
  /**
   * Deletes up to `limit` sessions whose absolute end (`expires_at`) is before `before` and that
   * have no refresh tokens left (`RefreshTokenStore.deleteOfSessionsExpiredBefore` goes first, in
   * batches of its own, so no delete cascades to an unbounded number of rows). A session that is
   * still alive is never deleted. Safe on every instance at once (`SKIP LOCKED`); returns how many.
   */
  deleteExpiredBefore(before: Date, limit: number): Promise<number>;
}
