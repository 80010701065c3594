import { createHash, createHmac } from 'node:crypto';
import { canonicalJson, genesisHash } from '../audit/record.js';
import type { Queryable } from '../store/sql/db.js';

/*
 * What someone with write access to the database, but without TESSERA_SECRET, does to the audit
 * chain in the tamper tests. It computes the links on its own, as an intruder would, rather than
 * through Tessera's chain functions.
 */

/** How the intruder computes a link from the previous hash and a record's canonical content. */
export type IntruderLink = (prev: string, content: string) => string;

export const sha256Link: IntruderLink = (prev, content) => createHash('sha256').update(`${prev}\n${content}`).digest('hex');

export const hmacLink =
  (key: Buffer): IntruderLink =>
  (prev, content) =>
    createHmac('sha256', key).update(`${prev}\n${content}`).digest('hex');

interface Row {
  seq: string;
  id: string;
  at: Date;
  type: string;
  outcome: string;
  user_id: string | null;
  session_id: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  severity: string;
  details: Record<string, unknown>;
  hash: string;
}

function contentOf(row: Row): string {
  const { id, at, type, outcome, ip, severity, details } = row;
  return canonicalJson({ id, at: at.toISOString(), type, outcome, userId: row.user_id, sessionId: row.session_id, ip, userAgent: row.user_agent, requestId: row.request_id, severity, details });
}

/**
 * Recomputes every link from `fromSeq` on, straight in SQL (from the start, the oldest remaining
 * record is made to look like the first one); `markLegacy` also marks each rewritten row as an
 * unkeyed one. Returns the new head.
 */
export async function relinkAuditChain(
  db: Queryable,
  options: { link?: IntruderLink; fromSeq?: number; markLegacy?: boolean } = {},
): Promise<{ seq: number; hash: string } | undefined> {
  const { link = sha256Link, fromSeq = 0, markLegacy = false } = options;
  const rows = await db.query<Row>('SELECT seq::text AS seq, id, at, type, outcome, user_id, session_id, ip, user_agent, request_id, severity, details, hash FROM audit_log ORDER BY audit_log.seq');
  const update = markLegacy ? `UPDATE audit_log SET prev_hash = $1, hash = $2, scheme = 'sha256' WHERE seq = $3` : 'UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE seq = $3';
  let prev: string | undefined;
  let head: { seq: number; hash: string } | undefined;
  for (const row of rows) {
    if (Number(row.seq) < fromSeq) {
      prev = row.hash;
      continue;
    }
    prev ??= genesisHash;
    const hash = link(prev, contentOf(row));
    await db.query(update, [prev, hash, row.seq]);
    prev = hash;
    head = { seq: Number(row.seq), hash };
  }
  return head;
}
