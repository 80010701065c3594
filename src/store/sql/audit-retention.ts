import { randomUUID } from 'node:crypto';
import type { PruneResult } from '../../audit/store.js';
import type { Queryable } from './db.js';
import { appendAudit, lockAuditChain } from './audit-chain.js';
import { anchorMac, type AnchorFields } from '../../audit/anchor.js';

function withMac(fields: AnchorFields, key: Buffer | undefined): Record<string, unknown> {
  return key ? { ...fields, mac: anchorMac(key, fields) } : { ...fields };
}

/** What verification needs of the latest `audit.pruned` anchor. */
export interface PruningAnchor {
  seq: number;
  id: string;
  /** The anchor's details, to check its MAC. */
  details: Record<string, unknown>;
  /** Undefined when the anchor's details are not what a prune writes (tampered). */
  throughSeq: number | undefined;
  throughHash: string | undefined;
}

export async function latestAnchor(db: Queryable): Promise<PruningAnchor | undefined> {
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

/**
 * One retention run, inside a transaction: takes the append lock, finds the longest prefix of
 * the chain older than `before`, appends the anchor (so it links to the current head like any
 * record), then deletes the prefix. The oldest remaining record then links to `throughHash`.
 */
export async function pruneAudit(tx: Queryable, before: Date, now: Date, anchorKey?: Buffer): Promise<PruneResult | undefined> {
  await lockAuditChain(tx);
  const kept = await tx.query<{ seq: string }>(
    'SELECT audit_log.seq::text AS seq FROM audit_log WHERE audit_log.at >= $1 ORDER BY audit_log.seq LIMIT 1',
    [before],
  );
  const firstKept = kept[0]?.seq;
  const last = await tx.query<{ seq: string; hash: string }>(
    firstKept === undefined
      ? 'SELECT audit_log.seq::text AS seq, hash FROM audit_log ORDER BY audit_log.seq DESC LIMIT 1'
      : 'SELECT audit_log.seq::text AS seq, hash FROM audit_log WHERE audit_log.seq < $1 ORDER BY audit_log.seq DESC LIMIT 1',
    firstKept === undefined ? [] : [firstKept],
  );
  const through = last[0];
  if (!through) return undefined;
  const throughSeq = Number(through.seq);
  const counted = await tx.query<{ n: string }>('SELECT count(*)::text AS n FROM audit_log WHERE audit_log.seq <= $1', [throughSeq]);
  const removed = Number(counted[0]?.n ?? 0);
  const anchor = await appendAudit(tx, {
    id: randomUUID(),
    at: now,
    type: 'audit.pruned',
    outcome: 'info',
    userId: null,
    sessionId: null,
    ip: null,
    userAgent: null,
    requestId: null,
    severity: 'info',
    details: withMac({ throughSeq, throughHash: through.hash, removed, before: before.toISOString() }, anchorKey),
  });
  await tx.query('DELETE FROM audit_log WHERE audit_log.seq <= $1', [throughSeq]);
  return { throughSeq, throughHash: through.hash, removed, anchor };
}
