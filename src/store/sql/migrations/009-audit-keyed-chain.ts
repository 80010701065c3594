import type { Migration } from '../migration.js';

/**
 * The audit chain is keyed (HMAC-SHA256 under a key from TESSERA_SECRET), ADR 007:
 * - each row says how its link was computed: rows written before are `sha256`. The default is
 *   dropped at once, so an older Tessera still running fails its inserts loudly instead of adding
 *   unkeyed rows; verification goes by the `audit.rekeyed` anchor, not by this column.
 * - queued records carry a MAC (`pre-upgrade` for those queued before; the re-keying in the
 *   same run that applies this migration adopts them, and nothing else ever does).
 * - `audit_head_published` keeps the last signed head, which the next one must extend, with its
 *   MAC under the head key. Nothing stored here says "re-key": that is decided by the run that
 *   applies this migration (store/sql/upgrade.ts), never by a row anyone could insert.
 */
export const auditKeyedChain: Migration = {
  version: 9,
  name: 'audit-keyed-chain',
  sql: `
ALTER TABLE audit_log ADD COLUMN scheme text NOT NULL DEFAULT 'sha256';
ALTER TABLE audit_log ALTER COLUMN scheme DROP DEFAULT;
ALTER TABLE audit_pending ADD COLUMN mac text NOT NULL DEFAULT 'pre-upgrade';
ALTER TABLE audit_pending ALTER COLUMN mac DROP DEFAULT;
CREATE TABLE audit_head_published (
  one  boolean PRIMARY KEY DEFAULT true CHECK (one),
  seq  bigint NOT NULL,
  hash text NOT NULL,
  mac  text NOT NULL
);
`,
};
