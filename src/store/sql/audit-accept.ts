import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
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
  const context = await chainContext(tx, keys);
  const { broken, head: previous } = await walkChain(tx, context);
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
    // What the walk reached just before it, and the pruning anchor it went by: both pinned.
    previousSeq: previous?.seq ?? null,
    previousHash: previous?.hash ?? null,
    pruningSeq: context.pruning?.seq ?? null,
    note: note.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').slice(0, maxNoteLength),
  };
  const anchor = await appendAudit(
    tx,
    { id: randomUUID(), at: now, type: 'audit.break_accepted', outcome: 'info', userId: null, sessionId: null, ip: null, userAgent: null, requestId: null, severity: 'high', details: { ...fields, mac: signedAnchorMac(keys.anchor, 'audit.break_accepted', fields) } },
    keys.chain,
  );
  const { previousSeq, previousHash, ...rest } = fields;
  return { accepted: { ...rest, previous: previousSeq === null || previousHash === null ? null : { seq: previousSeq, hash: previousHash }, anchorSeq: anchor.seq }, anchor };
}

/** The stored row's MAC under the head key: a writer without TESSERA_SECRET cannot move it. */
function publishedMac(keys: AuditKeys, head: ChainHead): string {
  return createHmac('sha256', keys.head).update(`tessera-audit-head-published/v1\n${head.seq}\n${head.hash}`).digest('base64url');
}

export async function publishedHead(db: Queryable, keys: AuditKeys): Promise<(ChainHead & { signed: boolean }) | undefined> {
  const rows = await db.query<{ seq: string; hash: string; mac: string }>('SELECT seq::text AS seq, hash, mac FROM audit_head_published');
  const row = rows[0];
  if (!row) return undefined;
  const head = { seq: Number(row.seq), hash: row.hash };
  const want = Buffer.from(publishedMac(keys, head));
  const given = Buffer.from(row.mac);
  return { ...head, signed: want.length === given.length && timingSafeEqual(want, given) };
}

/** Never moves the row backwards: of instances racing, the newest head stays. */
export async function notePublishedHead(db: Queryable, keys: AuditKeys, head: ChainHead): Promise<void> {
  await db.query(
    'INSERT INTO audit_head_published (one, seq, hash, mac) VALUES (true, $1, $2, $3) ON CONFLICT (one) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash, mac = EXCLUDED.mac WHERE audit_head_published.seq <= EXCLUDED.seq',
    [head.seq, head.hash, publishedMac(keys, head)],
  );
}
