import { hkdfSync } from 'node:crypto';
import { auditAnchorKey } from './anchor.js';

/** The audit log's keys, each of its own purpose, all derived from TESSERA_SECRET. */
export interface AuditKeys {
  /** Links the chain: every record's hash is an HMAC under it. */
  chain: Buffer;
  /** Signs retention anchors (kept from before the chain was keyed; audit/anchor.ts). */
  anchor: Buffer;
  /** Signs the published head (audit/head.ts), so a copy kept elsewhere cannot be forged. */
  head: Buffer;
  /** Authenticates records queued in `audit_pending` until they are chained. */
  pending: Buffer;
}

function derive(secret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'tessera', `tessera/${purpose}/v1`, 32));
}

export function auditKeys(secret: string): AuditKeys {
  return { chain: derive(secret, 'audit-chain'), anchor: auditAnchorKey(secret), head: derive(secret, 'audit-head'), pending: derive(secret, 'audit-pending') };
}
