import type { Migration } from '../migration.js';

/** Users, sessions, refresh tokens and signing keys. */
export const initial: Migration = {
  version: 1,
  name: 'initial',
  sql: `
CREATE TABLE users (
  id                  uuid PRIMARY KEY,
  username            text NOT NULL,
  email               text,
  password_hash       text NOT NULL,
  roles               text[] NOT NULL DEFAULT '{}',
  permissions         text[] NOT NULL DEFAULT '{}',
  tenant              text,
  disabled            boolean NOT NULL DEFAULT false,
  created_at          timestamptz NOT NULL,
  updated_at          timestamptz NOT NULL,
  password_changed_at timestamptz NOT NULL,
  CONSTRAINT users_username_key UNIQUE (username),
  CONSTRAINT users_email_key UNIQUE (email)
);

CREATE TABLE sessions (
  id                 uuid PRIMARY KEY,
  user_id            uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  device_name        text,
  device_fingerprint text,
  ip                 text,
  user_agent         text,
  amr                text[] NOT NULL,
  created_at         timestamptz NOT NULL,
  last_active_at     timestamptz NOT NULL,
  expires_at         timestamptz NOT NULL,
  revoked_at         timestamptz,
  revoke_reason      text
);
CREATE INDEX sessions_user_active_idx ON sessions (user_id, created_at) WHERE revoked_at IS NULL;

-- A refresh token is "<id>.<secret>": the id finds the row, only SHA-256(secret) is stored.
CREATE TABLE refresh_tokens (
  id               text PRIMARY KEY,
  session_id       uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  secret_hash      text NOT NULL,
  created_at       timestamptz NOT NULL,
  expires_at       timestamptz NOT NULL,
  consumed_at      timestamptz,
  successor_id     text,
  successor_sealed text,
  revoked_at       timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

CREATE TABLE signing_keys (
  kid                text PRIMARY KEY,
  alg                text NOT NULL,
  public_jwk         jsonb NOT NULL,
  private_key_sealed text NOT NULL,
  status             text NOT NULL CHECK (status IN ('next', 'active', 'retired')),
  created_at         timestamptz NOT NULL,
  activated_at       timestamptz,
  retired_at         timestamptz,
  -- A retired key stays published until every token it signed has expired.
  publish_until      timestamptz
);
-- At most one key signs at a time; concurrent first starts race on this index.
CREATE UNIQUE INDEX signing_keys_one_active_idx ON signing_keys ((true)) WHERE status = 'active';
`,
};
