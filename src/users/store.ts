import type { NewUser, User } from './user.js';

/** Persistence of user accounts. */
export interface UserStore {
  /**
   * Inserts a user. Throws AuthError `username_taken` or `email_taken` when the canonical
   * username or e-mail already exists, including when a concurrent insert wins the race.
   */
  create(user: NewUser): Promise<User>;
  /**
   * Inserts the user only if the table is empty (bootstrap admin). Returns undefined when a
   * user already exists; of concurrent callers at most one inserts (it locks the table).
   */
  createIfEmpty(user: NewUser): Promise<User | undefined>;
  findById(id: string): Promise<User | undefined>;
  /** Looks up by canonical username. */
  findByUsername(username: string): Promise<User | undefined>;
  /** Looks up by lower-cased e-mail. */
  findByEmail(email: string): Promise<User | undefined>;
  /** Replaces the stored hash (e.g. bcrypt → argon2id rehash); `changedAt` set only for a new password. */
  updatePasswordHash(id: string, passwordHash: string, at: Date, passwordChanged: boolean): Promise<void>;
  /**
   * Sets a new password: the current hash moves to the history (keeping the newest `keep`
   * entries) and `passwordChangedAt` becomes `at`. Returns false when the user does not exist.
   */
  changePassword(id: string, passwordHash: string, at: Date, keep: number): Promise<boolean>;
  /** The current hash and then the history, newest first, at most `limit` in all. */
  recentPasswordHashes(id: string, limit: number): Promise<string[]>;
  /** Records a revoke-all: tokens issued before `at` are invalid. */
  setTokensRevokedAfter(id: string, at: Date): Promise<void>;
  /** Enables or disables sign-in; returns false when the user does not exist. */
  setDisabled(id: string, disabled: boolean, at: Date): Promise<boolean>;
  count(): Promise<number>;
}
