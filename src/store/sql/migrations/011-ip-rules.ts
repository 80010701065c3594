import type { Migration } from '../migration.js';

/**
 * Allow and deny rules by CIDR (GET/POST/DELETE /admin/ip-rules). `ip_rules_version` holds one
 * row whose number every change bumps in its transaction: each instance polls it every second and
 * re-reads the rules only when it moved.
 */
export const ipRules: Migration = {
  version: 11,
  name: 'ip-rules',
  sql: `
CREATE TABLE ip_rules (
  id         uuid PRIMARY KEY,
  action     text NOT NULL CHECK (action IN ('allow', 'deny')),
  cidr       text NOT NULL,
  note       text,
  expires_at timestamptz,
  created_at timestamptz NOT NULL,
  created_by uuid NOT NULL
);
CREATE UNIQUE INDEX ip_rules_action_cidr_idx ON ip_rules (action, cidr);
CREATE TABLE ip_rules_version (
  id      integer PRIMARY KEY CHECK (id = 1),
  version bigint NOT NULL
);
INSERT INTO ip_rules_version (id, version) VALUES (1, 0);
`,
};
