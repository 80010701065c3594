import { anchorMacValid, type AnchorFields } from './anchor.js';
import type { AuditKeys } from './keys.js';
import { genesisHash, keyedChainHash, legacyChainHash, type AuditRecord, type ChainedAuditRecord } from './record.js';
import type { ChainBreak, ChainVerification } from './store.js';

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
  legacyHeadSeq: number | undefined;
  legacyHeadHash: string | undefined;
}

export interface ChainContext {
  keys: AuditKeys;
  pruning: PruningAnchor | undefined;
  /**
   * The first `audit.rekeyed` anchor; undefined for a chain keyed from its start. `legacyOnly`
   * checks every record as legacy (re-keying verifies the chain it is about to anchor).
   */
  rekey: RekeyAnchor | 'legacyOnly' | undefined;
}

export function rekeyAnchorOf(seq: number, details: Record<string, unknown>): RekeyAnchor {
  const { legacyHeadSeq, legacyHeadHash } = details;
  return {
    seq,
    legacyHeadSeq: typeof legacyHeadSeq === 'number' && Number.isSafeInteger(legacyHeadSeq) ? legacyHeadSeq : undefined,
    legacyHeadHash: typeof legacyHeadHash === 'string' ? legacyHeadHash : undefined,
  };
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
      if (!linked) return at('head_removed');
    } else if (record.prevHash !== previous.hash) {
      return at('link_broken');
    }
    const content = chainContent(record);
    const expected = record.seq < legacyBefore ? legacyChainHash(record.prevHash, content) : keyedChainHash(keys.chain, record.prevHash, content);
    if (expected !== record.hash) return at('hash_mismatch');
    // The re-keying anchor is keyed, so what it says of the legacy head is Tessera's word.
    if (rekey !== 'legacyOnly' && record.seq === rekey?.seq && previous && (previous.seq !== rekey.legacyHeadSeq || previous.hash !== rekey.legacyHeadHash)) {
      return at('anchor_forged');
    }
    return undefined;
  }

  return {
    next(record) {
      if (broken) return broken;
      broken = firstBreak(record);
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
      };
    },
  };
}
