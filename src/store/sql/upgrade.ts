import type { AuditKeys } from '../../audit/keys.js';
import type { RekeyResult } from '../../audit/store.js';
import { rekeyAfterUpgrade } from './audit-rekey.js';
import type { Db } from './db.js';
import { migrate, migrations, type Migration, type MigrationResult } from './migrate.js';
import { auditKeyedChain } from './migrations/009-audit-keyed-chain.js';

/**
 * Brings the schema up to date and, when this very call applied migration 009, re-keys the
 * audit chain in the same transaction (ADR 007): before any instance of this version can queue
 * or append a record, and decided by what this process did, never by a row in the database,
 * which anyone with write access could add. Every Tessera entry point migrates through here.
 */
export async function upgradeDatabase(db: Db, keys: AuditKeys, now: Date, list: readonly Migration[] = migrations): Promise<{ migration: MigrationResult; rekeyed: RekeyResult | undefined }> {
  let rekeyed: RekeyResult | undefined;
  const migration = await migrate(db, list, async (tx, applied) => {
    if (applied.includes(auditKeyedChain.version)) rekeyed = await rekeyAfterUpgrade(tx, now, keys);
  });
  return { migration, rekeyed };
}
