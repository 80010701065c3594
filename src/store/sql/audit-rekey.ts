import { randomUUID } from 'node:crypto';
import type { AuditKeys } from '../../audit/keys.js';
import type { RekeyResult } from '../../audit/store.js';
import type { Queryable } from './db.js';
import { appendAudit, keyedScheme, lockAuditChain } from './audit-chain.js';
import { latestPruningAnchor, rekeyAnchor, walkChain } from './audit-walk.js';

async function schemeAt(tx: Queryable, end: 'ASC' | 'DESC'): Promise<{ seq: string; hash: string; scheme: string } | undefined> {
  const rows = await tx.query<{ seq: string; hash: string; scheme: string }>(
    `SELECT audit_log.seq::text AS seq, hash, scheme FROM audit_log ORDER BY audit_log.seq ${end} LIMIT 1`,
  );
  return rows[0];
}

/**
 * Re-keys a chain written before the chain was keyed, once, inside a transaction holding the
 * append lock: when its newest and oldest records are both legacy and no `audit.rekeyed` anchor
 * exists. Which records are legacy is read from the `scheme` column, not from whether their MAC
 * verifies: under a wrong TESSERA_SECRET a keyed chain must fail verification, not be re-keyed.
 */
export async function rekeyAudit(tx: Queryable, now: Date, keys: AuditKeys): Promise<RekeyResult | undefined> {
  await lockAuditChain(tx);
  const head = await schemeAt(tx, 'DESC');
  if (!head || head.scheme === keyedScheme) return undefined;
  if ((await schemeAt(tx, 'ASC'))?.scheme === keyedScheme || (await rekeyAnchor(tx))) return undefined;
  const legacy = await walkChain(tx, { keys, pruning: await latestPruningAnchor(tx), rekey: 'legacyOnly' });
  const details = {
    legacyHeadSeq: Number(head.seq),
    legacyHeadHash: head.hash,
    legacyRecords: legacy.records,
    legacyVerified: legacy.broken === undefined,
    ...(legacy.broken ? { legacyBrokenAt: legacy.broken.seq } : {}),
  };
  const anchor = await appendAudit(
    tx,
    { id: randomUUID(), at: now, type: 'audit.rekeyed', outcome: 'info', userId: null, sessionId: null, ip: null, userAgent: null, requestId: null, severity: legacy.broken ? 'critical' : 'info', details },
    keys.chain,
  );
  return { ...details, anchor };
}
