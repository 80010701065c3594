import type { IpRule, IpRuleStore } from '../../protection/ip-rule-store.js';
import { isUniqueViolation, type Queryable } from './db.js';
import { isUuid } from './uuid.js';

interface IpRuleRow {
  id: string;
  action: IpRule['action'];
  cidr: string;
  note: string | null;
  expires_at: Date | null;
  created_at: Date;
  created_by: string;
}

const columns = 'id, action, cidr, note, expires_at, created_at, created_by';

function toRule(row: IpRuleRow): IpRule {
  return {
    id: row.id,
    action: row.action,
    cidr: row.cidr,
    note: row.note,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    createdBy: row.created_by,
  };
}

const bump = 'UPDATE ip_rules_version SET version = version + 1 WHERE id = 1';

/**
 * Insert and delete each bump the version in a second statement: callers run them inside a
 * transaction (the service's), so the change and its version commit together.
 */
export function sqlIpRuleStore(db: Queryable): IpRuleStore {
  return {
    async insert(rule) {
      // ON CONFLICT DO NOTHING keeps a duplicate from aborting the caller's transaction.
      const rows = await db
        .query<{ id: string }>(
          `INSERT INTO ip_rules (${columns}) VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (action, cidr) DO NOTHING RETURNING id`,
          [rule.id, rule.action, rule.cidr, rule.note, rule.expiresAt, rule.createdAt, rule.createdBy],
        )
        .catch((error: unknown) => {
          if (isUniqueViolation(error)) return [];
          throw error;
        });
      if (rows.length === 0) return false;
      await db.query(bump);
      return true;
    },
    async delete(id) {
      if (!isUuid(id)) return undefined;
      const rows = await db.query<IpRuleRow>(`DELETE FROM ip_rules WHERE id = $1 RETURNING ${columns}`, [id]);
      if (rows.length === 0) return undefined;
      await db.query(bump);
      return toRule(rows[0]!);
    },
    async list() {
      const rows = await db.query<IpRuleRow>(`SELECT ${columns} FROM ip_rules ORDER BY created_at, id`);
      return rows.map(toRule);
    },
    async version() {
      const rows = await db.query<{ version: string | number }>('SELECT version FROM ip_rules_version WHERE id = 1');
      return Number(rows[0]?.version ?? 0);
    },
  };
}
