import { randomUUID, timingSafeEqual } from 'node:crypto';
import { anchorTypes } from './anchor.js';
import { pendingMac, type AuditRecord } from './record.js';

/*
 * Which queued rows (`audit_pending`) the chainer links as written, and what it links in place of
 * the others. Storage adapters read the rows and write the chain; the decision is made here.
 */

export type PendingRejection = 'anchor_type' | 'mac_invalid' | 'malformed' | 'duplicate';

/**
 * Why a queued record is not Tessera's, undefined when it is: `mac` is the MAC stored with it,
 * `chained` whether a record of its id is already in the chain or earlier in the batch (a replay).
 */
export function pendingRejection(record: AuditRecord, mac: string, pendingKey: Buffer, chained: boolean): PendingRejection | undefined {
  if (chained) return 'duplicate';
  // Tessera writes anchors only by appending them, each with its own MAC: never queued.
  if (anchorTypes.has(record.type)) return 'anchor_type';
  // A value Tessera never writes (a time of 'infinity') must not stop every batch after it.
  if (!(record.at instanceof Date) || Number.isNaN(record.at.getTime())) return 'malformed';
  let want: Buffer;
  try {
    want = Buffer.from(pendingMac(pendingKey, record));
  } catch {
    return 'malformed';
  }
  const given = Buffer.from(mac);
  return want.length === given.length && timingSafeEqual(want, given) ? undefined : 'mac_invalid';
}

/**
 * What is chained in place of a queued row that is not Tessera's: the row kept as evidence in
 * the details, marked, at the time it was found (its own `at` is whatever the writer chose).
 */
export function rejectedPendingRecord(record: AuditRecord, reason: PendingRejection, now: Date): AuditRecord {
  const at = record.at instanceof Date && !Number.isNaN(record.at.getTime()) ? record.at.toISOString() : String(record.at);
  return {
    id: randomUUID(),
    at: now,
    type: 'audit.pending_rejected',
    outcome: 'failure',
    userId: null,
    sessionId: null,
    ip: null,
    userAgent: null,
    requestId: null,
    severity: 'critical',
    details: { reason, record: { ...record, at } },
  };
}
