import { auditKeys } from '../audit/keys.js';
import { loadConfig } from '../config/load.js';
import { upgradeDatabase } from '../store/sql/upgrade.js';
import { openDatabase } from '../app/storage.js';
import { UsageError } from './help.js';

export async function migrateCommand(args: string[]): Promise<number> {
  if (args.length > 0) throw new UsageError(`unknown argument "${args[0]}"`, ['migrate']);
  const config = loadConfig();
  const db = await openDatabase(config);
  try {
    const { migration: result, rekeyed } = await upgradeDatabase(db, auditKeys(config.secret), new Date());
    process.stdout.write(
      result.applied.length > 0
        ? `applied migrations ${result.applied.join(', ')}; schema is at version ${result.current}\n`
        : `schema is up to date (version ${result.current})\n`,
    );
    // Only this run applied migration 009: it anchored the chain written before it was keyed.
    if (rekeyed) process.stdout.write(`audit chain re-keyed at record #${rekeyed.anchor.seq} (an incident was raised): legacy records up to #${rekeyed.legacyHeadSeq} ${rekeyed.legacyVerified ? 'verified' : 'did NOT verify'} with SHA-256\n`);
    return 0;
  } finally {
    await db.close();
  }
}
