import type { Migration } from '../migration.js';

/**
 * Revoked API keys join the revocation record (kind `api_key`), so every instance and every
 * subscriber of GET /auth/revocations hears of a revocation at once, not when a cache expires.
 */
export const apiKeyRevocations: Migration = {
  version: 13,
  name: 'api-key-revocations',
  sql: `
ALTER TABLE revocations DROP CONSTRAINT revocations_kind_check;
ALTER TABLE revocations ADD CONSTRAINT revocations_kind_check CHECK (kind IN ('jti', 'sid', 'user', 'disabled', 'api_key'));
`,
};
