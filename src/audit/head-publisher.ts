import type { Clock } from '../clock.js';
import { currentSignedHead, type SignedHead } from './head.js';
import type { AuditKeys } from './keys.js';
import { AuditChainBrokenError, type AuditStore, type ChainHead } from './store.js';

export interface AuditHeadPublisherOptions {
  audit: AuditStore;
  keys: AuditKeys;
  clock: Clock;
  /** `TESSERA_AUDIT_HEAD_INTERVAL`. */
  intervalMs: number;
  /**
   * Resolves true for the one instance that publishes this interval (a shared rate limit);
   * the others skip the run.
   */
  claim: () => Promise<boolean>;
  /** Where the head goes: the log today, an audit sink later. */
  publish: (head: SignedHead) => void;
  onError: (error: unknown) => void;
}

export interface AuditHeadPublisher {
  /** One run now: the head published, or undefined (not claimed, or an empty log). */
  publishOnce(): Promise<SignedHead | undefined>;
  /** Stops the timer and waits for a run under way. */
  stop(): Promise<void>;
}

/**
 * The last head published: the stored row (signed under the head key) or the one this process
 * published, whichever is newer. Throws `AuditChainBrokenError` (`published_head_tampered`)
 * when the row is unsigned, or missing or older while this process published a later head: a
 * database writer deleting or rolling it back would otherwise silence the check below.
 */
async function lastPublished(audit: AuditStore, known: ChainHead | undefined): Promise<ChainHead | undefined> {
  const stored = await audit.publishedHead();
  if (stored && !stored.signed) throw new AuditChainBrokenError({ seq: stored.seq, id: stored.hash, reason: 'published_head_tampered' });
  if (known && (!stored || stored.seq < known.seq)) throw new AuditChainBrokenError({ seq: known.seq, id: known.hash, reason: 'published_head_tampered' });
  return stored ? { seq: stored.seq, hash: stored.hash } : known;
}

/**
 * Throws `AuditChainBrokenError` (`head_truncated`, naming the last published head) when `head`
 * does not extend it: it is older, or the record at the published seq now has another hash or
 * is gone while older records remain (retention removes only whole prefixes).
 */
async function assertExtends(audit: AuditStore, head: ChainHead, last: ChainHead | undefined): Promise<void> {
  if (!last) return;
  const cut = () => new AuditChainBrokenError({ seq: last.seq, id: last.hash, reason: 'head_truncated' });
  if (head.seq < last.seq) throw cut();
  const [atLast] = await audit.scan({}, { afterSeq: last.seq - 1, throughSeq: last.seq, limit: 1 });
  if (atLast) {
    if (atLast.hash !== last.hash) throw cut();
    return;
  }
  const [oldest] = await audit.scan({}, { afterSeq: 0, limit: 1 });
  if (!oldest || oldest.seq < last.seq) throw cut();
}

/**
 * Publishes the signed head every interval; the timer never keeps the process alive. A head that
 * does not extend the last one published is not signed: the alarm is raised instead (`onError`
 * gets the `AuditChainBrokenError`), every interval until the chain extends it again.
 */
export function startAuditHeadPublisher(options: AuditHeadPublisherOptions): AuditHeadPublisher {
  let running: Promise<SignedHead | undefined> | undefined;
  // Never goes backwards, whatever the database says later.
  let published: ChainHead | undefined;

  function publishOnce(): Promise<SignedHead | undefined> {
    running ??= (async () => {
      try {
        if (!(await options.claim())) return undefined;
        const head = await currentSignedHead(options.audit, options.keys, options.clock.now());
        if (!head) return undefined;
        await assertExtends(options.audit, head, await lastPublished(options.audit, published));
        options.publish(head);
        published = { seq: head.seq, hash: head.hash };
        await options.audit.notePublishedHead(published);
        return head;
      } finally {
        running = undefined;
      }
    })();
    return running;
  }

  const timer = setInterval(() => {
    publishOnce().catch(options.onError);
  }, options.intervalMs);
  timer.unref();

  return {
    publishOnce,
    async stop() {
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
