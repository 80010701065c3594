import type { AuditChainer } from './chainer.js';
import type { ChainedAuditRecord } from './record.js';
import type { AuditStore } from './store.js';

/** Records handed to a follower per read. */
export const tailBatchSize = 200;

export interface AuditTail {
  /**
   * Follows the chained log from after `afterSeq`: `deliver` gets every later record once, in
   * sequence order, a batch at a time; the next batch waits until it resolves. Returns the
   * function that stops following.
   */
  follow(afterSeq: number, deliver: (records: ChainedAuditRecord[]) => Promise<void>): () => void;
  /** Something was recorded here: read now rather than at the next poll. */
  wake(): void;
  stop(): void;
}

interface Follower {
  lastSeq: number;
  /** Handling a batch: left out of reads until done, so at most one batch is held per follower. */
  busy: boolean;
  /** A read happened while busy: read again once done. */
  missed: boolean;
  deliver: (records: ChainedAuditRecord[]) => Promise<void>;
}

/**
 * One reader of the audit log shared by every follower (the open event streams). A tick chains
 * what is pending (one flush) and reads once per distinct position: followers that are caught up
 * share one position, so a tick costs one flush and one query however many streams are open.
 * Ticks run every `pollMs` (records of other instances) and when woken; wakes during a tick
 * fold into one more tick, so a burst of events costs at most two.
 */
export function createAuditTail(options: {
  audit: Pick<AuditStore, 'listAfter'>;
  chain: Pick<AuditChainer, 'flush'>;
  pollMs: number;
  onError: (error: unknown) => void;
}): AuditTail {
  const followers = new Set<Follower>();
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let again = false;
  let stopped = false;

  function schedule(ms: number): void {
    clearTimeout(timer);
    timer = undefined;
    if (stopped || followers.size === 0) return;
    timer = setTimeout(() => void tick(), ms);
    timer.unref();
  }

  function hand(follower: Follower, records: ChainedAuditRecord[]): void {
    follower.busy = true;
    follower
      .deliver(records)
      .then(() => {
        follower.lastSeq = records.at(-1)!.seq;
        follower.busy = false;
        if (follower.missed || records.length === tailBatchSize) {
          follower.missed = false;
          wake();
        }
      })
      .catch(options.onError);
  }

  async function readOnce(): Promise<void> {
    const idle: Follower[] = [];
    for (const follower of followers) {
      if (follower.busy) follower.missed = true;
      else idle.push(follower);
    }
    if (idle.length === 0) return;
    await options.chain.flush();
    const byPosition = new Map<number, Follower[]>();
    for (const follower of idle) byPosition.set(follower.lastSeq, [...(byPosition.get(follower.lastSeq) ?? []), follower]);
    for (const [afterSeq, group] of byPosition) {
      const records = await options.audit.listAfter(afterSeq, tailBatchSize);
      if (records.length === 0) continue;
      for (const follower of group) if (followers.has(follower)) hand(follower, records);
    }
  }

  async function tick(): Promise<void> {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        await readOnce();
      } while (again && !stopped);
    } catch (error) {
      // The followers stay; the next poll reads again.
      options.onError(error);
    } finally {
      running = false;
      schedule(options.pollMs);
    }
  }

  function wake(): void {
    if (running) again = true;
    else schedule(0);
  }

  return {
    follow(afterSeq, deliver) {
      const follower: Follower = { lastSeq: afterSeq, busy: false, missed: false, deliver };
      followers.add(follower);
      wake();
      return () => {
        followers.delete(follower);
        if (followers.size === 0) clearTimeout(timer);
      };
    },
    wake,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
