import type { Migration } from '../migration.js';

/** Earlier password hashes per user, so a change or reset can refuse a recent password. */
export const passwordHistory: Migration = {
  version: 3,
  name: 'password-history',
  sql: `
CREATE TABLE password_history (
  -- Orders entries written in the same millisecond.
  seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  password_hash text NOT NULL,
  created_at    timestamptz NOT NULL
);
CREATE INDEX password_history_user_idx ON password_history (user_id, created_at DESC, seq DESC);
`,
};
