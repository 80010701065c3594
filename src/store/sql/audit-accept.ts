import { randomUUID } from 'node:crypto';
import { signedAnchorMac } from '../../audit/anchor.js';
import { recordFingerprint } from '../../audit/chain-check.js';
import type { AuditKeys } from '../../audit/keys.js';
import type { AcceptedBreak, ChainHead } from '../../audit/store.js';
import type { ChainedAuditRecord } from '../../audit/record.js';
import type { Queryable } from './db.js';
import { appendAudit, auditColumns, lockAuditChain, toAuditRecord, type AuditRow } from './audit-chain.js';
import { chainContext, walkChain } from './audit-walk.js';

/** Longest operator note kept. */
const maxNoteLength = 500;

/**
 * Accepts the chain's first break, at `seq`, under the append lock: appends a signed
 * `audit.break_accepted` anchor that pins the record as it is now, so verification lets exactly
 * that record through and keeps naming it. A forged anchor is never accepted: it would make an
 * attacker's claim Tessera's.
 */
export async function acceptBreakAudit(tx: Queryable, seq: number, note: string, now: Date, keys: AuditKeys): Promise<{ accepted: AcceptedBreak; anchor: ChainedAuditRecord }> {
  await lockAuditChain(tx);
  const { broken } = await walkChain(tx, await chainContext(tx, keys));
  if (!broken) throw new Error('the audit chain verifies: there is nothing to accept');
  if (broken.seq !== seq) throw new Error(`the first break is at #${broken.seq}, not #${seq}: investigate and accept that one`);
  if (broken.reason === 'anchor_forged') throw new Error(`record #${seq} is an anchor without a valid MAC: restore the chain from a backup; a forged anchor cannot be accepted`);
  const rows = await tx.query<AuditRow>(`SELECT ${auditColumns} FROM audit_log WHERE audit_log.seq = $1`, [seq]);
  const record = toAuditRecord(rows[0]!);
  const fields = {
    seq,
    id: record.id,
    reason: broken.reason,
    prevHash: record.prevHash,
    hash: record.hash,
    contentHash: recordFingerprint(record),
    note: note.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').slice(0, maxNoteLength),
  };
  const anchor = await appendAudit(
    tx,
    { id: randomUUID(), at: now, type: 'audit.break_accepted', outcome: 'info', userId: null, sessionId: null, ip: null, userAgent: null, requestId: null, severity: 'high', details: { ...fields, mac: signedAnchorMac(keys.anchor, 'audit.break_accepted', fields) } },
    keys.chain,
  );
  return { accepted: { ...fields, anchorSeq: anchor.seq }, anchor };
}

export async function publishedHead(db: Queryable): Promise<ChainHead | undefined> {
  const rows = await db.query<{ seq: string; hash: string }>('SELECT seq::text AS seq, hash FROM audit_head_published');
  return rows[0] && { seq: Number(rows[0].seq), hash: rows[0].hash };
}

export async function notePublishedHead(db: Queryable, head: ChainHead): Promise<void> {
  await db.query('INSERT INTO audit_head_published (one, seq, hash) VALUES (true, $1, $2) ON CONFLICT (one) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash', [head.seq, head.hash]);
}
