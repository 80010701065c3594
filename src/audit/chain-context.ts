import { anchorRecordValid } from './anchor.js';
import { acceptedBreakOf, rekeyAnchorOf, type ChainContext, type PruningAnchor, type RekeyAnchor } from './chain-check.js';
import type { AuditKeys } from './keys.js';
import type { AcceptedBreak } from './store.js';

/*
 * Which anchors verification starts from: only those whose own MAC holds. A forged one is
 * skipped here and reported where the walk reaches it. Storage adapters read the anchor rows
 * (oldest first) and hand them over.
 */

/** An anchor row as stored. */
export interface AnchorRow {
  seq: number;
  id: string;
  at: Date;
  details: Record<string, unknown>;
}

/** The anchor rows of each type, oldest first. */
export interface AnchorRows {
  pruned: AnchorRow[];
  rekeyed: AnchorRow[];
  accepted: AnchorRow[];
}

function pruningAnchorOf(row: AnchorRow): PruningAnchor {
  const { throughSeq, throughHash } = row.details;
  return {
    seq: row.seq,
    id: row.id,
    details: row.details,
    throughSeq: typeof throughSeq === 'number' && Number.isSafeInteger(throughSeq) ? throughSeq : undefined,
    throughHash: typeof throughHash === 'string' ? throughHash : undefined,
  };
}

/** The latest `audit.pruned` anchor whose MAC holds, and a newer forged one when there is one. */
export function pruningAnchors(keys: AuditKeys, rows: readonly AnchorRow[]): Pick<ChainContext, 'pruning' | 'forgedPruning'> {
  const newestFirst = [...rows].reverse();
  const row = newestFirst.find((candidate) => anchorRecordValid(keys.anchor, 'audit.pruned', candidate.details));
  const newest = newestFirst[0];
  const forgedPruning = newest && newest !== row ? { seq: newest.seq, id: newest.id } : undefined;
  return { pruning: row && pruningAnchorOf(row), ...(forgedPruning ? { forgedPruning } : {}) };
}

/**
 * The latest `audit.rekeyed` anchor whose MAC holds: the boundary between legacy and keyed
 * records. Any, with `anyMac`: whether a chain was ever re-keyed.
 */
export function rekeyAnchor(keys: AuditKeys, rows: readonly AnchorRow[], anyMac = false): RekeyAnchor | undefined {
  const valid = rows.filter((row) => anyMac || anchorRecordValid(keys.anchor, 'audit.rekeyed', row.details));
  const row = valid[valid.length - 1];
  return row ? rekeyAnchorOf(row.seq, row.at, row.details) : undefined;
}

/** The breaks operators accepted, by anchors whose MAC holds. */
export function acceptedBreaks(keys: AuditKeys, rows: readonly AnchorRow[]): AcceptedBreak[] {
  return rows.filter((row) => anchorRecordValid(keys.anchor, 'audit.break_accepted', row.details)).flatMap((row) => acceptedBreakOf(row.seq, row.details) ?? []);
}

export function chainContextOf(keys: AuditKeys, rows: AnchorRows): ChainContext {
  return { keys, ...pruningAnchors(keys, rows.pruned), rekey: rekeyAnchor(keys, rows.rekeyed), acceptedBreaks: acceptedBreaks(keys, rows.accepted) };
}
