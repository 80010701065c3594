import { randomUUID } from 'node:crypto';
import { rekeyedAnchor } from '../../audit/anchor-records.js';
import { acceptedBreaks, pruningAnchors, rekeyAnchor } from '../../audit/chain-context.js';
import type { AuditKeys } from '../../audit/keys.js';
import { pendingMac, type AuditRecord } from '../../audit/record.js';
import type { RekeyResult } from '../../audit/store.js';
import type { Queryable } from './db.js';
import { appendAudit, keyedScheme, lockAuditChain } from './audit-chain.js';
import { anchorRows, readAnchorRows, walkChain } from './audit-walk.js';
import { sqlIncidentStore } from './incident-store.js';

/** What migration 009 gives records queued before the upgrade, in place of a MAC. */
const preUpgradeMac = 'pre-upgrade';

async function schemeAt(tx: Queryable, end: 'ASC' | 'DESC'): Promise<{ seq: string; hash: string; scheme: string } | undefined> {
  const rows = await tx.query<{ seq: string; hash: string; scheme: string }>(
    `SELECT audit_log.seq::text AS seq, hash, scheme FROM audit_log ORDER BY audit_log.seq ${end} LIMIT 1`,
  );
  return rows[0];
}

/**
 * MACs records queued by the Tessera that ran before the upgrade, on trust: only in the
 * transaction that applies migration 009, before this version can queue anything. Anywhere
 * else a `pre-upgrade` MAC is just an invalid one, and the chainer wraps the row.
 */
async function adoptPreUpgradePending(tx: Queryable, keys: AuditKeys): Promise<number> {
  const rows = await tx.query<{ pending_seq: string; id: string; at: Date; type: string; outcome: AuditRecord['outcome']; user_id: string | null; session_id: string | null; ip: string | null; user_agent: string | null; request_id: string | null; severity: AuditRecord['severity']; details: Record<string, unknown> }>(
    'SELECT pending_seq::text AS pending_seq, id, at, type, outcome, user_id, session_id, ip, user_agent, request_id, severity, details FROM audit_pending WHERE mac = $1',
    [preUpgradeMac],
  );
  for (const row of rows) {
    const record: AuditRecord = { id: row.id, at: row.at, type: row.type, outcome: row.outcome, userId: row.user_id, sessionId: row.session_id, ip: row.ip, userAgent: row.user_agent, requestId: row.request_id, severity: row.severity, details: row.details };
    await tx.query('UPDATE audit_pending SET mac = $1 WHERE pending_seq = $2', [pendingMac(keys.pending, record), row.pending_seq]);
  }
  return rows.length;
}

/**
 * Anchors the chain as it is: verifies it as legacy, then appends a signed `audit.rekeyed`
 * naming its head, after which records are checked with the key.
 */
async function anchorLegacy(tx: Queryable, now: Date, keys: AuditKeys, head: { seq: string; hash: string }, extra: { forced?: true; adoptedPending?: number }): Promise<RekeyResult> {
  const anchors = await readAnchorRows(tx);
  const legacy = await walkChain(tx, { keys, ...pruningAnchors(keys, anchors.pruned), rekey: 'legacyOnly', acceptedBreaks: acceptedBreaks(keys, anchors.accepted) });
  const fields = {
    legacyHeadSeq: Number(head.seq),
    legacyHeadHash: head.hash,
    legacyRecords: legacy.records,
    legacyVerified: legacy.broken === undefined,
    ...(legacy.broken ? { legacyBrokenAt: legacy.broken.seq } : {}),
    ...extra,
  };
  const anchor = await appendAudit(tx, rekeyedAnchor(keys, fields, now), keys.chain);
  // Every re-key weakens what the records before it prove: an incident, in the same transaction,
  // whoever ran it (a server's upgrade, `tessera migrate`, an operator's `audit rekey`).
  await sqlIncidentStore(tx).raise(
    {
      type: 'audit_chain_broken',
      severity: 'critical',
      subject: 'audit:chain',
      evidence: { seq: anchor.seq, record_id: anchor.id, reason: 'rekeyed', during: extra.forced ? 'operator' : 'upgrade', forced: extra.forced === true, legacy_verified: fields.legacyVerified, legacy_head_seq: fields.legacyHeadSeq },
      at: now,
    },
    randomUUID(),
  );
  return { ...fields, anchor };
}

/**
 * The one automatic re-keying, in the transaction that has just applied migration 009 (so at
 * most once per database, decided by this process, never by anything stored: ADR 007), holding
 * the append lock; anchors only when the newest and oldest records are both legacy and no
 * `audit.rekeyed` anchor exists. Which records are legacy is read from the `scheme` column,
 * which 009 itself filled: under a wrong TESSERA_SECRET a keyed chain must fail, not be re-keyed.
 */
export async function rekeyAfterUpgrade(tx: Queryable, now: Date, keys: AuditKeys): Promise<RekeyResult | undefined> {
  await lockAuditChain(tx);
  const adoptedPending = await adoptPreUpgradePending(tx, keys);
  const head = await schemeAt(tx, 'DESC');
  if (!head || head.scheme === keyedScheme) return undefined;
  if ((await schemeAt(tx, 'ASC'))?.scheme === keyedScheme || rekeyAnchor(keys, await anchorRows(tx, 'audit.rekeyed'), true)) return undefined;
  return anchorLegacy(tx, now, keys, head, adoptedPending > 0 ? { adoptedPending } : {});
}

/** An operator's re-key of whatever the chain holds now (`tessera audit rekey --i-understand`). */
export async function forceRekeyAudit(tx: Queryable, now: Date, keys: AuditKeys): Promise<RekeyResult> {
  await lockAuditChain(tx);
  const head = await schemeAt(tx, 'DESC');
  if (!head) throw new Error('the audit log is empty: there is nothing to re-key');
  return anchorLegacy(tx, now, keys, head, { forced: true });
}
