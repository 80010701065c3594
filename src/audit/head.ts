import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AuditKeys } from './keys.js';
import { keyedChainHash } from './record.js';
import { AuditChainBrokenError, type AuditStore, type ChainHead, type ChainVerification } from './store.js';

/**
 * The chain's head as Tessera vouches for it at a time: kept outside the database (the log, later
 * an audit sink), it shows whether the newest records were later cut off or rewritten.
 */
export interface SignedHead extends ChainHead {
  /** When it was signed, ISO-8601. */
  at: string;
  /** HMAC-SHA256 under the head key over seq, hash and time (base64url). */
  mac: string;
  /** `seq:hash:ms:mac`, the form `tessera audit verify --expect-head` takes. */
  token: string;
}

function headMac(key: Buffer, seq: number, hash: string, atMs: number): string {
  return createHmac('sha256', key).update(`tessera-audit-head/v1\n${seq}\n${hash}\n${atMs}`).digest('base64url');
}

export function signHead(keys: AuditKeys, head: ChainHead, atMs: number): SignedHead {
  const mac = headMac(keys.head, head.seq, head.hash, atMs);
  return { seq: head.seq, hash: head.hash, at: new Date(atMs).toISOString(), mac, token: `${head.seq}:${head.hash}:${atMs}:${mac}` };
}

/**
 * The signed head now, or undefined for an empty log. The newest record's own MAC is checked
 * first: Tessera never vouches for a record it did not write (`AuditChainBrokenError`).
 */
export async function currentSignedHead(audit: AuditStore, keys: AuditKeys, atMs: number): Promise<SignedHead | undefined> {
  const [newest] = await audit.list({}, { limit: 1 });
  if (!newest) return undefined;
  const { seq, prevHash, hash, ...content } = newest;
  if (keyedChainHash(keys.chain, prevHash, content) !== hash) throw new AuditChainBrokenError({ seq, id: newest.id, reason: 'hash_mismatch' });
  return signHead(keys, { seq, hash }, atMs);
}

/** An `--expect-head` argument: `seq:hash`, or a signed head's token. */
export type ExpectedHead = ChainHead & { signed?: { atMs: number; mac: string } };

/** Undefined for any other form. */
export function parseExpectedHead(text: string): ExpectedHead | undefined {
  const match = /^(\d{1,15}):([0-9a-f]{64})(?::(\d{1,15}):([A-Za-z0-9_-]{43}))?$/.exec(text);
  if (!match) return undefined;
  const head = { seq: Number(match[1]), hash: match[2]! };
  return match[3] === undefined ? head : { ...head, signed: { atMs: Number(match[3]), mac: match[4]! } };
}

/** Whether Tessera, under these keys, signed this head: a forged or altered token fails. */
export function signedHeadValid(keys: AuditKeys, expected: ExpectedHead): boolean {
  if (!expected.signed) return false;
  const want = Buffer.from(headMac(keys.head, expected.seq, expected.hash, expected.signed.atMs));
  const given = Buffer.from(expected.signed.mac);
  return want.length === given.length && timingSafeEqual(want, given);
}

export type HeadCheck = { ok: true; message: string } | { ok: false; message: string };

/**
 * Whether a verified chain still holds a head recorded earlier: record `seq` with exactly that
 * hash. Once retention has removed it, only the latest (signed) anchor can prove it, when it
 * names that very record; otherwise the check fails: a head that cannot be checked never passes.
 * `found` is the chain's record `seq`, when it has one.
 */
export function checkExpectedHead(expected: ChainHead, verification: ChainVerification, found: ChainHead | undefined): HeadCheck {
  const label = `#${expected.seq} ${expected.hash}`;
  if (!verification.head || verification.head.seq < expected.seq) {
    const end = verification.head ? `#${verification.head.seq}` : 'nothing (empty log)';
    return { ok: false, message: `expected head ${label} is missing: the chain ends at ${end}, so its newest records were removed` };
  }
  if (found) {
    return found.hash === expected.hash
      ? { ok: true, message: `expected head ${label} is in the chain` }
      : { ok: false, message: `record #${expected.seq} has hash ${found.hash}, not the expected ${expected.hash}: the chain was rewritten` };
  }
  const { prunedThrough, prunedThroughHash } = verification;
  if (prunedThrough !== undefined && expected.seq <= prunedThrough) {
    if (prunedThrough === expected.seq && prunedThroughHash === expected.hash) {
      return { ok: true, message: `expected head ${label} was removed by retention; the signed anchor names it` };
    }
    return { ok: false, message: `expected head ${label} was removed by retention and cannot be checked (the latest anchor names #${prunedThrough}): check a newer head` };
  }
  return { ok: false, message: `record #${expected.seq} is missing from the chain` };
}
