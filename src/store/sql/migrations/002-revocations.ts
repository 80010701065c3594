import type { Migration } from '../migration.js';

/**
 * The durable record of access-token revocations. Each row lives only as long as an access token
 * it can affect (a few minutes past the access TTL); the hot state is rebuilt from it on start.
 */
export const revocations: Migration = {
  version: 2,
  name: 'revocations',
  sql: `
CREATE TABLE revocations (
  kind       text NOT NULL CHECK (kind IN ('jti', 'sid', 'user', 'disabled')),
  subject    text NOT NULL,
  at         timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (kind, subject)
);
CREATE INDEX revocations_at_idx ON revocations (at);
CREATE INDEX revocations_expires_idx ON revocations (expires_at);

ALTER TABLE users ADD COLUMN tokens_revoked_after timestamptz;
ALTER TABLE refresh_tokens ADD COLUMN revoke_reason text;
CREATE INDEX refresh_tokens_successor_idx ON refresh_tokens (successor_id) WHERE successor_id IS NOT NULL;
-- Finds the sealed successor pairs whose grace window has closed, to erase them.
CREATE INDEX refresh_tokens_sealed_idx ON refresh_tokens (consumed_at) WHERE successor_sealed IS NOT NULL;
`,
};
