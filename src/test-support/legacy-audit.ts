import { genesisHash, legacyChainHash, type AuditRecord } from '../audit/record.js';
import type { Db, Queryable } from '../store/sql/db.js';
import { migrate, migrations } from '../store/sql/migrate.js';
import { auditKeyedChain } from '../store/sql/migrations/009-audit-keyed-chain.js';

/* An audit log as Tessera wrote it before the chain was keyed (issue 10): for migration tests. */

/** Migrates to the schema just before the keyed chain. */
export async function migrateBeforeKeyedChain(db: Db): Promise<void> {
  await migrate(db, migrations.filter((migration) => migration.version < auditKeyedChain.version));
}

/** Appends the way Tessera did before the chain was keyed: plain SHA-256, no `scheme`. */
export async function appendLegacyAudit(db: Queryable, record: AuditRecord): Promise<void> {
  const last = await db.query<{ hash: string }>('SELECT hash FROM audit_log ORDER BY audit_log.seq DESC LIMIT 1');
  const prev = last[0]?.hash ?? genesisHash;
  await db.query(
    `INSERT INTO audit_log (id, at, type, outcome, user_id, session_id, ip, user_agent, request_id, severity, details, prev_hash, hash)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, ($11::text)::jsonb, $12, $13)`,
    [record.id, record.at, record.type, record.outcome, record.userId, record.sessionId, record.ip, record.userAgent, record.requestId, record.severity, JSON.stringify(record.details), prev, legacyChainHash(prev, record)],
  );
}
