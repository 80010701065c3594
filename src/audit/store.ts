import type { AuditRecord, ChainedAuditRecord } from './record.js';

/** The first record that does not fit the chain, and why. */
export interface ChainBreak {
  seq: number;
  id: string;
  reason: 'hash_mismatch' | 'link_broken';
}

export interface ChainVerification {
  records: number;
  /** Undefined when the whole chain verifies. */
  broken: ChainBreak | undefined;
}

/** The tamper-evident audit log. */
export interface AuditStore {
  /**
   * Appends a record to the hash chain. Concurrent writers are serialised (a transaction-level
   * advisory lock), so each record links to the one inserted just before it. Call it inside the
   * transaction of the change it describes.
   */
  append(record: AuditRecord): Promise<ChainedAuditRecord>;
  /** Walks the chain in insertion order, in batches, and names the first broken record. */
  verify(): Promise<ChainVerification>;
}
