import { assertAcceptable, breakAcceptedAnchor, publishedHeadMac, publishedHeadSigned } from '../../audit/anchor-records.js';
import type { AuditKeys } from '../../audit/keys.js';
import type { AcceptedBreak, ChainHead } from '../../audit/store.js';
import type { ChainedAuditRecord } from '../../audit/record.js';
import type { Queryable } from './db.js';
import { appendAudit, auditColumns, lockAuditChain, toAuditRecord, type AuditRow } from './audit-chain.js';
import { chainContext, walkChain } from './audit-walk.js';

/**
 * Accepts the chain's first break, at `seq`, under the append lock: appends the signed
 * `audit.break_accepted` anchor (audit/anchor-records.ts decides whether it may be accepted and
 * what the anchor pins), so verification lets exactly that record through and keeps naming it.
 */
export async function acceptBreakAudit(tx: Queryable, seq: number, note: string, now: Date, keys: AuditKeys): Promise<{ accepted: AcceptedBreak; anchor: ChainedAuditRecord }> {
  await lockAuditChain(tx);
  const context = await chainContext(tx, keys);
  const { broken, head: previous } = await walkChain(tx, context);
  const found = { broken, previous, pruningSeq: context.pruning?.seq };
  assertAcceptable(found, seq);
  const rows = await tx.query<AuditRow>(`SELECT ${auditColumns} FROM audit_log WHERE audit_log.seq = $1`, [seq]);
  const acceptance = breakAcceptedAnchor(keys, found, toAuditRecord(rows[0]!), note, now);
  const anchor = await appendAudit(tx, acceptance.record, keys.chain);
  return { accepted: acceptance.accepted(anchor.seq), anchor };
}

export async function publishedHead(db: Queryable, keys: AuditKeys): Promise<(ChainHead & { signed: boolean }) | undefined> {
  const rows = await db.query<{ seq: string; hash: string; mac: string }>('SELECT seq::text AS seq, hash, mac FROM audit_head_published');
  const row = rows[0];
  if (!row) return undefined;
  const head = { seq: Number(row.seq), hash: row.hash };
  return { ...head, signed: publishedHeadSigned(keys, head, row.mac) };
}

/** Never moves the row backwards: of instances racing, the newest head stays. */
export async function notePublishedHead(db: Queryable, keys: AuditKeys, head: ChainHead): Promise<void> {
  await db.query(
    'INSERT INTO audit_head_published (one, seq, hash, mac) VALUES (true, $1, $2, $3) ON CONFLICT (one) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash, mac = EXCLUDED.mac WHERE audit_head_published.seq <= EXCLUDED.seq',
    [head.seq, head.hash, publishedHeadMac(keys, head)],
  );
}
