import type { Logger } from 'pino';
import type { AuditStore, ChainBreak } from './store.js';

export interface AuditChainer {
  /** Asks for a chaining run soon (coalesced with one under way). */
  trigger(): void;
  /** Resolves once every record committed before the call is in the chain. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

/** Records moved per transaction. */
const batchSize = 500;

/** Consecutive failed runs after which chaining is reported as stuck. */
const stuckAfter = 3;

/**
 * Moves pending audit records into the hash chain (ADR 005): after every recorded event (the bus
 * calls `trigger` once the event's transaction committed), and every `intervalMs` for records
 * another instance, or a process that died, left pending. Any instance may run it; the chain
 * lock serialises them.
 */
export function createAuditChainer(options: {
  audit: AuditStore;
  logger?: Logger | undefined;
  intervalMs?: number;
  /** How long a trigger waits, gathering more records into one batch (default 100 ms). */
  gatherMs?: number;
  /** A queued row that was not Tessera's (ADR 007): marked in the chain; raise the alarm. */
  onRejected?: (broken: ChainBreak) => Promise<void>;
}): AuditChainer {
  let running: Promise<void> | undefined;
  let scheduled: NodeJS.Timeout | undefined;
  let again = false;
  let stopped = false;
  let failures = 0;

  async function drain(): Promise<void> {
    do {
      again = false;
      for (;;) {
        const { moved, rejected } = await options.audit.chainPending(batchSize);
        for (const broken of rejected) await options.onRejected?.(broken);
        if (moved < batchSize) break;
      }
    } while (again && !stopped);
  }

  function run(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = drain()
      .then(() => {
        failures = 0;
      })
      .catch((error: unknown) => {
        failures += 1;
        // Once is a hiccup; repeated, records are piling up unchained: an error an operator sees.
        if (failures >= stuckAfter) options.logger?.error({ err: error, failures }, 'audit chaining keeps failing: records stay queued and unverified');
        else options.logger?.warn({ err: error }, 'audit chaining failed; retried shortly');
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  const timer = setInterval(() => void run(), options.intervalMs ?? 1000);
  timer.unref();

  return {
    trigger() {
      // Under load one run per few dozen records, not one per record: each run has a fixed cost
      // (lock, two statements, a commit) that a bigger batch shares.
      if (scheduled || stopped) return;
      scheduled = setTimeout(() => {
        scheduled = undefined;
        void run();
      }, options.gatherMs ?? 100);
      scheduled.unref();
    },
    async flush() {
      // A run under way may have read the pending rows before ours committed: run once more.
      if (running) await running;
      await run();
      if (running) await running;
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      clearTimeout(scheduled);
      await running;
    },
  };
}
