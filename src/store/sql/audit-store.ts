import { chainHash, genesisHash, type AuditRecord, type ChainedAuditRecord } from '../../audit/record.js';
import type { AuditStore, ChainVerification } from '../../audit/store.js';
import { anchorMacValid, type AnchorFields } from '../../audit/anchor.js';
import type { Db, Queryable } from './db.js';
import { appendAudit, auditColumns, chainContent, chainPendingAudit, enqueueAudit, toAuditRecord, type AuditRow } from './audit-chain.js';
import { auditHead, listAudit, scanAudit } from './audit-query.js';
import { latestAnchor, pruneAudit, type PruningAnchor } from './audit-retention.js';

const verifyBatch = 1000;

/** One pass over the chain, expecting its oldest record to link to genesis or to `anchor`. */
async function walk(db: Queryable, anchor: PruningAnchor | undefined, anchorKey: Buffer | undefined): Promise<ChainVerification> {
  let prevHash: string | undefined;
  let after = '0';
  let records = 0;
  let head: ChainVerification['head'];
  const prunedThrough = anchor?.throughSeq;
  for (;;) {
    const rows = await db.query<AuditRow>(
      `SELECT ${auditColumns} FROM audit_log WHERE audit_log.seq > $1 ORDER BY audit_log.seq LIMIT ${verifyBatch}`,
      [after],
    );
    if (rows.length === 0) return { records, broken: undefined, head, prunedThrough };
    for (const row of rows) {
      const record = toAuditRecord(row);
      if (prevHash === undefined) {
        // The oldest record: the start of the chain, or the first one retention kept — by an
        // anchor Tessera signed, when it has the key.
        if (anchor && anchorKey && !anchorMacValid(anchorKey, anchor.details as Partial<AnchorFields>, anchor.details.mac)) {
          return { records, broken: { seq: anchor.seq, id: anchor.id, reason: 'anchor_forged' }, head, prunedThrough };
        }
        const linked = anchor
          ? anchor.throughSeq !== undefined && anchor.throughSeq < record.seq && record.prevHash === anchor.throughHash
          : record.prevHash === genesisHash;
        if (!linked) return { records, broken: { seq: record.seq, id: record.id, reason: 'head_removed' }, head, prunedThrough };
      } else if (record.prevHash !== prevHash) {
        return { records, broken: { seq: record.seq, id: record.id, reason: 'link_broken' }, head, prunedThrough };
      }
      if (chainHash(record.prevHash, chainContent(record)) !== record.hash) {
        return { records, broken: { seq: record.seq, id: record.id, reason: 'hash_mismatch' }, head, prunedThrough };
      }
      prevHash = record.hash;
      head = { seq: record.seq, hash: record.hash };
      records += 1;
      after = row.seq;
    }
  }
}

/** The audit log in SQL. Appends and prunes must run inside a transaction: given `root`, each opens its own. */
export interface SqlAuditStoreOptions {
  /** Signs retention anchors and requires the signature in `verify` (audit/anchor.ts). */
  anchorKey?: Buffer | undefined;
}

export function sqlAuditStore(db: Queryable, root?: Db, options: SqlAuditStoreOptions = {}): AuditStore {
  const { anchorKey } = options;
  return {
    append: (record: AuditRecord): Promise<ChainedAuditRecord> =>
      root ? root.transaction((tx) => appendAudit(tx, record)) : appendAudit(db, record),

    enqueue: (record) => enqueueAudit(db, record),

    chainPending: (limit) => (root ? root.transaction((tx) => chainPendingAudit(tx, limit)) : chainPendingAudit(db, limit)),

    async verify() {
      // A prune between reading the anchor and reaching the oldest record would look like a
      // removed head: when the anchor changed meanwhile, walk once more.
      const anchor = await latestAnchor(db);
      const result = await walk(db, anchor, anchorKey);
      if (!result.broken) return result;
      const now = await latestAnchor(db);
      return now?.seq === anchor?.seq ? result : walk(db, now, anchorKey);
    },

    list: (filter, page) => listAudit(db, filter, page),
    scan: (filter, range) => scanAudit(db, filter, range),
    listAfter: (seq, limit) => scanAudit(db, {}, { afterSeq: seq, limit }),
    head: () => auditHead(db),
    prune: (before, now) => (root ? root.transaction((tx) => pruneAudit(tx, before, now, anchorKey)) : pruneAudit(db, before, now, anchorKey)),
  };
}
