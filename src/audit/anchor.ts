import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { canonicalJson } from './record.js';

/** What a retention anchor asserts: the chain before it was cut after `throughSeq`. */
export interface AnchorFields {
  throughSeq: number;
  throughHash: string;
  removed: number;
  before: string;
}

/**
 * The key that signs retention anchors, derived from TESSERA_SECRET. Anchors were signed before
 * the chain itself was keyed, when someone who could write to the database could delete recent
 * records and add an anchor "explaining" the gap; legacy anchors still rely on this MAC.
 */
export function auditAnchorKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'tessera', 'tessera/audit-anchor/v1', 32));
}

export function anchorMac(key: Buffer, fields: AnchorFields): string {
  const { throughSeq, throughHash, removed, before } = fields;
  return createHmac('sha256', key).update(canonicalJson({ throughSeq, throughHash, removed, before })).digest('base64url');
}

export function anchorMacValid(key: Buffer, fields: Partial<AnchorFields>, mac: unknown): boolean {
  if (typeof mac !== 'string' || typeof fields.throughSeq !== 'number' || typeof fields.throughHash !== 'string') return false;
  if (typeof fields.removed !== 'number' || typeof fields.before !== 'string') return false;
  const expected = Buffer.from(anchorMac(key, fields as AnchorFields));
  const given = Buffer.from(mac);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Records only Tessera writes, each through `append` with a MAC of its own in `details.mac`:
 * the chainer refuses queued rows of these types, and verification checks each one's MAC.
 */
export const anchorTypes: ReadonlySet<string> = new Set(['audit.pruned', 'audit.rekeyed', 'audit.break_accepted', 'audit.pending_rejected']);

/** The MAC of a re-keying or break-accepting anchor: over its type and every detail but `mac`. */
export function signedAnchorMac(key: Buffer, type: string, details: Record<string, unknown>): string {
  const { mac: _mac, ...fields } = details;
  return createHmac('sha256', key).update(`tessera-audit-anchor/${type}/v1\n${canonicalJson(fields)}`).digest('base64url');
}

function macEquals(expected: string, mac: unknown): boolean {
  if (typeof mac !== 'string') return false;
  const want = Buffer.from(expected);
  const given = Buffer.from(mac);
  return want.length === given.length && timingSafeEqual(want, given);
}

/** Whether an anchor record's own MAC holds (false for any other type: never call it for one). */
export function anchorRecordValid(key: Buffer, type: string, details: Record<string, unknown>): boolean {
  if (type === 'audit.pruned') return anchorMacValid(key, details as Partial<AnchorFields>, details.mac);
  if (type === 'audit.rekeyed' || type === 'audit.break_accepted') return macEquals(signedAnchorMac(key, type, details), details.mac);
  // A rejected queued row is marked by the chainer under the chain key; its link is its proof.
  return type === 'audit.pending_rejected';
}
