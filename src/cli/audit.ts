import { parseExpectedHead, signedHeadValid, type ExpectedHead } from '../audit/head.js';
import { auditKeys } from '../audit/keys.js';
import type { ChainVerification } from '../audit/store.js';
import { chainBreakExplanations, checkHead } from '../audit/verification.js';
import { loadConfig } from '../config/load.js';
import { openDatabase } from '../app/storage.js';
import { sqlAuditStore } from '../store/sql/audit-store.js';
import type { Queryable } from '../store/sql/db.js';
import { upgradeDatabase } from '../store/sql/upgrade.js';
import { auditRepairCommand } from './audit-repair.js';
import { auditExportCommand } from './audit-export.js';
import { UsageError } from './help.js';



/** `--expect-head X` or `--expect-head=X`, once; undefined when absent, 'bad' for anything else. */
function expectedHeadArgument(args: string[]): ExpectedHead | undefined | 'bad' {
  if (args.length === 0) return undefined;
  const value = args.length === 1 && args[0]!.startsWith('--expect-head=') ? args[0]!.slice('--expect-head='.length) : args.length === 2 && args[0] === '--expect-head' ? args[1]! : undefined;
  return (value !== undefined && parseExpectedHead(value)) || 'bad';
}

function describeVerified(result: ChainVerification): string {
  const pruned = result.prunedThrough === undefined ? '' : `; records up to #${result.prunedThrough} were removed by retention`;
  // The legacy part proves only what plain SHA-256 proves: anyone could have recomputed it.
  const legacy =
    result.legacyThrough === undefined
      ? ''
      : `; records up to #${result.legacyThrough} were written before the chain was keyed and verify with unkeyed SHA-256 only (they show accidental damage, not tampering by someone who could write to the database); records after are keyed`;
  const forced = result.legacyForced ? '; the re-keying anchor was written by an operator (`tessera audit rekey`), not by the upgrade' : '';
  const accepted = (result.acceptedBreaks ?? []).map((entry) => `\nbreak ACCEPTED at record #${entry.seq} (${entry.reason}) by record #${entry.anchorSeq}: ${entry.note}`).join('');
  return `audit chain verified: ${result.records} records${pruned}${legacy}${forced}${accepted}\n`;
}

/**
 * `tessera audit verify`: reads the chain, writes nothing (it never re-keys nor chains queued
 * records); exit 0 when it holds, printing the count and the head (seq and hash) to record
 * elsewhere, 1 naming the first broken record, for a legacy chain never re-keyed, or when
 * `--expect-head` is not in the chain.
 * `tessera audit accept-break`, `tessera audit rekey`: see audit-repair.ts.
 * `tessera audit export`: see audit-export.ts.
 */
export async function auditCommand(args: string[]): Promise<number> {
  if (args[0] === 'export') return auditExportCommand(args.slice(1));
  if (args[0] === 'accept-break' || args[0] === 'rekey') return auditRepairCommand(args);
  if (args[0] !== 'verify') throw new UsageError(args[0] === undefined ? 'a command is required' : `unknown command "audit ${args[0]}"`, ['audit']);
  const expected = expectedHeadArgument(args.slice(1));
  if (expected === 'bad') throw new UsageError('--expect-head takes SEQ:HASH or a signed head token, once', ['audit', 'verify']);
  const config = loadConfig();
  const keys = auditKeys(config.secret);
  if (expected?.signed && !signedHeadValid(keys, expected)) {
    process.stdout.write('expected head REFUSED: its signature does not verify (forged or altered, or signed under another TESSERA_SECRET)\n');
    return 1;
  }
  const db = await openDatabase(config);
  try {
    await upgradeDatabase(db, keys, new Date());
    const audit = sqlAuditStore(db, db, { keys });
    // Records a stopped server wrote but had not chained yet (ADR 005): the next Tessera to run chains them.
    const pending = await countPending(db);
    if (pending > 0) process.stdout.write(`${pending} queued records are not chained yet and not verified here (a running Tessera chains them)\n`);
    const result = await audit.verify();
    // Every re-key is named, whoever wrote it: the records before it prove much less.
    if (result.rekeyed) {
      const by = result.rekeyed.forced ? 'by an operator (`tessera audit rekey`)' : 'by the upgrade to the keyed chain';
      process.stdout.write(`re-keyed at record #${result.rekeyed.seq} on ${result.rekeyed.at.toISOString()} ${by}\n`);
    }
    if (result.neverKeyed) {
      // Nothing re-keys a chain by itself: a chain that looks all legacy may be a keyed one rewritten.
      process.stdout.write('audit chain NOT VERIFIED: every record has an unkeyed SHA-256 link and no valid re-keying anchor exists; a keyed chain rewritten by someone without TESSERA_SECRET looks exactly like this. Investigate; only `tessera audit rekey --i-understand` anchors it as it is\n');
      return 1;
    }
    if (result.broken) {
      const { seq, id, reason } = result.broken;
      process.stdout.write(`audit chain BROKEN at record #${seq} (id ${id}): ${chainBreakExplanations[reason]}; ${result.records} records before it verify\n`);
      return 1;
    }
    process.stdout.write(describeVerified(result));
    // A hash chain cannot show that its newest records were cut off: keep this line elsewhere.
    process.stdout.write(result.head ? `head: #${result.head.seq} ${result.head.hash}\n` : 'head: none (empty log)\n');
    if (!expected) return 0;
    const check = await checkHead(audit, keys, expected, result);
    process.stdout.write(check.ok ? `${check.message}\n` : `expected head NOT FOUND: ${check.message}\n`);
    return check.ok ? 0 : 1;
  } finally {
    await db.close();
  }
}

async function countPending(db: Queryable): Promise<number> {
  return Number((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM audit_pending'))[0]?.n ?? 0);
}
