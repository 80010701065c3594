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
