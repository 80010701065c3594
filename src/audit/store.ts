import type { AuditOutcome, AuditRecord, ChainedAuditRecord } from './record.js';

/** The first record that does not fit the chain, and why. */
export interface ChainBreak {
  seq: number;
  id: string;
  /**
   * `hash_mismatch`: edited. `link_broken`: a record before it was removed, or it was inserted or
   * moved. `head_removed`: the oldest remaining record does not link to the start of the chain
   * nor to the latest pruning anchor: records were deleted from the head outside retention.
   */
  reason: 'hash_mismatch' | 'link_broken' | 'head_removed' | 'anchor_forged';
}

/** Where the chain ends: what an operator records outside the database to detect truncation. */
export interface ChainHead {
  seq: number;
  hash: string;
}

export interface ChainVerification {
  /** Records that verified (all of them when the chain holds). */
  records: number;
  /** Undefined when the whole chain verifies. */
  broken: ChainBreak | undefined;
  /** The newest verified record; undefined for an empty log. */
  head: ChainHead | undefined;
  /** The last record removed by retention, per the latest `audit.pruned` anchor. */
  prunedThrough: number | undefined;
}

/** Which records a search or an export covers. Every member given narrows it (AND). */
export interface AuditFilter {
  /** Exact event type. */
  type?: string;
  userId?: string;
  /** Exact client IP, as recorded. */
  ip?: string;
  outcome?: AuditOutcome;
  /** Records at or after this time. */
  since?: Date;
  /** Records strictly before this time. */
  until?: Date;
}

/** What one retention run removed; the `details` of its `audit.pruned` anchor. */
export interface PruneResult {
  /** Seq and hash of the last record removed: the oldest remaining record links to this hash. */
  throughSeq: number;
  throughHash: string;
  removed: number;
  /** The anchor appended to the chain. */
  anchor: ChainedAuditRecord;
}

/** The tamper-evident audit log. */
export interface AuditStore {
  /**
   * Writes a record where it is durable at once and costs no lock: in the transaction of the
   * change it describes (the store of that transaction), or on its own. It joins the hash chain
   * when `chainPending` next runs (ADR 005).
   */
  enqueue(record: AuditRecord): Promise<void>;
  /** Moves up to `limit` committed pending records into the chain, oldest first. Returns how many. */
  chainPending(limit: number): Promise<number>;
  /**
   * Appends a record to the hash chain. Concurrent writers are serialised (a transaction-level
   * advisory lock), so each record links to the one inserted just before it. Call it inside the
   * transaction of the change it describes.
   */
  append(record: AuditRecord): Promise<ChainedAuditRecord>;
  /**
   * Walks the chain in insertion order, in batches, and names the first broken record. The oldest
   * remaining record must link to the genesis hash or, after pruning, to the latest anchor's
   * `throughHash`. A run that overlaps a prune is repeated once.
   */
  verify(): Promise<ChainVerification>;
  /** Newest first: at most `limit` records matching `filter`, with `seq < beforeSeq` when given. */
  list(filter: AuditFilter, page: { limit: number; beforeSeq?: number }): Promise<ChainedAuditRecord[]>;
  /**
   * Oldest first: at most `limit` records matching `filter` with `afterSeq < seq <= throughSeq`
   * (no upper bound when undefined). Exports page through it by keyset, one query per batch.
   */
  scan(filter: AuditFilter, range: { afterSeq: number; throughSeq?: number; limit: number }): Promise<ChainedAuditRecord[]>;
  /** Oldest first: at most `limit` records with `seq` greater than the one given (live streams). */
  listAfter(seq: number, limit: number): Promise<ChainedAuditRecord[]>;
  /** The newest record's seq and hash; undefined for an empty log. */
  head(): Promise<ChainHead | undefined>;
  /**
   * Retention: in one transaction holding the append lock, deletes the records older than
   * `before` and appends an `audit.pruned` anchor (at `now`) naming the last one removed, so the
   * rest of the chain still verifies. Only a prefix of the chain is removed: a record older than
   * `before` that follows a newer one (clocks of several instances) waits for a later run.
   * Undefined, and no anchor, when nothing is old enough.
   */
  prune(before: Date, now: Date): Promise<PruneResult | undefined>;
}
