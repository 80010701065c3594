import { anchorMacValid, anchorRecordValid, anchorTypes, type AnchorFields } from './anchor.js';
import type { AuditKeys } from './keys.js';
import { genesisHash, keyedChainHash, legacyChainHash, type AuditRecord, type ChainedAuditRecord } from './record.js';
import type { AcceptedBreak, ChainBreak, ChainVerification } from './store.js';

/*
 * The rules of the audit chain, apart from where its records are stored: storage adapters read
 * rows in sequence order and feed them to a check, one record at a time.
 */

/** What verification needs of the latest `audit.pruned` anchor. */
export interface PruningAnchor {
  seq: number;
  id: string;
  /** The anchor's details, to check its MAC. */
  details: Record<string, unknown>;
  /** Undefined when the anchor's details are not what a prune writes (tampered). */
  throughSeq: number | undefined;
  throughHash: string | undefined;
}

/** The `audit.rekeyed` anchor: records before it are legacy (SHA-256), it and those after keyed. */
export interface RekeyAnchor {
  seq: number;
  at: Date;
  legacyHeadSeq: number | undefined;
  legacyHeadHash: string | undefined;
  forced: boolean;
}

export interface ChainContext {
  keys: AuditKeys;
  pruning: PruningAnchor | undefined;
  /** A newer `audit.pruned` row whose MAC does not hold: named when the start is unexplained. */
  forgedPruning?: { seq: number; id: string };
  /**
   * The latest `audit.rekeyed` anchor whose own MAC holds; undefined for a chain keyed from its
   * start. `legacyOnly` checks every record as legacy (re-keying verifies what it anchors).
   */
  rekey: RekeyAnchor | 'legacyOnly' | undefined;
  /** `audit.break_accepted` anchors whose own MAC holds. */
  acceptedBreaks: AcceptedBreak[];
}

export function rekeyAnchorOf(seq: number, at: Date, details: Record<string, unknown>): RekeyAnchor {
  const { legacyHeadSeq, legacyHeadHash } = details;
  return {
    seq,
    at,
    legacyHeadSeq: typeof legacyHeadSeq === 'number' && Number.isSafeInteger(legacyHeadSeq) ? legacyHeadSeq : undefined,
    legacyHeadHash: typeof legacyHeadHash === 'string' ? legacyHeadHash : undefined,
    forced: details.forced === true,
  };
}

/** The accepted break an `audit.break_accepted` anchor names, or undefined when malformed. */
export function acceptedBreakOf(anchorSeq: number, details: Record<string, unknown>): AcceptedBreak | undefined {
  const { seq, id, reason, prevHash, hash, contentHash, note, previousSeq, previousHash, pruningSeq } = details;
  const texts = [id, reason, prevHash, hash, contentHash];
  if (typeof seq !== 'number' || !texts.every((text) => typeof text === 'string')) return undefined;
  // What it pins around the record; an anchor without these pins nothing and is not honoured.
  const previous = typeof previousSeq === 'number' && typeof previousHash === 'string' ? { seq: previousSeq, hash: previousHash } : previousSeq === null && previousHash === null ? null : undefined;
  if (previous === undefined || !(pruningSeq === null || typeof pruningSeq === 'number')) return undefined;
  return { seq, id: id as string, reason: reason as ChainBreak['reason'], prevHash: prevHash as string, hash: hash as string, contentHash: contentHash as string, previous, pruningSeq, note: typeof note === 'string' ? note : '', anchorSeq };
}

/** What an accepted break pins of its record: every field, so a later edit breaks it again. */
export function recordFingerprint(record: ChainedAuditRecord): string {
  return legacyChainHash(record.prevHash, chainContent(record));
}

/** Strips the chain fields: what the link covers. */
function chainContent(record: ChainedAuditRecord): AuditRecord {
  const { seq: _seq, prevHash: _prev, hash: _hash, ...rest } = record;
  return rest;
}

export interface ChainCheck {
  /** Checks the next record in sequence order; the first break ends the check. */
  next(record: ChainedAuditRecord): ChainBreak | undefined;
  result(): ChainVerification;
}

