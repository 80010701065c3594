import type { Migration } from '../migration.js';

/**
 * Indexes for the scheduled clean-up of rows nothing needs any more (`src/store/cleanup.ts`):
 * each sweep deletes in bounded batches, oldest first, without scanning the whole table.
 */
export const rowCleanup: Migration = {
  version: 8,
  name: 'row-cleanup',
  sql: `
CREATE INDEX sessions_expires_idx ON sessions (expires_at);
CREATE INDEX password_reset_tokens_expires_idx ON password_reset_tokens (expires_at);
CREATE INDEX outbox_finished_idx ON outbox ((COALESCE(delivered_at, failed_at))) WHERE delivered_at IS NOT NULL OR failed_at IS NOT NULL;
`,
};
