import { chainHash, genesisHash, type AuditRecord, type ChainedAuditRecord } from '../../audit/record.js';
import type { AuditStore, ChainVerification } from '../../audit/store.js';
import type { Db, Queryable } from './db.js';

interface AuditRow {
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

const columns = 'seq::text AS seq, id, at, type, outcome, user_id, session_id, ip, user_agent, request_id, severity, details, prev_hash, hash';

function toRecord(row: AuditRow): ChainedAuditRecord {
  return {
    seq: Number(row.seq),
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
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/** Strips the chain fields: what the hash covers. */
function content(record: ChainedAuditRecord): AuditRecord {
  const { seq: _seq, prevHash: _prev, hash: _hash, ...rest } = record;
  return rest;
}

async function appendOn(db: Queryable, record: AuditRecord): Promise<ChainedAuditRecord> {
  await db.query(`SELECT pg_advisory_xact_lock(hashtext('tessera.audit.' || current_schema()))`);
  const last = await db.query<{ hash: string }>('SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1');
  const prevHash = last[0]?.hash ?? genesisHash;
  // Times are kept to the millisecond, as they are hashed.
  const stored: AuditRecord = { ...record, at: new Date(record.at.getTime()) };
  const hash = chainHash(prevHash, stored);
  const rows = await db.query<AuditRow>(
    `INSERT INTO audit_log (id, at, type, outcome, user_id, session_id, ip, user_agent, request_id, severity, details, prev_hash, hash)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, ($11::text)::jsonb, $12, $13) RETURNING ${columns}`,
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
    ],
  );
  return toRecord(rows[0]!);
}

/** The audit log in SQL. `append` must run inside a transaction (the lock is transaction-scoped). */
export function sqlAuditStore(db: Queryable, root?: Db): AuditStore {
  return {
    append: (record) => (root ? root.transaction((tx) => appendOn(tx, record)) : appendOn(db, record)),

    async verify(): Promise<ChainVerification> {
      let prevHash = genesisHash;
      let after = '0';
      let records = 0;
      for (;;) {
        const rows = await db.query<AuditRow>(`SELECT ${columns} FROM audit_log WHERE audit_log.seq > $1 ORDER BY audit_log.seq LIMIT 1000`, [after]);
        if (rows.length === 0) return { records, broken: undefined };
        for (const row of rows) {
          const record = toRecord(row);
          if (record.prevHash !== prevHash) return { records, broken: { seq: record.seq, id: record.id, reason: 'link_broken' } };
          if (chainHash(prevHash, content(record)) !== record.hash) {
            return { records, broken: { seq: record.seq, id: record.id, reason: 'hash_mismatch' } };
          }
          prevHash = record.hash;
          records += 1;
          after = row.seq;
        }
      }
    },
  };
}
