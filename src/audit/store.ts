import type { AuditOutcome, AuditRecord, ChainedAuditRecord } from './record.js';

/** The first record that does not fit the chain, and why. */
export interface ChainBreak {
  seq: number;
  id: string;
  /**
   * `hash_mismatch`: edited. `link_broken`: a record before it was removed, or it was inserted or
   * moved. `head_removed`: the oldest remaining record does not link to the start of the chain
   * nor to the latest pruning anchor: records were deleted from the head outside retention.
   * `anchor_forged`: an anchor's own MAC (retention, re-keying, accepted break), or the legacy head
   * a re-keying anchor names, is wrong. Raised at work, never by verification:
   * `pending_unauthenticated`, a queued row without a valid MAC or of an anchor type (`seq` is
   * the record that marks it in the chain, `id` the queued row's); `head_truncated`, the head no
   * longer extends the last one published (`seq` is that head's, `id` its hash);
   * `published_head_tampered`, the stored last published head is missing, unsigned or older than
   * one this process published (`seq` and `id` name the head this process knows, or the row's).
   */
  reason: 'hash_mismatch' | 'link_broken' | 'head_removed' | 'anchor_forged' | 'pending_unauthenticated' | 'head_truncated' | 'published_head_tampered';
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
  /** Its hash, as that (signed) anchor names it. */
  prunedThroughHash: string | undefined;
  /**
   * The newest record written before the chain was keyed (`audit.rekeyed`), while such records
   * remain: up to it the links are plain SHA-256, which anyone could recompute.
   */
  legacyThrough: number | undefined;
  /** The re-keying anchor was an operator's (`tessera audit rekey`), not the one after migration 009. */
  legacyForced?: boolean;
  /** The `audit.rekeyed` anchor verification went by, when there is one: every re-key is reported. */
  rekeyed?: { seq: number; at: Date; forced: boolean };
  /**
   * The chain holds only records written before it was keyed and no valid re-keying anchor:
   * nothing verified; `broken` is set. Nothing re-keys it by itself (ADR 007).
   */
  neverKeyed?: boolean;
  /** Breaks an operator investigated and accepted (`audit.break_accepted`), while their anchor remains; absent when none. */
  acceptedBreaks?: AcceptedBreak[];
}

/** An `audit.break_accepted` anchor: the record at `seq` is let through exactly as it was then. */
export interface AcceptedBreak {
  seq: number;
  id: string;
  reason: ChainBreak['reason'];
  prevHash: string;
  hash: string;
  /** SHA-256 over the record's link and content then: any later edit breaks it again. */
  contentHash: string;
  /**
   * The record the walk reached just before it, at acceptance (null: it was the oldest): the
   * acceptance holds only while that is still so, so deleting more records before it breaks again.
   */
  previous: { seq: number; hash: string } | null;
  /** The seq of the pruning anchor verification went by at acceptance (null: none). */
  pruningSeq: number | null;
  /** The operator's explanation. */
  note: string;
  /** The anchor's own seq. */
  anchorSeq: number;
}

/** What one chaining run did. */
export interface ChainPendingResult {
  /** Queued rows taken out of `audit_pending` (rejected ones included). */
  moved: number;
  /** Queued rows that were not Tessera's (no valid MAC, or an anchor type), each marked in the chain. */
  rejected: ChainBreak[];
}

/** Thrown where a broken chain stops an operation (retention, signing the head). */
export class AuditChainBrokenError extends Error {
  constructor(readonly broken: ChainBreak) {
    super(`audit chain broken at record #${broken.seq} (${broken.reason})`);
    this.name = 'AuditChainBrokenError';
  }
}

/** What re-keying a legacy chain found; the `details` of its `audit.rekeyed` anchor. */
export interface RekeyResult {
  legacyHeadSeq: number;
  legacyHeadHash: string;
  /** Legacy records that verified (all of them when `legacyVerified`). */
  legacyRecords: number;
  legacyVerified: boolean;
  /** The first broken legacy record, when the legacy part did not verify. */
  legacyBrokenAt?: number;
  /** Written by an operator's explicit re-key, not the one due after migration 009. */
  forced?: boolean;
  /** Records queued before the upgrade, MAC'd on trust by this re-keying. */
  adoptedPending?: number;
  anchor: ChainedAuditRecord;
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
  /**
   * Moves up to `limit` committed pending records into the chain, oldest first, under the lock.
   * A row without a valid MAC, or of an anchor type, is not chained as written: an
   * `audit.pending_rejected` record (critical) holding it is chained in its place, and it is
   * reported in `rejected`.
   */
  chainPending(limit: number): Promise<ChainPendingResult>;
  /**
   * Appends a record to the hash chain. Concurrent writers are serialised (a transaction-level
   * advisory lock), so each record links to the one inserted just before it. Call it inside the
   * transaction of the change it describes.
   */
  append(record: AuditRecord): Promise<ChainedAuditRecord>;
  /**
   * Walks the chain in insertion order, in batches, and names the first broken record. The oldest
   * remaining record must link to the genesis hash or, after pruning, to the latest anchor's
   * `throughHash`. Links are HMACs under the chain key; before the `audit.rekeyed` anchor, plain
   * SHA-256. A run that overlaps a prune is repeated once.
   */
  verify(): Promise<ChainVerification>;
  /**
   * An operator's explicit re-key (`tessera audit rekey --i-understand`): everything before the
   * new anchor is checked with plain SHA-256 or the key from then on. Recorded as `forced`, and
   * raises a critical `audit_chain_broken` incident (reason `rekeyed`). The only re-key besides
   * the one in the run that applies migration 009 (store/sql/upgrade.ts).
   */
  forceRekey(now: Date): Promise<RekeyResult>;
  /**
   * Accepts the chain's first break, which must be at `seq`, with an operator's note: appends a
   * signed `audit.break_accepted` anchor naming the record as it is now. Throws when the chain
   * holds, breaks elsewhere, or at a forged anchor. Serialised with appends by the lock.
   */
  acceptBreak(seq: number, note: string, now: Date): Promise<{ accepted: AcceptedBreak; anchor: ChainedAuditRecord }>;
  /** The last head published as stored, undefined before the first; `signed` when its MAC under the head key holds. */
  publishedHead(): Promise<(ChainHead & { signed: boolean }) | undefined>;
  /** Records the head just published, signed (one row; never replaced by an older head). */
  notePublishedHead(head: ChainHead): Promise<void>;
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
   * The prefix is chosen in sequence order and verified (through the first record kept) before
   * anything is removed: when it is broken, nothing is removed and `AuditChainBrokenError` is
   * thrown, since a back-dated record would otherwise be erased and the result signed.
   * Undefined, and no anchor, when nothing is old enough.
   */
  prune(before: Date, now: Date): Promise<PruneResult | undefined>;
}

/** What a transaction needs of the audit log to record the events of its change (events/bus.ts). */
export type AuditQueue = Pick<AuditStore, 'enqueue'>;
