import type { Migration } from '../migration.js';

/**
 * Security incidents raised by detection (SPEC §4). At most one unresolved incident per type and
 * subject: repeated triggers update it (the partial unique index decides races between instances).
 */
export const incidents: Migration = {
  version: 6,
  name: 'incidents',
  sql: `
CREATE TABLE incidents (
  id              uuid PRIMARY KEY,
  type            text NOT NULL,
  severity        text NOT NULL,
  subject         text NOT NULL,
  status          text NOT NULL DEFAULT 'open',
  evidence        jsonb NOT NULL,
  first_seen      timestamptz NOT NULL,
  last_seen       timestamptz NOT NULL,
  count           integer NOT NULL DEFAULT 1,
  acknowledged_at timestamptz,
  acknowledged_by uuid,
  resolved_at     timestamptz,
  resolved_by     uuid
);
CREATE UNIQUE INDEX incidents_unresolved_idx ON incidents (type, subject) WHERE status <> 'resolved';
CREATE INDEX incidents_last_seen_idx ON incidents (last_seen DESC, id);
`,
};
