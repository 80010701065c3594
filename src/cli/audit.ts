import { auditAnchorKey } from '../audit/anchor.js';
import type { ChainBreak } from '../audit/store.js';
import { loadConfig } from '../config/load.js';
import { openDatabase } from '../service.js';
import { sqlAuditStore } from '../store/sql/audit-store.js';
import { migrate } from '../store/sql/migrate.js';
import { auditExportCommand, auditExportUsage } from './audit-export.js';

const usage = `Usage: tessera audit verify\n${auditExportUsage}`;

const explanations: Record<ChainBreak['reason'], string> = {
  hash_mismatch: 'its contents do not match its hash (edited)',
  link_broken: 'it does not link to the record before it (a record was removed, inserted or moved)',
  anchor_forged: 'this retention anchor does not carry a valid signature: records may have been deleted and the gap dressed up as retention',
  head_removed: 'it does not link to the start of the chain nor to the latest retention anchor (the oldest records were deleted outside retention)',
};

/**
 * `tessera audit verify`: walks the hash chain; exit 0 when it holds, printing the count and the
 * head (seq and hash) to record elsewhere, 1 naming the first broken record.
 * `tessera audit export`: see audit-export.ts.
 */
export async function auditCommand(args: string[]): Promise<number> {
  if (args[0] === 'export') return auditExportCommand(args.slice(1));
  if (args[0] !== 'verify' || args.length > 1) {
    process.stderr.write(usage);
    return 1;
  }
  const config = loadConfig();
  const db = await openDatabase(config);
  try {
    await migrate(db);
    const audit = sqlAuditStore(db, db, { anchorKey: auditAnchorKey(config.secret) });
    // Records a stopped server wrote but had not chained yet (ADR 005) join the chain first.
    let chained = 0;
    for (let moved = await audit.chainPending(500); moved > 0; moved = await audit.chainPending(500)) chained += moved;
    if (chained > 0) process.stdout.write(`chained ${chained} pending records\n`);
    const result = await audit.verify();
    if (result.broken) {
      const { seq, id, reason } = result.broken;
      process.stdout.write(`audit chain BROKEN at record #${seq} (id ${id}): ${explanations[reason]}; ${result.records} records before it verify\n`);
      return 1;
    }
    const pruned = result.prunedThrough === undefined ? '' : `; records up to #${result.prunedThrough} were removed by retention`;
    process.stdout.write(`audit chain verified: ${result.records} records${pruned}\n`);
    // A hash chain cannot show that its newest records were cut off: keep this line elsewhere.
    process.stdout.write(result.head ? `head: #${result.head.seq} ${result.head.hash}\n` : 'head: none (empty log)\n');
    return 0;
  } finally {
    await db.close();
  }
}
