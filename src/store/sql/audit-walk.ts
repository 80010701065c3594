import { createChainCheck, type ChainContext } from '../../audit/chain-check.js';
import { chainContextOf, type AnchorRow, type AnchorRows } from '../../audit/chain-context.js';
import type { AuditKeys } from '../../audit/keys.js';
import type { ChainVerification } from '../../audit/store.js';
import type { Queryable } from './db.js';
import { auditColumns, toAuditRecord, type AuditRow } from './audit-chain.js';

/*
 * Reads the chain for the rules in audit/chain-check.ts and audit/chain-context.ts: the anchor
 * rows verification starts from, and the rows in sequence order, in batches.
 */

const verifyBatch = 1000;

/** The anchor rows of one type, oldest first. */
export async function anchorRows(db: Queryable, type: string): Promise<AnchorRow[]> {
  const rows = await db.query<{ seq: string; id: string; at: Date; details: Record<string, unknown> }>(
    `SELECT audit_log.seq::text AS seq, id, at, details FROM audit_log WHERE audit_log.type = $1 ORDER BY audit_log.seq`,
    [type],
  );
  return rows.map((row) => ({ seq: Number(row.seq), id: row.id, at: row.at, details: row.details }));
}

export async function readAnchorRows(db: Queryable): Promise<AnchorRows> {
  return { pruned: await anchorRows(db, 'audit.pruned'), rekeyed: await anchorRows(db, 'audit.rekeyed'), accepted: await anchorRows(db, 'audit.break_accepted') };
}

export async function chainContext(db: Queryable, keys: AuditKeys): Promise<ChainContext> {
  return chainContextOf(keys, await readAnchorRows(db));
}

/** One pass from the oldest record, through `throughSeq` (inclusive) when given. */
export async function walkChain(db: Queryable, context: ChainContext, throughSeq?: number): Promise<ChainVerification> {
  const check = createChainCheck(context);
  let after = '0';
  for (;;) {
    const rows = await db.query<AuditRow>(
      throughSeq === undefined
        ? `SELECT ${auditColumns} FROM audit_log WHERE audit_log.seq > $1 ORDER BY audit_log.seq LIMIT ${verifyBatch}`
        : `SELECT ${auditColumns} FROM audit_log WHERE audit_log.seq > $1 AND audit_log.seq <= $2 ORDER BY audit_log.seq LIMIT ${verifyBatch}`,
      throughSeq === undefined ? [after] : [after, throughSeq],
    );
    for (const row of rows) if (check.next(toAuditRecord(row))) return check.result();
    if (rows.length < verifyBatch) return check.result();
    after = rows[rows.length - 1]!.seq;
  }
}
