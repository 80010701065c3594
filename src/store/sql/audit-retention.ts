import { prunedAnchor } from '../../audit/anchor-records.js';
import type { AuditKeys } from '../../audit/keys.js';
import { AuditChainBrokenError, type PruneResult } from '../../audit/store.js';
import type { Queryable } from './db.js';
import { appendAudit, lockAuditChain } from './audit-chain.js';
import { chainContext, walkChain } from './audit-walk.js';

/**
 * One retention run, inside a transaction: takes the append lock, finds the longest prefix of
 * the chain older than `before` (in sequence order), verifies it through the first record kept,
 * appends the anchor (so it links to the current head like any record), then deletes the
 * prefix. The oldest remaining record then links to `throughHash`. A broken prefix throws
 * `AuditChainBrokenError` and nothing is written: `at` is editable, and a back-dated record would
 * otherwise be erased and the cut signed.
 */
export async function pruneAudit(tx: Queryable, before: Date, now: Date, keys: AuditKeys): Promise<PruneResult | undefined> {
  await lockAuditChain(tx);
  const kept = await tx.query<{ seq: string }>(
    'SELECT audit_log.seq::text AS seq FROM audit_log WHERE audit_log.at >= $1 ORDER BY audit_log.seq LIMIT 1',
    [before],
  );
  const firstKept = kept[0]?.seq;
  const last = await tx.query<{ seq: string; hash: string }>(
    firstKept === undefined
      ? 'SELECT audit_log.seq::text AS seq, hash FROM audit_log ORDER BY audit_log.seq DESC LIMIT 1'
      : 'SELECT audit_log.seq::text AS seq, hash FROM audit_log WHERE audit_log.seq < $1 ORDER BY audit_log.seq DESC LIMIT 1',
    firstKept === undefined ? [] : [firstKept],
  );
  const through = last[0];
  if (!through) return undefined;
  const throughSeq = Number(through.seq);
  // The first record kept too: it must link to the last one removed, or the cut hides a gap.
  const verified = await walkChain(tx, await chainContext(tx, keys), firstKept === undefined ? throughSeq : Number(firstKept));
  if (verified.broken) throw new AuditChainBrokenError(verified.broken);
  const counted = await tx.query<{ n: string }>('SELECT count(*)::text AS n FROM audit_log WHERE audit_log.seq <= $1', [throughSeq]);
  const removed = Number(counted[0]?.n ?? 0);
  const fields = { throughSeq, throughHash: through.hash, removed, before: before.toISOString() };
  const anchor = await appendAudit(tx, prunedAnchor(keys, fields, now), keys.chain);
  await tx.query('DELETE FROM audit_log WHERE audit_log.seq <= $1', [throughSeq]);
  return { throughSeq, throughHash: through.hash, removed, anchor };
}
