import { createChainCheck, rekeyAnchorOf, type ChainContext, type PruningAnchor, type RekeyAnchor } from '../../audit/chain-check.js';
import type { AuditKeys } from '../../audit/keys.js';
import type { ChainVerification } from '../../audit/store.js';
import type { Queryable } from './db.js';
import { auditColumns, toAuditRecord, type AuditRow } from './audit-chain.js';

/*
 * Reads the chain for the rules in audit/chain-check.ts: the anchors verification starts from,
 * and the rows in sequence order, in batches.
 */

const verifyBatch = 1000;

export async function latestPruningAnchor(db: Queryable): Promise<PruningAnchor | undefined> {
  const rows = await db.query<{ seq: string; id: string; details: Record<string, unknown> }>(
    `SELECT audit_log.seq::text AS seq, id, details FROM audit_log WHERE audit_log.type = 'audit.pruned' ORDER BY audit_log.seq DESC LIMIT 1`,
  );
  const row = rows[0];
  if (!row) return undefined;
  const { throughSeq, throughHash } = row.details;
  return {
    seq: Number(row.seq),
    id: row.id,
    details: row.details,
    throughSeq: typeof throughSeq === 'number' && Number.isSafeInteger(throughSeq) ? throughSeq : undefined,
    throughHash: typeof throughHash === 'string' ? throughHash : undefined,
  };
}

/** The first `audit.rekeyed` anchor: the boundary between legacy and keyed records. */
export async function rekeyAnchor(db: Queryable): Promise<RekeyAnchor | undefined> {
  const rows = await db.query<{ seq: string; details: Record<string, unknown> }>(
    `SELECT audit_log.seq::text AS seq, details FROM audit_log WHERE audit_log.type = 'audit.rekeyed' ORDER BY audit_log.seq LIMIT 1`,
  );
  const row = rows[0];
  return row ? rekeyAnchorOf(Number(row.seq), row.details) : undefined;
}

export async function chainContext(db: Queryable, keys: AuditKeys): Promise<ChainContext> {
  return { keys, pruning: await latestPruningAnchor(db), rekey: await rekeyAnchor(db) };
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
