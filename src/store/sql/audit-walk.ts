import { anchorRecordValid } from '../../audit/anchor.js';
import { acceptedBreakOf, createChainCheck, rekeyAnchorOf, type ChainContext, type PruningAnchor, type RekeyAnchor } from '../../audit/chain-check.js';
import type { AuditKeys } from '../../audit/keys.js';
import type { AcceptedBreak, ChainVerification } from '../../audit/store.js';
import type { Queryable } from './db.js';
import { auditColumns, toAuditRecord, type AuditRow } from './audit-chain.js';

/*
 * Reads the chain for the rules in audit/chain-check.ts: the anchors verification starts from,
 * and the rows in sequence order, in batches.
 */

const verifyBatch = 1000;

/**
 * The latest `audit.pruned` anchor whose own MAC holds (a forged one at a higher seq is skipped
 * here and reported where the walk reaches it, as for re-keying anchors).
 */
export async function pruningAnchors(db: Queryable, keys: AuditKeys): Promise<Pick<ChainContext, 'pruning' | 'forgedPruning'>> {
  const rows = await db.query<{ seq: string; id: string; details: Record<string, unknown> }>(
    `SELECT audit_log.seq::text AS seq, id, details FROM audit_log WHERE audit_log.type = 'audit.pruned' ORDER BY audit_log.seq DESC`,
  );
  const row = rows.find((candidate) => anchorRecordValid(keys.anchor, 'audit.pruned', candidate.details));
  const newest = rows[0];
  const forgedPruning = newest && newest !== row ? { seq: Number(newest.seq), id: newest.id } : undefined;
  return { pruning: row && pruningAnchorOf(row), ...(forgedPruning ? { forgedPruning } : {}) };
}

function pruningAnchorOf(row: { seq: string; id: string; details: Record<string, unknown> }): PruningAnchor {
  const { throughSeq, throughHash } = row.details;
  return {
    seq: Number(row.seq),
    id: row.id,
    details: row.details,
    throughSeq: typeof throughSeq === 'number' && Number.isSafeInteger(throughSeq) ? throughSeq : undefined,
    throughHash: typeof throughHash === 'string' ? throughHash : undefined,
  };
}

async function anchorRows(db: Queryable, type: string): Promise<Array<{ seq: number; at: Date; details: Record<string, unknown> }>> {
  const rows = await db.query<{ seq: string; at: Date; details: Record<string, unknown> }>(
    `SELECT audit_log.seq::text AS seq, at, details FROM audit_log WHERE audit_log.type = $1 ORDER BY audit_log.seq`,
    [type],
  );
  return rows.map((row) => ({ seq: Number(row.seq), at: row.at, details: row.details }));
}

/**
 * The latest `audit.rekeyed` anchor whose own MAC holds: the boundary between legacy and keyed
 * records (a forged one is skipped here and reported where the walk reaches it). Any, with
 * `anyMac`: whether a chain was ever re-keyed.
 */
export async function rekeyAnchor(db: Queryable, keys: AuditKeys, anyMac = false): Promise<RekeyAnchor | undefined> {
  const valid = (await anchorRows(db, 'audit.rekeyed')).filter((row) => anyMac || anchorRecordValid(keys.anchor, 'audit.rekeyed', row.details));
  const row = valid[valid.length - 1];
  return row ? rekeyAnchorOf(row.seq, row.at, row.details) : undefined;
}

/** The breaks operators accepted, by anchors whose own MAC holds. */
export async function acceptedBreaks(db: Queryable, keys: AuditKeys): Promise<AcceptedBreak[]> {
  return (await anchorRows(db, 'audit.break_accepted'))
    .filter((row) => anchorRecordValid(keys.anchor, 'audit.break_accepted', row.details))
    .flatMap((row) => acceptedBreakOf(row.seq, row.details) ?? []);
}

export async function chainContext(db: Queryable, keys: AuditKeys): Promise<ChainContext> {
  return { keys, ...(await pruningAnchors(db, keys)), rekey: await rekeyAnchor(db, keys), acceptedBreaks: await acceptedBreaks(db, keys) };
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
