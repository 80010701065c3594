import { createHash } from 'node:crypto';
import type { Db, Queryable } from './db.js';
import type { Migration } from './migration.js';
import { initial } from './migrations/001-initial.js';
import { revocations } from './migrations/002-revocations.js';
import { passwordHistory } from './migrations/003-password-history.js';
import { passwordReset } from './migrations/004-password-reset.js';
import { audit } from './migrations/005-audit.js';
import { incidents } from './migrations/006-incidents.js';
import { auditPending } from './migrations/007-audit-pending.js';
import { rowCleanup } from './migrations/008-row-cleanup.js';
import { auditKeyedChain } from './migrations/009-audit-keyed-chain.js';
import { signingKeySchedule } from './migrations/010-signing-key-schedule.js';
import { ipRules } from './migrations/011-ip-rules.js';
import { apiKeys } from './migrations/012-api-keys.js';
import { apiKeyRevocations } from './migrations/013-api-key-revocations.js';


/** Every migration, in order. Append new ones; never edit a released one. */
export type { Migration };

export const migrations: readonly Migration[] = [initial, revocations, passwordHistory, passwordReset, audit, incidents, auditPending, rowCleanup, auditKeyedChain, signingKeySchedule, ipRules, apiKeys, apiKeyRevocations];

export interface MigrationResult {
  /** The versions this call applied (none when another instance, or an earlier run, did). */
  applied: number[];
  current: number;
}

function checksum(migration: Migration): string {
  return createHash('sha256').update(migration.sql).digest('hex');
}

/**
 * Brings the schema up to date in one transaction, holding a transaction-level advisory lock
 * keyed by the current schema, so instances starting at once apply each migration exactly once:
 * the second waits for the first, then finds nothing left to do.
 * Refuses a database migrated by a newer Tessera, or whose applied migrations were edited.
 * `afterApply` runs in the same transaction once this call applied anything (store/sql/upgrade.ts).
 */
export async function migrate(
  db: Db,
  list: readonly Migration[] = migrations,
  afterApply?: (tx: Queryable, applied: readonly number[]) => Promise<void>,
): Promise<MigrationResult> {
  return db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext('tessera.migrate.' || current_schema()))`);
    await tx.exec(`
      CREATE TABLE IF NOT EXISTS tessera_migrations (
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        checksum   text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const rows = await tx.query<{ version: number; checksum: string }>(
      'SELECT version, checksum FROM tessera_migrations ORDER BY version',
    );
    const known = new Map(list.map((migration) => [migration.version, migration]));
    for (const row of rows) {
      const migration = known.get(row.version);
      if (!migration) {
        throw new Error(
          `the database has migration ${row.version}, which this version of Tessera does not know; upgrade Tessera`,
        );
      }
      if (migration.sql && checksum(migration) !== row.checksum) {
        throw new Error(`migration ${row.version} (${migration.name}) was changed after it was applied`);
      }
    }
    const done = new Set(rows.map((row) => row.version));
    const applied: number[] = [];
    for (const migration of [...list].sort((a, b) => a.version - b.version)) {
      if (done.has(migration.version)) continue;
      await tx.exec(migration.sql);
      await tx.query('INSERT INTO tessera_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
        migration.version,
        migration.name,
        checksum(migration),
      ]);
      applied.push(migration.version);
    }
    if (applied.length > 0) await afterApply?.(tx, applied);
    const current = Math.max(0, ...list.map((migration) => migration.version));
    return { applied, current };
  });
}
