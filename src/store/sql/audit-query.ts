import type { ChainedAuditRecord } from '../../audit/record.js';
import type { AuditFilter, ChainHead } from '../../audit/store.js';
import type { Queryable } from './db.js';
import { auditColumns, toAuditRecord, type AuditRow } from './audit-chain.js';

/*
 * Searches of the audit log, by keyset on `seq` (never OFFSET), with parameters only. `seq` is
 * always written `audit_log.seq`: the select list's `seq::text AS seq` would otherwise make
 * ORDER BY and comparisons work on text.
 */

/** The WHERE conditions of a filter; its values are appended to `params`. */
function conditions(filter: AuditFilter, params: unknown[]): string[] {
  const where: string[] = [];
  const add = (sql: (placeholder: string) => string, value: unknown) => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (filter.type !== undefined) add((p) => `audit_log.type = ${p}`, filter.type);
  if (filter.userId !== undefined) add((p) => `audit_log.user_id = ${p}`, filter.userId);
  if (filter.ip !== undefined) add((p) => `audit_log.ip = ${p}`, filter.ip);
  if (filter.outcome !== undefined) add((p) => `audit_log.outcome = ${p}`, filter.outcome);
  if (filter.since !== undefined) add((p) => `audit_log.at >= ${p}`, filter.since);
  if (filter.until !== undefined) add((p) => `audit_log.at < ${p}`, filter.until);
  return where;
}

async function select(db: Queryable, where: string[], params: unknown[], order: 'ASC' | 'DESC', limit: number): Promise<ChainedAuditRecord[]> {
  params.push(limit);
  const rows = await db.query<AuditRow>(
    `SELECT ${auditColumns} FROM audit_log ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY audit_log.seq ${order} LIMIT $${params.length}`,
    params,
  );
  return rows.map(toAuditRecord);
}

/** Newest first, before `beforeSeq` when given. */
export function listAudit(db: Queryable, filter: AuditFilter, page: { limit: number; beforeSeq?: number }): Promise<ChainedAuditRecord[]> {
  const params: unknown[] = [];
  const where = conditions(filter, params);
  if (page.beforeSeq !== undefined) {
    params.push(page.beforeSeq);
    where.push(`audit_log.seq < $${params.length}`);
  }
  return select(db, where, params, 'DESC', page.limit);
}

/** Oldest first, in `(afterSeq, throughSeq]`. */
export function scanAudit(
  db: Queryable,
  filter: AuditFilter,
  range: { afterSeq: number; throughSeq?: number; limit: number },
): Promise<ChainedAuditRecord[]> {
  const params: unknown[] = [];
  const where = conditions(filter, params);
  params.push(range.afterSeq);
  where.push(`audit_log.seq > $${params.length}`);
  if (range.throughSeq !== undefined) {
    params.push(range.throughSeq);
    where.push(`audit_log.seq <= $${params.length}`);
  }
  return select(db, where, params, 'ASC', range.limit);
}

export async function auditHead(db: Queryable): Promise<ChainHead | undefined> {
  const rows = await db.query<{ seq: string; hash: string }>('SELECT audit_log.seq::text AS seq, hash FROM audit_log ORDER BY audit_log.seq DESC LIMIT 1');
  const row = rows[0];
  return row ? { seq: Number(row.seq), hash: row.hash } : undefined;
}
