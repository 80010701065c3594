import type { Clock } from '../clock.js';
import type { OutboxStore } from '../outbox/outbox.js';
import type { Stores } from './stores.js';

const hour = 3_600_000;
const day = 24 * hour;

/**
 * How long rows stay after nothing can use them any more; each sweep deletes only rows older than
 * that. The margins are for operators looking into recent events, and for clocks that disagree.
 */
export const cleanupMargins = {
  /** Delivered or given-up outbox messages (bodies erased at once), kept for their `last_error`. */
  outboxMs: 7 * day,
  /** Reset tokens, used or not, after their 30-minute lifetime. */
  resetTokenMs: day,
  /**
   * Sessions after their absolute end (`TESSERA_SESSION_MAX_AGE` from sign-in): access tokens are
   * capped at it and refresh tokens expire with it, so nothing of the session verifies after it.
   */
  sessionMs: 7 * day,
  /**
   * API keys after their revocation or expiry: kept so that presenting one is told apart from an
   * unknown key (`api_key.used_after_revocation`) for that long, then deleted.
   */
  apiKeyMs: 90 * day,
} as const;

/** Rows one statement deletes at most, and statements one sweep runs at most per table. */
const batchSize = 500;
const maxBatches = 20;

export interface CleanupResult {
  outbox: number;
  resetTokens: number;
  refreshTokens: number;
  sessions: number;
  apiKeys: number;
}

export interface RowCleanup {
  /**
   * Deletes, in batches, the rows past their margin: finished outbox messages, expired reset
   * tokens, sessions past their absolute end with their refresh tokens, and API keys long revoked
   * or expired. Every instance may run
   * it at the same time (each delete skips rows another holds); a sweep stops after
   * `maxBatches` batches per table and the next one carries on.
   */
  sweep(): Promise<CleanupResult>;
}

async function inBatches(deleteBatch: (limit: number) => Promise<number>): Promise<number> {
  let total = 0;
  for (let batch = 0; batch < maxBatches; batch += 1) {
    const deleted = await deleteBatch(batchSize);
    total += deleted;
    if (deleted < batchSize) break;
  }
  return total;
}

export function createRowCleanup(options: { stores: Stores; outbox: OutboxStore; clock: Clock }): RowCleanup {
  const { stores, outbox, clock } = options;
  return {
    async sweep() {
      const now = clock.now();
      const sessionsBefore = new Date(now - cleanupMargins.sessionMs);
      const outboxCount = await inBatches((limit) => outbox.deleteFinishedBefore(new Date(now - cleanupMargins.outboxMs), limit));
      const resetTokens = await inBatches((limit) => stores.resetTokens.deleteExpiredBefore(new Date(now - cleanupMargins.resetTokenMs), limit));
      // Tokens first: a session goes only once its tokens are gone, so no delete cascades unbounded.
      const refreshTokens = await inBatches((limit) => stores.refreshTokens.deleteOfSessionsExpiredBefore(sessionsBefore, limit));
      const sessions = await inBatches((limit) => stores.sessions.deleteExpiredBefore(sessionsBefore, limit));
      const apiKeys = await inBatches((limit) => stores.apiKeys.deleteEndedBefore(new Date(now - cleanupMargins.apiKeyMs), limit));
      return { outbox: outboxCount, resetTokens, refreshTokens, sessions, apiKeys };
    },
  };
}
