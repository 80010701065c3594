import type { Migration } from '../migration.js';

/**
 * Scheduled rotation (publish before sign): a rotation inserts a `next` key whose `activated_at`
 * lies ahead, and sets the active key's `retired_at` (the same moment) and `publish_until`. At
 * most one key waits to sign: of concurrent rotations, the insert of exactly one succeeds.
 */
export const signingKeySchedule: Migration = {
  version: 10,
  name: 'signing-key-schedule',
  sql: `
CREATE UNIQUE INDEX signing_keys_one_next_idx ON signing_keys ((true)) WHERE status = 'next';
`,
};
