import type { Clock } from '../clock.js';
import { currentSignedHead, type SignedHead } from './head.js';
import type { AuditKeys } from './keys.js';
import type { AuditStore } from './store.js';

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

/** Publishes the signed head every interval; the timer never keeps the process alive. */
export function startAuditHeadPublisher(options: AuditHeadPublisherOptions): AuditHeadPublisher {
  let running: Promise<SignedHead | undefined> | undefined;

  function publishOnce(): Promise<SignedHead | undefined> {
    running ??= (async () => {
      try {
        if (!(await options.claim())) return undefined;
        const head = await currentSignedHead(options.audit, options.keys, options.clock.now());
        if (head) options.publish(head);
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
