import { checkExpectedHead, parseExpectedHead, signedHeadValid, type ExpectedHead } from '../audit/head.js';
import { auditKeys } from '../audit/keys.js';
import type { AuditStore, ChainBreak, ChainVerification } from '../audit/store.js';
import { loadConfig } from '../config/load.js';
import { openDatabase } from '../service.js';
import { sqlAuditStore } from '../store/sql/audit-store.js';
import type { Queryable } from '../store/sql/db.js';
import { migrate } from '../store/sql/migrate.js';
import { auditRepairCommand } from './audit-repair.js';
import { auditExportCommand, auditExportUsage } from './audit-export.js';

const usage = `Usage: tessera audit verify [--expect-head SEQ:HASH | --expect-head SIGNED_HEAD_TOKEN]
       tessera audit accept-break SEQ --reason TEXT
       tessera audit rekey --i-understand
${auditExportUsage}`;

const explanations: Record<ChainBreak['reason'], string> = {
  hash_mismatch: 'its contents do not match its MAC (edited or re-hashed, or TESSERA_SECRET is not the secret that wrote the chain)',
  link_broken: 'it does not link to the record before it (a record was removed, inserted or moved)',
  anchor_forged: 'this anchor does not carry a valid signature, or names another legacy head: records may have been deleted and the gap dressed up',
  head_removed: 'it does not link to the start of the chain nor to the latest retention anchor (the oldest records were deleted outside retention)',
  // Raised at work only (chainer, head publisher), never by verification.
  pending_unauthenticated: 'a queued record without a valid MAC was found',
  head_truncated: 'the chain no longer extends the last published head',
};

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
  if (args[0] === 'accept-break' || args[0] === 'rekey') return auditRepairCommand(args, usage);
  const expected = args[0] === 'verify' ? expectedHeadArgument(args.slice(1)) : 'bad';
  if (expected === 'bad') {
    process.stderr.write(usage);
    return 1;
  }
  const config = loadConfig();
  const keys = auditKeys(config.secret);
  if (expected?.signed && !signedHeadValid(keys, expected)) {
    process.stdout.write('expected head REFUSED: its signature does not verify (forged or altered, or signed under another TESSERA_SECRET)\n');
    return 1;
  }
  const db = await openDatabase(config);
  try {
    await migrate(db);
    const audit = sqlAuditStore(db, db, { keys });
    // Records a stopped server wrote but had not chained yet (ADR 005): the next Tessera to run chains them.
    const pending = await countPending(db);
    if (pending > 0) process.stdout.write(`${pending} queued records are not chained yet and not verified here (a running Tessera chains them)\n`);
    const result = await audit.verify();
    if (result.neverKeyed) {
      process.stdout.write('audit chain NOT VERIFIED: it was written before the chain was keyed and has not been re-keyed yet (legacy, never re-keyed); start Tessera or run `tessera migrate` once, which re-keys it\n');
      return 1;
    }
    if (result.broken) {
      const { seq, id, reason } = result.broken;
      process.stdout.write(`audit chain BROKEN at record #${seq} (id ${id}): ${explanations[reason]}; ${result.records} records before it verify\n`);
      return 1;
    }
    process.stdout.write(describeVerified(result));
    // A hash chain cannot show that its newest records were cut off: keep this line elsewhere.
    process.stdout.write(result.head ? `head: #${result.head.seq} ${result.head.hash}\n` : 'head: none (empty log)\n');
    if (!expected) return 0;
    const check = checkExpectedHead(expected, result, await recordAt(audit, expected.seq));
    process.stdout.write(check.ok ? `${check.message}\n` : `expected head NOT FOUND: ${check.message}\n`);
    return check.ok ? 0 : 1;
  } finally {
    await db.close();
  }
}

async function countPending(db: Queryable): Promise<number> {
  return Number((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM audit_pending'))[0]?.n ?? 0);
}

async function recordAt(audit: AuditStore, seq: number): Promise<{ seq: number; hash: string } | undefined> {
  const [record] = await audit.scan({}, { afterSeq: seq - 1, throughSeq: seq, limit: 1 });
  return record && { seq: record.seq, hash: record.hash };
}
