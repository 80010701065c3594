import type { Clock } from '../clock.js';
import type { EventBus } from '../events/bus.js';
import { AuditChainBrokenError, type AuditStore, type ChainBreak, type PruneResult } from './store.js';

export interface AuditRetentionOptions {
  audit: AuditStore;
  clock: Clock;
  /** `TESSERA_AUDIT_RETENTION`: records older than this are removed. */
  retentionMs: number;
  /** Hears `audit.pruned` once a run has committed; its record is the run's signed anchor. */
  events?: Pick<EventBus, 'announce'>;
  /** Between runs; default one hour. */
  intervalMs?: number;
  /** Before the first run after start; default 30 s, so start-up is not slowed by it. */
  firstRunDelayMs?: number;
  onPruned?: (result: PruneResult) => void;
  /** The prefix due for removal does not verify: nothing was removed. Awaited by the run. */
  onRefused?: (broken: ChainBreak) => Promise<void>;
  onError?: (error: unknown) => void;
}

export interface AuditRetention {
  /**
   * One run now (a run already under way is awaited instead of overlapped). Undefined when
   * nothing was removed, including when the prefix was broken (reported to `onRefused`).
   */
  runOnce(): Promise<PruneResult | undefined>;
  /** Stops the timers and waits for a run under way, so the database can be closed after. */
  stop(): Promise<void>;
}

/**
 * Removes expired audit records on a timer: once shortly after start, then every interval. Each
 * instance runs it; the append lock serialises them and a run with nothing to remove writes
 * nothing. The timers never keep the process alive.
 */
export function startAuditRetention(options: AuditRetentionOptions): AuditRetention {
  const intervalMs = options.intervalMs ?? 60 * 60 * 1000;
  let running: Promise<PruneResult | undefined> | undefined;

  function runOnce(): Promise<PruneResult | undefined> {
    running ??= (async () => {
      try {
        const now = options.clock.now();
        const before = new Date(now - options.retentionMs);
        let result: PruneResult | undefined;
        try {
          result = await options.audit.prune(before, new Date(now));
        } catch (error) {
          if (!(error instanceof AuditChainBrokenError)) throw error;
          await options.onRefused?.(error.broken);
          return undefined;
        }
        if (result) {
          const { throughSeq, throughHash, removed } = result;
          options.events?.announce('audit.pruned', { throughSeq, throughHash, removed, before: before.toISOString() });
          options.onPruned?.(result);
        }
        return result;
      } finally {
        running = undefined;
      }
    })();
    return running;
  }

  const run = () => {
    runOnce().catch((error: unknown) => options.onError?.(error));
  };
  const first = setTimeout(run, options.firstRunDelayMs ?? 30_000);
  first.unref();
  const every = setInterval(run, intervalMs);
  every.unref();

  return {
    runOnce,
    async stop() {
      clearTimeout(first);
      clearInterval(every);
      await running?.catch(() => undefined);
    },
  };
}
