import { loadConfig } from '../config/load.js';
import { openDatabase } from '../service.js';
import { sqlAuditStore } from '../store/sql/audit-store.js';
import { migrate } from '../store/sql/migrate.js';

const usage = 'Usage: tessera audit verify\n';

/** `tessera audit verify`: walks the hash chain; exit 0 when it holds, 1 naming the first broken record. */
export async function auditCommand(args: string[]): Promise<number> {
  if (args[0] !== 'verify') {
    process.stderr.write(usage);
    return 1;
  }
  const config = loadConfig();
  const db = await openDatabase(config);
  try {
    await migrate(db);
    const result = await sqlAuditStore(db).verify();
    if (result.broken) {
      const { seq, id, reason } = result.broken;
      const why = reason === 'hash_mismatch' ? 'its contents do not match its hash (edited)' : 'it does not link to the record before it (a record was removed, inserted or moved)';
      process.stdout.write(`audit chain BROKEN at record #${seq} (id ${id}): ${why}; ${result.records} records before it verify\n`);
      return 1;
    }
    process.stdout.write(`audit chain verified: ${result.records} records\n`);
    return 0;
  } finally {
    await db.close();
  }
}
