import type { NewUser, User } from './user.js';

/** Where a page of the admin listing resumes: after this user, in (created, id) order. */
export interface UserCursor {
  createdAt: Date;
  id: string;
}

/** A page of the admin listing (GET /admin/users); every filter is optional and they combine. */
export interface UserListQuery {
  /** Prefix of the canonical username, or of the lower-cased e-mail. */
  usernamePrefix?: string;
  emailPrefix?: string;
  role?: string;
  disabled?: boolean;
  tenant?: string;
  after?: UserCursor;
  limit: number;
}

/** What an admin can change on an account (PATCH /admin/users/:id), besides `disabled`. */
export interface UserChanges {
  roles?: string[];
  permissions?: string[];
  email?: string | null;
}

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
  /**
   * The distinct heads of the stored password hashes: for each hash matching the POSIX regular
   * expression `pattern` (anchored by the caller), the text its first group matched. Hashes that
   * do not match are left out. A snapshot read over every user (start-up, not per request).
   */
  passwordHashHeads(pattern: string): Promise<string[]>;
  /** Users in (created, id) order after `query.after`, at most `query.limit`. A snapshot read. */
  list(query: UserListQuery): Promise<User[]>;
  /**
   * In a transaction: reads the user and locks its row until the transaction ends, so
   * concurrent changes of one user run one after the other. Undefined for an unknown id.
   */
  lockById(id: string): Promise<User | undefined>;
  /**
   * In a transaction: the ids of every enabled user with role `admin`, their rows locked until the
   * transaction ends (in id order, so concurrent callers never deadlock). Of concurrent callers
   * that each demote one of the last two admins, the later one finds the other already demoted.
   */
  lockActiveAdmins(): Promise<string[]>;
  /**
   * Changes roles, permissions and e-mail; undefined for an unknown id. Throws AuthError
   * `email_taken` when the e-mail is another user's, also when a concurrent change wins the race.
   */
  update(id: string, changes: UserChanges, at: Date): Promise<User | undefined>;
  /** Deletes the user (its sessions, refresh tokens and history go with it); false when unknown. */
  delete(id: string): Promise<boolean>;
}
