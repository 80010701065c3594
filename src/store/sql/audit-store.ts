import type { AuditRecord, ChainedAuditRecord } from '../../audit/record.js';
import type { AuditKeys } from '../../audit/keys.js';
import type { AuditStore } from '../../audit/store.js';
import type { Db, Queryable } from './db.js';
import { appendAudit, chainPendingAudit, enqueueAudit, keyedScheme } from './audit-chain.js';
import { auditHead, listAudit, scanAudit } from './audit-query.js';
import { acceptBreakAudit, notePublishedHead, publishedHead } from './audit-accept.js';
import { forceRekeyAudit } from './audit-rekey.js';
import { pruneAudit } from './audit-retention.js';
import { chainContext, walkChain } from './audit-walk.js';

/** The audit log in SQL. Appends and prunes must run inside a transaction: given `root`, each opens its own. */
export interface SqlAuditStoreOptions {
  /**
   * Link the chain, sign anchors, queued records and the head (audit/keys.ts). Without them the
   * store still searches and exports, but queueing and every operation on the chain throw: there
   * is no unkeyed chain to fall back to, and no verification that could say "verified" without
   * the key.
   */
  keys?: AuditKeys | undefined;
}

async function oldestIsLegacy(db: Queryable): Promise<boolean> {
  const rows = await db.query<{ scheme: string }>('SELECT scheme FROM audit_log ORDER BY audit_log.seq LIMIT 1');
  return rows[0] !== undefined && rows[0].scheme !== keyedScheme;
}

export function sqlAuditStore(db: Queryable, root?: Db, options: SqlAuditStoreOptions = {}): AuditStore {
  function keys(): AuditKeys {
    if (!options.keys) throw new Error('the audit chain needs its keys (derived from TESSERA_SECRET); none were given');
    return options.keys;
  }
  /** In a transaction of its own when given `root`, else in the caller's. */
  function inTransaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return root ? root.transaction(fn) : fn(db);
  }
  return {
    async append(record: AuditRecord): Promise<ChainedAuditRecord> {
      const { chain } = keys();
      return inTransaction((tx) => appendAudit(tx, record, chain));
    },

    async enqueue(record) {
      await enqueueAudit(db, record, keys().pending);
    },

    async chainPending(limit) {
      const all = keys();
      return inTransaction((tx) => chainPendingAudit(tx, limit, all));
    },

    async verify() {
      // A prune between reading the anchor and reaching the oldest record would look like a
      // removed head: when the anchor changed meanwhile, walk once more.
      const context = await chainContext(db, keys());
      const result = await walkChain(db, context);
      if (!result.broken) return result;
      const now = await chainContext(db, keys());
      const final = now.pruning?.seq === context.pruning?.seq ? result : await walkChain(db, now);
      // All legacy, no valid re-keying anchor: not verified, and said so (the verdict is `broken`).
      const allLegacy = final.broken && final.records === 0 && !now.rekey && (await oldestIsLegacy(db));
      return allLegacy ? { ...final, neverKeyed: true } : final;
    },

    async forceRekey(now) {
      const all = keys();
      return inTransaction((tx) => forceRekeyAudit(tx, now, all));
    },

    async acceptBreak(seq, note, now) {
      const all = keys();
      return inTransaction((tx) => acceptBreakAudit(tx, seq, note, now, all));
    },

    publishedHead: () => publishedHead(db, keys()),
    notePublishedHead: (head) => notePublishedHead(db, keys(), head),

    list: (filter, page) => listAudit(db, filter, page),
    scan: (filter, range) => scanAudit(db, filter, range),
    listAfter: (seq, limit) => scanAudit(db, {}, { afterSeq: seq, limit }),
    head: () => auditHead(db),
    async prune(before, now) {
      const all = keys();
      return inTransaction((tx) => pruneAudit(tx, before, now, all));
    },
  };
}
