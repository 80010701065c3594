import type { Migration } from '../migration.js';

/** Single-use password-reset tokens (hashes only) and the durable outbox that delivers them. */
export const passwordReset: Migration = {
  version: 4,
  name: 'password-reset',
  sql: `
CREATE TABLE password_reset_tokens (
  id          text PRIMARY KEY,
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  secret_hash text NOT NULL,
  created_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz
);
CREATE INDEX password_reset_tokens_user_idx ON password_reset_tokens (user_id);

-- Messages waiting for delivery. The body is sealed under TESSERA_SECRET: it holds a reset token.
CREATE TABLE outbox (
  id              uuid PRIMARY KEY,
  kind            text NOT NULL,
  sealed          text NOT NULL,
  created_at      timestamptz NOT NULL,
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  delivered_at    timestamptz,
  failed_at       timestamptz,
  last_error      text
);
CREATE INDEX outbox_pending_idx ON outbox (next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;
`,
};
