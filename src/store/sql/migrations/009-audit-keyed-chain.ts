import type { Migration } from '../migrate.js';

/**
 * The audit chain is keyed (HMAC-SHA256 under a key from TESSERA_SECRET): each row says how its
 * link was computed. Rows written before are `sha256`, as is anything an older Tessera still
 * running appends; verification goes by the `audit.rekeyed` anchor, not by this column.
 */
export const auditKeyedChain: Migration = {
  version: 9,
  name: 'audit-keyed-chain',
  sql: `
ALTER TABLE audit_log ADD COLUMN scheme text NOT NULL DEFAULT 'sha256';
`,
};
