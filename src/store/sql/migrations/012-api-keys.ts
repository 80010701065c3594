import type { Migration } from '../migration.js';

/**
 * API keys (POST /auth/api-keys). A key is "tsk_<id>_<secret>": the id finds the row, only
 * SHA-256(secret) is stored. A deleted key stays as revoked (`revoked_at`), so a later use is told
 * from a key that never existed; a deleted user takes its keys with it.
 */
export const apiKeys: Migration = {
  version: 12,
  name: 'api-keys',
  sql: `
CREATE TABLE api_keys (
  id           uuid PRIMARY KEY,
  user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name         text NOT NULL,
  permissions  text[] NOT NULL DEFAULT '{}',
  secret_hash  text NOT NULL,
  created_at   timestamptz NOT NULL,
  expires_at   timestamptz,
  last_used_at timestamptz,
  last_used_ip text,
  revoked_at   timestamptz,
  revoked_by   uuid
);
CREATE INDEX api_keys_user_idx ON api_keys (user_id, created_at DESC, id DESC) WHERE revoked_at IS NULL;
CREATE INDEX api_keys_created_idx ON api_keys (created_at DESC, id DESC) WHERE revoked_at IS NULL;
`,
};
