import type { Migration } from '../migration.js';

/**
 * Audit records are written in the transaction of the change they describe, here, without any
 * lock; the chainer moves them into the hash chain (`audit_log`) in batches, under the chain lock
 * (ADR 005). Sign-ins and refreshes no longer queue behind one another's commits.
 */
export const auditPending: Migration = {
  version: 7,
  name: 'audit-pending',
  sql: `
CREATE TABLE audit_pending (
  pending_seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- Unique in audit_log, where it is enforced; one index less on every write here.
  id         uuid NOT NULL,
  at         timestamptz NOT NULL,
  type       text NOT NULL,
  outcome    text NOT NULL,
  user_id    uuid,
  session_id uuid,
  ip         text,
  user_agent text,
  request_id text,
  severity   text NOT NULL,
  details    jsonb NOT NULL
);
`,
};
