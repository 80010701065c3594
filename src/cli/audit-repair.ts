import { auditKeys } from '../audit/keys.js';
import { loadConfig } from '../config/load.js';
import { openDatabase } from '../app/storage.js';
import { sqlAuditStore } from '../store/sql/audit-store.js';
import { upgradeDatabase } from '../store/sql/upgrade.js';
import { UsageError } from './help.js';

/*
 * The audit chain's two repairs, each recorded in the chain by a signed anchor (ADR 007):
 * `tessera audit accept-break SEQ --reason TEXT` after an operator investigated the first break,
 * `tessera audit rekey --i-understand` to anchor whatever the chain holds now as legacy.
 */

type Parsed = { command: 'accept-break'; seq: number; reason: string } | { command: 'rekey' };

function parse(args: string[]): Parsed | undefined {
  if (args[0] === 'rekey') return args.length === 2 && args[1] === '--i-understand' ? { command: 'rekey' } : undefined;
  const [, seq, flag, reason, ...rest] = args;
  if (rest.length > 0 || flag !== '--reason' || !seq || !/^\d{1,15}$/.test(seq) || !reason?.trim()) return undefined;
  return { command: 'accept-break', seq: Number(seq), reason: reason.trim() };
}

export async function auditRepairCommand(args: string[]): Promise<number> {
  const parsed = parse(args);
  if (!parsed) {
    throw args[0] === 'rekey'
      ? new UsageError('rekey needs --i-understand (and nothing else)', ['audit', 'rekey'])
      : new UsageError('accept-break takes SEQ (a record number) and --reason TEXT (not blank)', ['audit', 'accept-break']);
  }
  const config = loadConfig();
  const db = await openDatabase(config);
  try {
    const keys = auditKeys(config.secret);
    await upgradeDatabase(db, keys, new Date());
    const audit = sqlAuditStore(db, db, { keys });
    if (parsed.command === 'rekey') {
      const result = await audit.forceRekey(new Date());
      process.stdout.write(
        `audit chain re-keyed by an operator at record #${result.anchor.seq}: records up to #${result.legacyHeadSeq} are now checked with unkeyed SHA-256 only (${result.legacyVerified ? 'they verified' : `broken at #${result.legacyBrokenAt}`}); a critical incident was raised\n`,
      );
      return 0;
    }
    try {
      const { accepted, anchor } = await audit.acceptBreak(parsed.seq, parsed.reason, new Date());
      process.stdout.write(`break ACCEPTED at record #${accepted.seq} (${accepted.reason}) by record #${anchor.seq}; verify keeps naming it\n`);
    } catch (error) {
      process.stdout.write(`break NOT accepted: ${(error as Error).message}\n`);
      return 1;
    }
    const after = await audit.verify();
    if (after.broken) process.stdout.write(`the chain still breaks at record #${after.broken.seq} (${after.broken.reason}): investigate that one too\n`);
    return after.broken ? 1 : 0;
  } finally {
    await db.close();
  }
}
