import type { AuditKeys } from '../../audit/keys.js';
import { pendingRejection, rejectedPendingRecord } from '../../audit/pending.js';
import { genesisHash, keyedChainHash, pendingMac, type AuditRecord, type ChainedAuditRecord } from '../../audit/record.js';
import type { ChainBreak, ChainPendingResult } from '../../audit/store.js';
import type { Queryable } from './db.js';

/** A row of `audit_log`; `seq` (bigint) is read as text and converted. */
export interface AuditRow {
  seq: string;
  id: string;
  at: Date;
  type: string;
  outcome: AuditRecord['outcome'];
  user_id: string | null;
  session_id: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  severity: AuditRecord['severity'];
  details: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

/**
 * The select list of a whole record. Its output name `seq` is text: write `audit_log.seq` in
 * ORDER BY and comparisons, or they sort and compare text.
 */
export const auditColumns =
  'audit_log.seq::text AS seq, id, at, type, outcome, user_id, session_id, ip, user_agent, request_id, severity, details, prev_hash, hash';

/** The record a row holds, without its place in the chain. */
function recordOfRow(row: Omit<AuditRow, 'seq' | 'prev_hash' | 'hash'>): AuditRecord {
  return {
    id: row.id,
    at: row.at,
    type: row.type,
    outcome: row.outcome,
    userId: row.user_id,
    sessionId: row.session_id,
    ip: row.ip,
    userAgent: row.user_agent,
    requestId: row.request_id,
    severity: row.severity,
    details: row.details,
  };
}

export function toAuditRecord(row: AuditRow): ChainedAuditRecord {
  return { ...recordOfRow(row), seq: Number(row.seq), prevHash: row.prev_hash, hash: row.hash };
}

/**
 * Serialises writers of the chain (appends and prunes) until the transaction ends. One lock per
 * schema, so test schemas sharing a server do not wait on each other.
 */
export async function lockAuditChain(tx: Queryable): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext('tessera.audit.' || current_schema()))`);
}

const recordColumns = 'id, at, type, outcome, user_id, session_id, ip, user_agent, request_id, severity, details';

/** A record's values in `recordColumns` order (details as JSON text). */
function recordValues(record: AuditRecord): unknown[] {
  return [
    record.id,
    record.at,
    record.type,
    record.outcome,
    record.userId,
    record.sessionId,
    record.ip,
    record.userAgent,
    record.requestId,
    record.severity,
    JSON.stringify(record.details),
  ];
}

/** `($1, …, ($11::text)::jsonb)` for the n-th row of a multi-row insert of `width` columns. */
function placeholders(row: number, width: number): string {
  const at = (i: number) => `$${row * width + i + 1}`;
  const values = Array.from({ length: width }, (_, i) => (i === 10 ? `(${at(i)}::text)::jsonb` : at(i)));
  return `(${values.join(', ')})`;
}

/**
 * Writes a record without taking the chain lock: into `audit_pending`, in the caller's
 * transaction, with its MAC under the pending key. Durable when that commits; chained by
 * `chainPendingAudit` shortly after.
 */
export async function enqueueAudit(db: Queryable, record: AuditRecord, pendingKey: Buffer): Promise<void> {
  // The MAC covers what the chainer will read back: JSON values, times to the millisecond.
  const stored: AuditRecord = { ...record, at: new Date(record.at.getTime()), details: JSON.parse(JSON.stringify(record.details)) as Record<string, unknown> };
  await db.query(`INSERT INTO audit_pending (${recordColumns}, mac) VALUES ${placeholders(0, 12)}`, [...recordValues(stored), pendingMac(pendingKey, stored)]);
}

interface PendingRow extends Omit<AuditRow, 'seq' | 'prev_hash' | 'hash'> {
  pending_seq: string;
  mac: string;
}

/** Ids of the batch already in the chain: a replayed row would otherwise fail the batch on every retry. */
async function chainedIds(tx: Queryable, ids: string[]): Promise<Set<string>> {
  const rows = await tx.query<{ id: string }>('SELECT id::text AS id FROM audit_log WHERE id = ANY($1::uuid[])', [ids]);
  return new Set(rows.map((row) => row.id));
}

/**
 * How a row's link was computed (migration 009). Records keep no say in how they are verified,
 * which goes by their place before or after the `audit.rekeyed` anchor; the column tells
 * re-keying whether a chain was ever keyed, whatever key is configured.
 */
export const keyedScheme = 'hmac-sha256';

/**
 * Moves up to `limit` committed pending records into the chain, oldest first, under the lock:
 * one transaction, two statements whatever the batch size (plus one when a row is rejected). A
 * row without a valid MAC, or of an anchor type, is chained only as an `audit.pending_rejected`
 * record holding it, and reported; so is one whose id is already chained (a replay) or whose
 * values Tessera never writes (malformed), so that no row can stop the chainer for good.
 */
export async function chainPendingAudit(tx: Queryable, limit: number, keys: AuditKeys): Promise<ChainPendingResult> {
  await lockAuditChain(tx);
  const pending = await tx.query<PendingRow>(
    `DELETE FROM audit_pending WHERE pending_seq IN (SELECT pending_seq FROM audit_pending ORDER BY pending_seq LIMIT $1)
     RETURNING pending_seq::text AS pending_seq, ${recordColumns}, mac`,
    [limit],
  );
  if (pending.length === 0) return { moved: 0, rejected: [] };
  pending.sort((a, b) => Number(a.pending_seq) - Number(b.pending_seq));
  const last = await tx.query<{ hash: string }>('SELECT hash FROM audit_log ORDER BY audit_log.seq DESC LIMIT 1');
  let prevHash = last[0]?.hash ?? genesisHash;
  const params: unknown[] = [];
  const rows: string[] = [];
  const rejectedAt: Array<{ index: number; id: string }> = [];
  const now = new Date();
  // Ids already chained, and those earlier in this batch: one of each is chained, the rest wrapped.
  const seen = await chainedIds(tx, pending.map((row) => row.id));
  pending.forEach((row, index) => {
    const queued = recordOfRow(row);
    const reason = pendingRejection(queued, row.mac, keys.pending, seen.has(queued.id));
    seen.add(queued.id);
    if (reason) rejectedAt.push({ index, id: queued.id });
    const record = reason ? rejectedPendingRecord(queued, reason, now) : queued;
    const hash = keyedChainHash(keys.chain, prevHash, record);
    params.push(...recordValues(record), prevHash, hash, keyedScheme);
    rows.push(placeholders(index, 14));
    prevHash = hash;
  });
  // Rows are inserted in list order, so their identity seq follows the chain.
  const inserted = await tx.query<{ seq: string }>(`INSERT INTO audit_log (${recordColumns}, prev_hash, hash, scheme) VALUES ${rows.join(', ')} RETURNING audit_log.seq::text AS seq`, params);
  const seqs = inserted.map((row) => Number(row.seq)).sort((a, b) => a - b);
  const rejected: ChainBreak[] = rejectedAt.map(({ index, id }) => ({ seq: seqs[index]!, id, reason: 'pending_unauthenticated' }));
  return { moved: pending.length, rejected };
}

/** Appends under the lock; must run inside a transaction (the lock is transaction-scoped). */
export async function appendAudit(tx: Queryable, record: AuditRecord, chainKey: Buffer): Promise<ChainedAuditRecord> {
  await lockAuditChain(tx);
  const last = await tx.query<{ hash: string }>('SELECT hash FROM audit_log ORDER BY audit_log.seq DESC LIMIT 1');
  const prevHash = last[0]?.hash ?? genesisHash;
  // Times are kept to the millisecond, as they are hashed.
  const stored: AuditRecord = { ...record, at: new Date(record.at.getTime()) };
  const hash = keyedChainHash(chainKey, prevHash, stored);
  const rows = await tx.query<AuditRow>(
    `INSERT INTO audit_log (id, at, type, outcome, user_id, session_id, ip, user_agent, request_id, severity, details, prev_hash, hash, scheme)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, ($11::text)::jsonb, $12, $13, $14) RETURNING ${auditColumns}`,
    [
      stored.id,
      stored.at,
      stored.type,
      stored.outcome,
      stored.userId,
      stored.sessionId,
      stored.ip,
      stored.userAgent,
      stored.requestId,
      stored.severity,
      JSON.stringify(stored.details),
      prevHash,
      hash,
      keyedScheme,
    ],
  );
  return toAuditRecord(rows[0]!);
}
