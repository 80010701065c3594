import { auditKeys } from '../audit/keys.js';
import { loadConfig } from '../config/load.js';
import { sqlAuditStore } from '../store/sql/audit-store.js';
import { migrate } from '../store/sql/migrate.js';
import { openDatabase } from '../service.js';

export async function migrateCommand(): Promise<number> {
  const config = loadConfig();
  const db = await openDatabase(config);
  try {
    const result = await migrate(db);
    process.stdout.write(
      result.applied.length > 0
        ? `applied migrations ${result.applied.join(', ')}; schema is at version ${result.current}\n`
        : `schema is up to date (version ${result.current})\n`,
    );
    // A chain written before it was keyed is anchored here when no server has done it yet.
    const rekeyed = await sqlAuditStore(db, db, { keys: auditKeys(config.secret) }).ensureKeyed(new Date());
    if (rekeyed) process.stdout.write(`audit chain keyed: legacy records up to #${rekeyed.legacyHeadSeq} ${rekeyed.legacyVerified ? 'verified' : 'did NOT verify'} with SHA-256\n`);
    return 0;
  } finally {
    await db.close();
  }
}
