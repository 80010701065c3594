import { checkExpectedHead, signedHeadValid, type ExpectedHead, type HeadCheck } from './head.js';
import type { AuditKeys } from './keys.js';
import type { AuditStore, ChainBreak, ChainHead, ChainVerification } from './store.js';

/** What each break means, for an operator. */
export const chainBreakExplanations: Record<ChainBreak['reason'], string> = {
  hash_mismatch: 'its contents do not match its MAC (edited or re-hashed, or TESSERA_SECRET is not the secret that wrote the chain)',
  link_broken: 'it does not link to the record before it (a record was removed, inserted or moved)',
  anchor_forged: 'this anchor does not carry a valid signature, or names another legacy head: records may have been deleted and the gap dressed up',
  head_removed: 'it does not link to the start of the chain nor to the latest retention anchor (the oldest records were deleted outside retention)',
  // Raised at work only (chainer, head publisher), never by verification.
  pending_unauthenticated: 'a queued record without a valid MAC was found',
  head_truncated: 'the chain no longer extends the last published head',
  published_head_tampered: 'the stored last published head is missing, not signed by Tessera, or older than one this process published (compare with the head lines in the log)',
};

/** A verification of the chain, and the check of an expected head when one was given. */
export interface AuditVerificationReport {
  result: ChainVerification;
  /** When it ran (ms since the epoch): a caller that joined a running check gets its time. */
  checkedAtMs: number;
  expected: HeadCheck | undefined;
}

export interface AuditVerification {
  /**
   * Chains what is queued, then verifies the whole chain. One run at a time per instance: a call
   * while one runs shares its result (a walk of the whole chain per request would let a few
   * concurrent calls load the database without bound).
   */
  verify(expected?: ExpectedHead): Promise<AuditVerificationReport>;
}

/** The chain's record `seq`, when it has one. */
export async function recordAt(audit: AuditStore, seq: number): Promise<ChainHead | undefined> {
  const [record] = await audit.scan({}, { afterSeq: seq - 1, throughSeq: seq, limit: 1 });
  return record && { seq: record.seq, hash: record.hash };
}

/** Whether a verified chain still holds `expected`; a signed head must carry Tessera's MAC. */
export async function checkHead(audit: AuditStore, keys: AuditKeys, expected: ExpectedHead, result: ChainVerification): Promise<HeadCheck> {
  if (expected.signed && !signedHeadValid(keys, expected)) {
    return { ok: false, message: 'its signature does not verify (forged or altered, or signed under another TESSERA_SECRET)' };
  }
  return checkExpectedHead(expected, result, await recordAt(audit, expected.seq));
}

export function createAuditVerification(deps: { audit: AuditStore; keys: AuditKeys; flush: () => Promise<void>; now: () => number }): AuditVerification {
  let running: Promise<{ result: ChainVerification; checkedAtMs: number }> | undefined;
  const run = () =>
    (running ??= (async () => {
      const checkedAtMs = deps.now();
      await deps.flush();
      return { result: await deps.audit.verify(), checkedAtMs };
    })().finally(() => {
      running = undefined;
    }));
  return {
    async verify(expected) {
      const { result, checkedAtMs } = await run();
      const check = expected && !result.broken ? await checkHead(deps.audit, deps.keys, expected, result) : undefined;
      return { result, checkedAtMs, expected: check };
    },
  };
}
