import type { Migration } from '../migration.js';

/** The hash-chained audit log (SPEC §5). */
export const audit: Migration = {
  version: 5,
  name: 'audit',
  sql: `
CREATE TABLE audit_log (
  seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id         uuid NOT NULL UNIQUE,
  at         timestamptz NOT NULL,
  type       text NOT NULL,
  outcome    text NOT NULL,
  user_id    uuid,
  session_id uuid,
  ip         text,
  user_agent text,
  request_id text,
  severity   text NOT NULL,
  details    jsonb NOT NULL,
  prev_hash  text NOT NULL,
  hash       text NOT NULL
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_user_idx ON audit_log (user_id, seq) WHERE user_id IS NOT NULL;
CREATE INDEX audit_log_type_idx ON audit_log (type, seq);
`,
};