export function createChainCheck(context: ChainContext): ChainCheck {
  const { keys, pruning, rekey } = context;
  const accepted = new Map(context.acceptedBreaks.map((entry) => [entry.seq, entry]));
  let previous: ChainedAuditRecord | undefined;
  let records = 0;
  let broken: ChainBreak | undefined;
  let oldest: number | undefined;
  const legacyBefore = rekey === 'legacyOnly' ? Number.POSITIVE_INFINITY : (rekey?.seq ?? 0);

  function firstBreak(record: ChainedAuditRecord): ChainBreak | undefined {
    const at = (reason: ChainBreak['reason']): ChainBreak => ({ seq: record.seq, id: record.id, reason });
    if (previous === undefined) {
      // The oldest record: the start of the chain, or the first one retention kept, by an
      // anchor Tessera signed.
      if (pruning && !anchorMacValid(keys.anchor, pruning.details as Partial<AnchorFields>, pruning.details.mac)) {
        return { seq: pruning.seq, id: pruning.id, reason: 'anchor_forged' };
      }
      const linked = pruning
        ? pruning.throughSeq !== undefined && pruning.throughSeq < record.seq && record.prevHash === pruning.throughHash
        : record.prevHash === genesisHash;
      // Unexplained, with a forged anchor claiming to explain it: that anchor is the finding.
      if (!linked) return context.forgedPruning ? { ...context.forgedPruning, reason: 'anchor_forged' } : at('head_removed');
    } else if (record.prevHash !== previous.hash) {
      return at('link_broken');
    }
    const content = chainContent(record);
    // Before an operator's re-key, records of either kind (SHA-256 proves no more than itself).
    const linked = record.seq < legacyBefore ? legacyChainHash(record.prevHash, content) === record.hash || keyedChainHash(keys.chain, record.prevHash, content) === record.hash : keyedChainHash(keys.chain, record.prevHash, content) === record.hash;
    if (!linked) return at('hash_mismatch');
    // An anchor is Tessera's word only with its own MAC: the chain key alone links any record.
    if (anchorTypes.has(record.type) && record.seq >= legacyBefore && !anchorRecordValid(keys.anchor, record.type, record.details)) return at('anchor_forged');
    // The re-keying anchor is keyed, so what it says of the legacy head is Tessera's word.
    if (rekey !== 'legacyOnly' && record.seq === rekey?.seq && previous && (previous.seq !== rekey.legacyHeadSeq || previous.hash !== rekey.legacyHeadHash)) {
      return at('anchor_forged');
    }
    return undefined;
  }

  /**
   * An operator accepted exactly this break of exactly this record (as it was then), with the
   * same record before it (or none) and the same pruning anchor: a later deletion before it breaks
   * again. Its anchor comes after it, so the walk checks that too once it gets there.
   */
  function acceptedHere(record: ChainedAuditRecord, found: ChainBreak): boolean {
    const entry = accepted.get(record.seq);
    if (!entry || found.seq !== record.seq || found.reason === 'anchor_forged' || entry.anchorSeq <= record.seq) return false;
    const sameRecord = entry.id === record.id && entry.prevHash === record.prevHash && entry.hash === record.hash && entry.reason === found.reason && entry.contentHash === recordFingerprint(record);
    if (!sameRecord) return false;
    // Accepted as the oldest record: only while the same pruning anchor (or none) explains the start.
    if (entry.previous === null) return previous === undefined && entry.pruningSeq === (pruning?.seq ?? null);
    const pinned = entry.previous;
    // Retention may have removed the record before it since: then the signed anchor must name it.
    if (previous === undefined) return pruning !== undefined && pruning.throughSeq === pinned.seq && pruning.throughHash === pinned.hash;
    return previous.seq === pinned.seq && previous.hash === pinned.hash;
  }

  return {
    next(record) {
      if (broken) return broken;
      const found = firstBreak(record);
      if (found && !acceptedHere(record, found)) broken = found;
      if (broken) return broken;
      oldest ??= record.seq;
      previous = record;
      records += 1;
      return undefined;
    },
    result() {
      const legacyHead = rekey === 'legacyOnly' ? undefined : rekey?.legacyHeadSeq;
      return {
        records,
        broken,
        head: previous ? { seq: previous.seq, hash: previous.hash } : undefined,
        prunedThrough: pruning?.throughSeq,
        prunedThroughHash: pruning?.throughHash,
        legacyThrough: legacyHead !== undefined && oldest !== undefined && oldest <= legacyHead ? legacyHead : undefined,
        ...(rekey !== 'legacyOnly' && rekey?.forced ? { legacyForced: true } : {}),
        ...(rekey !== 'legacyOnly' && rekey ? { rekeyed: { seq: rekey.seq, at: rekey.at, forced: rekey.forced } } : {}),
        ...(context.acceptedBreaks.length > 0 ? { acceptedBreaks: context.acceptedBreaks } : {}),
      };
    },
  };
}
