import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { SecurityEventPayloads } from '../events/bus.js';
import { anchorMac, signedAnchorMac } from './anchor.js';
import { recordFingerprint } from './chain-check.js';
import type { AuditKeys } from './keys.js';
import type { AuditRecord, ChainedAuditRecord } from './record.js';
import { auditRecordOf } from './recorder.js';
import type { AcceptedBreak, ChainBreak, ChainHead, RekeyResult } from './store.js';

/*
 * The records Tessera writes into the chain itself, each signed with a MAC of its own in
 * `details.mac` (anchor.ts): what they say and how they are signed is decided here; storage
 * adapters append them under the chain lock, in the transaction of the change they describe.
 */

/** A record of no request: no user, session, address or request id. */
function systemRecord(type: string, at: Date, outcome: AuditRecord['outcome'], severity: AuditRecord['severity'], details: Record<string, unknown>): AuditRecord {
  return { id: randomUUID(), at, type, outcome, userId: null, sessionId: null, ip: null, userAgent: null, requestId: null, severity, details };
}

/**
 * Retention's anchor: the record of the `audit.pruned` event (recorder.ts classifies it, like
 * every event), signed under the anchor key so a forged cut is told from Tessera's.
 */
export function prunedAnchor(keys: AuditKeys, fields: SecurityEventPayloads['audit.pruned'], at: Date): AuditRecord {
  const record = auditRecordOf({ type: 'audit.pruned', at: at.getTime(), payload: fields, context: {} });
  return { ...record, at, details: { ...fields, mac: anchorMac(keys.anchor, fields) } };
}

/** What re-keying found, without the anchor it is written in. */
export type RekeyFields = Omit<RekeyResult, 'anchor'>;

/**
 * The `audit.rekeyed` anchor. Critical when the legacy part did not verify or an operator forced
 * it; high otherwise: every re-key weakens what the records before it prove.
 */
export function rekeyedAnchor(keys: AuditKeys, fields: RekeyFields, at: Date): AuditRecord {
  const severity = fields.legacyVerified === false || fields.forced ? 'critical' : 'high';
  return systemRecord('audit.rekeyed', at, 'info', severity, { ...fields, mac: signedAnchorMac(keys.anchor, 'audit.rekeyed', fields) });
}

/** Longest operator note kept. */
const maxNoteLength = 500;

/** What verification found when an operator accepts a break. */
export interface BreakFound {
  broken: ChainBreak | undefined;
  /** The record the walk reached just before the break (undefined: it was the oldest). */
  previous: ChainHead | undefined;
  /** The pruning anchor verification went by. */
  pruningSeq: number | undefined;
}

/**
 * Whether the break at `seq` may be accepted: it must be the chain's first, and never a forged
 * anchor (accepting one would make an attacker's claim Tessera's). Throws the operator's answer.
 */
export function assertAcceptable(found: BreakFound, seq: number): ChainBreak {
  const { broken } = found;
  if (!broken) throw new Error('the audit chain verifies: there is nothing to accept');
  if (broken.seq !== seq) throw new Error(`the first break is at #${broken.seq}, not #${seq}: investigate and accept that one`);
  if (broken.reason === 'anchor_forged') throw new Error(`record #${seq} is an anchor without a valid MAC: restore the chain from a backup; a forged anchor cannot be accepted`);
  return broken;
}

/**
 * The `audit.break_accepted` anchor that pins `record` as it is now, with what the walk reached
 * just before it and the pruning anchor it went by; and the acceptance it stands for, once
 * `anchorSeq` is known.
 */
export function breakAcceptedAnchor(
  keys: AuditKeys,
  found: BreakFound,
  record: ChainedAuditRecord,
  note: string,
  at: Date,
): { record: AuditRecord; accepted: (anchorSeq: number) => AcceptedBreak } {
  const broken = assertAcceptable(found, record.seq);
  const fields = {
    seq: record.seq,
    id: record.id,
    reason: broken.reason,
    prevHash: record.prevHash,
    hash: record.hash,
    contentHash: recordFingerprint(record),
    previousSeq: found.previous?.seq ?? null,
    previousHash: found.previous?.hash ?? null,
    pruningSeq: found.pruningSeq ?? null,
    note: note.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').slice(0, maxNoteLength),
  };
  const { previousSeq, previousHash, ...rest } = fields;
  return {
    record: systemRecord('audit.break_accepted', at, 'info', 'high', { ...fields, mac: signedAnchorMac(keys.anchor, 'audit.break_accepted', fields) }),
    accepted: (anchorSeq) => ({ ...rest, previous: previousSeq === null || previousHash === null ? null : { seq: previousSeq, hash: previousHash }, anchorSeq }),
  };
}

/** The MAC of the stored last published head, under the head key: a writer without TESSERA_SECRET cannot move it. */
export function publishedHeadMac(keys: AuditKeys, head: ChainHead): string {
  return createHmac('sha256', keys.head).update(`tessera-audit-head-published/v1\n${head.seq}\n${head.hash}`).digest('base64url');
}

/** Whether `mac`, as stored with the last published head, is `publishedHeadMac` of it. */
export function publishedHeadSigned(keys: AuditKeys, head: ChainHead, mac: string): boolean {
  const want = Buffer.from(publishedHeadMac(keys, head));
  const given = Buffer.from(mac);
  return want.length === given.length && timingSafeEqual(want, given);
}
