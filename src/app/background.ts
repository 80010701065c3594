import type { Logger } from 'pino';
import type { ChainCheckpoint } from '../audit/chain-alarm.js';
import type { AuditKeys } from '../audit/keys.js';
import { startAuditHeadPublisher, type AuditHeadPublisher } from '../audit/head-publisher.js';
import { createAuditChainer, type AuditChainer } from '../audit/chainer.js';
import { AuditChainBrokenError, type ChainBreak } from '../audit/store.js';
import { startAuditRetention, type AuditRetention } from '../audit/retention.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/config.js';
import type { EventBus } from '../events/bus.js';
import type { PasswordReset } from '../flows/password-reset.js';
import type { KeyRing } from '../keys/key-ring.js';
import type { KeyRotation } from '../keys/rotation.js';
import { keyReloadIntervalMs } from '../keys/schedule.js';
import { createRowCleanup, type RowCleanup } from '../store/cleanup.js';
import type { HotState } from '../store/hot/hot-state.js';
import type { StoreSet } from '../store/stores.js';

/** How often the outbox retries undelivered messages. */
const outboxIntervalMs = 5_000;

/** How often expired grace-window pairs are erased. */
const sealedSweepIntervalMs = 15_000;

/** How often each instance deletes rows past their clean-up margin (src/store/cleanup.ts). */
const rowCleanupIntervalMs = 10 * 60_000;

export interface BackgroundDeps {
  config: Config;
  clock: Clock;
  logger: Logger | undefined;
  stores: StoreSet;
  hotState: HotState;
  events: EventBus;
  keyRing: KeyRing;
  keyRotation: Pick<KeyRotation, 'rotateIfDue'>;
  keys: AuditKeys;
  passwordReset: PasswordReset;
  /** Raises the incident for a broken audit chain, naming who found it. */
  chainAlarm(broken: ChainBreak, during: ChainCheckpoint): Promise<void>;
}

/** The work every instance does on timers; all timers are unref'd and stopped by `stop`. */
export interface Background {
  /** Moves recorded events into the hash chain; `flush` before reading the log. */
  readonly auditChain: AuditChainer;
  /** Audit retention's timer; `runOnce` for a run now. */
  readonly auditRetention: AuditRetention;
  /** Logs the signed audit head every TESSERA_AUDIT_HEAD_INTERVAL, on one instance. */
  readonly auditHead: AuditHeadPublisher;
  /** Deletes expired outbox, reset-token, session and refresh-token rows (also on a timer). */
  readonly rowCleanup: RowCleanup;
  stop(): Promise<void>;
}

export function startBackground(deps: BackgroundDeps): Background {
  const { config, clock, logger, stores, hotState, events, keyRing, passwordReset, chainAlarm } = deps;
  // Other instances may rotate keys, and retired keys leave JWKS when their time is up.
  // Automatic rotation (TESSERA_KEY_ROTATION) on the same tick: of all instances, one rotates.
  const keyReload = setInterval(() => {
    void (async () => {
      try {
        await keyRing.reload();
      } catch (error) {
        logger?.warn({ err: error }, 'signing key reload failed');
        return;
      }
      await deps.keyRotation.rotateIfDue().catch((error: unknown) => logger?.warn({ err: error }, 'automatic signing key rotation failed'));
    })();
  }, keyReloadIntervalMs);
  keyReload.unref();
  // A sealed successor pair is only needed during the grace window: erase it after.
  const sealedSweep = setInterval(() => {
    stores.refreshTokens
      .clearSealedBefore(new Date(clock.now() - config.refreshReuseGraceMs - 1000))
      .catch((error: unknown) => logger?.warn({ err: error }, 'clearing expired grace pairs failed'));
  }, sealedSweepIntervalMs);
  sealedSweep.unref();
  // Retries of the outbox (reset mail): anything due, on every instance (SKIP LOCKED).
  const outboxTimer = setInterval(() => {
    passwordReset.deliver().catch((error: unknown) => logger?.warn({ err: error }, 'outbox delivery failed'));
  }, outboxIntervalMs);
  outboxTimer.unref();
  // Expired rows, on every instance: each delete skips rows another instance holds.
  const rowCleanup = createRowCleanup({ stores, outbox: stores.outbox, clock });
  let sweeping: Promise<unknown> | undefined;
  const cleanupTimer = setInterval(() => {
    sweeping ??= rowCleanup
      .sweep()
      .catch((error: unknown) => logger?.warn({ err: error }, 'row clean-up failed'))
      .finally(() => (sweeping = undefined));
  }, rowCleanupIntervalMs);
  cleanupTimer.unref();
  // Audit retention (TESSERA_AUDIT_RETENTION): shortly after start, then hourly; unref'd timers.
  const auditRetention = startAuditRetention({
    audit: stores.audit,
    clock,
    retentionMs: config.auditRetentionMs,
    events,
    onPruned: (result) => logger?.info({ removed: result.removed, throughSeq: result.throughSeq }, 'expired audit records removed'),
    onRefused: (broken) => chainAlarm(broken, 'retention'),
    onError: (error) => logger?.warn({ err: error }, 'audit retention failed'),
  });
  // One instance per interval: a shared window a little shorter than it, so the next tick is free.
  const headTurn = hotState.rateLimiter('audit-head', 1, Math.floor((config.auditHeadIntervalMs * 0.9) / 1000));
  const auditHead = startAuditHeadPublisher({
    audit: stores.audit,
    keys: deps.keys,
    clock,
    intervalMs: config.auditHeadIntervalMs,
    claim: async () => (await headTurn.consume('head')).allowed,
    // Not `token`: the logger redacts that key, and operators copy this one to --expect-head.
    publish: (head) => logger?.info({ seq: head.seq, hash: head.hash, at: head.at, mac: head.mac, head_token: head.token }, 'audit head'),
    onError: (error) => {
      if (error instanceof AuditChainBrokenError) void chainAlarm(error.broken, 'head').catch(() => undefined);
      else logger?.warn({ err: error }, 'publishing the audit head failed');
    },
  });
  // Recorded events join the hash chain just after their transaction commits (ADR 005).
  const auditChain = createAuditChainer({ audit: stores.audit, logger, onRejected: (broken) => chainAlarm(broken, 'chaining') });
  // Only recorded events leave anything to chain (a sampled-out flood must not schedule runs).
  const stopChaining = events.subscribe((_event, recorded) => {
    if (recorded) auditChain.trigger();
  });

  return {
    auditChain,
    auditRetention,
    auditHead,
    rowCleanup,
    async stop() {
      clearInterval(keyReload);
      clearInterval(sealedSweep);
      clearInterval(outboxTimer);
      clearInterval(cleanupTimer);
      await sweeping;
      await auditRetention.stop();
      await auditHead.stop();
      stopChaining();
      await auditChain.stop();
    },
  };
}
