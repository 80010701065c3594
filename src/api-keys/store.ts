import type { ApiKey } from './api-key.js';

/** Where a page of the admin listing resumes: after this key, in (created, id) descending order. */
export interface ApiKeyCursor {
  createdAt: Date;
  id: string;
}

export interface ApiKeyListQuery {
  /** Only this user's keys. */
  userId?: string;
  after?: ApiKeyCursor;
  limit: number;
}

/** Storage of API keys. Malformed ids find nothing (never a SQL error). */
export interface ApiKeyStore {
  /** Inserts a new key (its id is fresh: random uuids never collide in practice). */
  insert(key: ApiKey): Promise<void>;
  /** The key, revoked or not; undefined for an unknown id. */
  findById(id: string): Promise<ApiKey | undefined>;
  /** A user's keys that are not revoked (expired ones included), newest first. */
  listByUser(userId: string): Promise<ApiKey[]>;
  /** Every user's keys that are not revoked, newest first, after `query.after`, at most `query.limit`. */
  list(query: ApiKeyListQuery): Promise<ApiKey[]>;
  /**
   * Marks a key revoked at `at` by `by`; with `userId`, only when it is that user's. The key as
   * it was, or undefined when there is no such active key: of concurrent callers exactly one
   * gets it (the update's row lock decides).
   */
  revoke(id: string, at: Date, by: string, userId?: string): Promise<ApiKey | undefined>;
  /**
   * Records a use, only when the last recorded one is older than `notSince` (or there is none):
   * concurrent callers on every instance write it at most once per interval. True when written.
   */
  touch(id: string, at: Date, ip: string | null, notSince: Date): Promise<boolean>;
  /** Deletes at most `limit` keys revoked or expired before `before` (row clean-up); how many went. */
  deleteEndedBefore(before: Date, limit: number): Promise<number>;
}
