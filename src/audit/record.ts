import { createHash, createHmac } from 'node:crypto';

export type AuditOutcome = 'success' | 'failure' | 'info';
export type AuditSeverity = 'info' | 'low' | 'medium' | 'high' | 'critical';

/** One audit record (SPEC §5). `details` never holds a token, password, hash or secret. */
export interface AuditRecord {
  id: string;
  at: Date;
  type: string;
  outcome: AuditOutcome;
  userId: string | null;
  sessionId: string | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  severity: AuditSeverity;
  details: Record<string, unknown>;
}

/** A stored record with its place in the chain. */
export interface ChainedAuditRecord extends AuditRecord {
  seq: number;
  prevHash: string;
  hash: string;
}

/** The `prevHash` of the first record. */
export const genesisHash = '0'.repeat(64);

/** JSON with object keys sorted at every depth: one byte string per value, whatever the key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

function chainInput(prevHash: string, record: AuditRecord): string {
  return `${prevHash}\n${canonicalJson({ ...record, at: record.at.toISOString() })}`;
}

/**
 * The chain link of records written before the chain was keyed: plain SHA-256 over the previous
 * hash and the record's canonical encoding (times in ISO-8601 ms). Anyone can recompute it, so it
 * only shows accidental damage; kept to verify the legacy part of a migrated chain.
 */
export function legacyChainHash(prevHash: string, record: AuditRecord): string {
  return createHash('sha256').update(chainInput(prevHash, record)).digest('hex');
}

/**
 * The chain link of every record since: HMAC-SHA256 under the chain key (audit/keys.ts) over the
 * same input, hex like the legacy link. Without the key a changed record cannot be re-linked.
 */
export function keyedChainHash(key: Buffer, prevHash: string, record: AuditRecord): string {
  return createHmac('sha256', key).update(chainInput(prevHash, record)).digest('hex');
}

/**
 * The MAC a Tessera holding the key puts on a record it queues in `audit_pending` (base64url):
 * the chainer links only records that carry it, so a row inserted straight into the table is
 * never taken for one Tessera wrote.
 */
export function pendingMac(key: Buffer, record: AuditRecord): string {
  return createHmac('sha256', key).update(`tessera-audit-pending/v1\n${canonicalJson({ ...record, at: record.at.toISOString() })}`).digest('base64url');
}
