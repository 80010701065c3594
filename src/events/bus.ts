import type { AuditQueue } from '../audit/store.js';
import type { UnitOfWork } from '../store/unit-of-work.js';

/**
 * The typed catalogue of security events, named `<entity>.<verb>` (docs/events.md). Features
 * emit; audit, metrics, detection and the live stream subscribe. Payloads carry ids, counts and
 * reasons from fixed sets: never a token, password, hash, secret, or a name typed by a client.
 */
export interface SecurityEventPayloads {
  'login.succeeded': { userId: string; sessionId: string };
  /** `userId` only when the name named an account. */
  'login.failed': { reason: LoginFailureReason; userId?: string };
  'session.created': { userId: string; sessionId: string; deviceName?: string | null };
  'session.revoked': { userId: string; sessionId: string; reason: string };
  /** An admin (`by`) ended the session (`DELETE /admin/sessions/:id`), with its `session.revoked`. */
  'session.terminated': { userId: string; sessionId: string; by: string };
  'session.context_changed': { userId: string; sessionId: string; ipChanged: boolean; userAgentChanged: boolean; ended: boolean };
  'refresh_token.rotated': { userId: string; sessionId: string };
  'refresh_token.reused': { userId: string; sessionId: string };
  'token.revoked': { userId: string; sessionId?: string; tokenType: 'access_token' | 'refresh_token' };
  /** A presented access token failed its signature or structure checks: forged or tampered. */
  'token.rejected': { reason: TokenRejectionReason; endpoint: string };
  /** `by`: the admin who created it (POST /admin/users, POST /admin/users/import), or `cli`. */
  'user.created': { userId: string; roles: string[]; via: 'register' | 'admin' | 'bootstrap' | 'import'; by?: string; disabled?: true };
  /**
   * An admin (`by`) changed the account (PATCH /admin/users/:id): the names of the `changes`
   * (`roles`, `permissions`, `email`, `unlock`), and roles and permissions before and after; never the e-mail.
   */
  'user.updated': {
    userId: string;
    by: string;
    changes: string[];
    roles?: string[];
    previousRoles?: string[];
    permissions?: string[];
    previousPermissions?: string[];
  };
  'user.disabled': { userId: string; by: string };
  'user.enabled': { userId: string; by: string };
  'user.deleted': { userId: string; by: string };
  /** An admin (`by`) revoked every session and token of the user (POST /admin/users/:id/revoke-all). */
  'user.signed_out': { userId: string; by: string; sessions: number };
  'user.tokens_revoked': { userId: string; sessions: number; reason: string };
  /**
   * An identifier reached the failure threshold; `userId` when it names an account. `trusted`
   * when it was the own lane of a device token or a known network (docs/adr/006).
   */
  'user.locked': { userId?: string; lockedUntil: number; locks: number; trusted?: 'device' | 'network' };
  'user.unlocked': { userId: string };
  /** An import of users with their password hashes ended (POST /admin/users/import, `tessera users import`): counts only. */
  'users.imported': { by: string; created: number; skipped: number; refused: number };
  'rate_limited': { limiter: string };
  'access.denied': { reason: 'forbidden' | 'insufficient_permissions' | 'not_token_owner' | 'ip_blocked'; userId?: string; endpoint: string };
  'password.changed': { userId: string };
  'password.reset_requested': { userId: string };
  'password.reset': { userId: string };
  'incident.opened': { incidentId: string; incidentType: string; severity: string; subject: string };
  'incident.acknowledged': { incidentId: string; incidentType: string; by: string };
  'incident.resolved': { incidentId: string; incidentType: string; by: string };
  'ip.blocked': { blockedIp: string; until: number; incidentType: string };
  /** A block lifted before its time by an admin (`by`), when resolving the incident `incidentId` or directly. */
  'ip.unblocked': { blockedIp: string; by: string; incidentId?: string };
  /** An admin (`by`) added an allow or deny rule (`expiresAt` in ms, or null); its note is not recorded. */
  'ip_rule.created': { ruleId: string; action: 'allow' | 'deny'; cidr: string; expiresAt: number | null; by: string };
  'ip_rule.deleted': { ruleId: string; action: 'allow' | 'deny'; cidr: string; by: string };
  /** A user made an API key (`expiresAt` in ms, or null); never its name or secret. */
  'api_key.created': { userId: string; keyId: string; permissions: string[]; expiresAt: number | null };
  /** A key was deleted by its owner, or by an admin (`by`). */
  'api_key.revoked': { userId: string; keyId: string; by?: string; reason?: 'password_reset' };
  /** A deleted key was presented with its right secret. */
  'api_key.used_after_revocation': { userId: string; keyId: string };
  /** A new signing key `kid` was published; it signs from `activatesAt` (ms), when `previousKid` stops. `by`: admin id, `cli` or `system`. */
  'key.rotated': { kid: string; alg: string; previousKid: string | null; activatesAt: number; by: string };
  'audit.pruned': { throughSeq: number; throughHash: string; removed: number; before: string };
  /** The chain was keyed; records up to `legacyHeadSeq` keep their unkeyed SHA-256 links. */
  'audit.rekeyed': { legacyHeadSeq: number; legacyHeadHash: string; legacyRecords: number; legacyVerified: boolean; legacyBrokenAt?: number };
  /**
   * Retention or the head publisher found the chain broken and stopped (nothing removed or
   * signed), or the chainer found a queued row that is not Tessera's (marked, not chained as is).
   */
  'audit.chain_broken': { seq: number; recordId: string; reason: string; during: 'retention' | 'head' | 'chaining' };
}

export type LoginFailureReason = 'unknown_user' | 'wrong_password' | 'user_disabled' | 'locked';
export type TokenRejectionReason = 'bad_signature' | 'unknown_key' | 'bad_header' | 'api_key_invalid';

export type SecurityEventType = keyof SecurityEventPayloads;

/** Who caused an event: taken from the request by the HTTP layer. */
export interface EventContext {
  ip?: string | null;
  userAgent?: string | null;
  requestId?: string;
  /**
   * The hot-state key of the account a sign-in attempt named (a digest), for detection rules
   * that count per account. Never recorded.
   */
  accountKey?: string;
}

/** One event; a union discriminated by `type`, so `payload` narrows with it. */
export type SecurityEvent = {
  [T in SecurityEventType]: { type: T; at: number; payload: SecurityEventPayloads[T]; context: EventContext };
}[SecurityEventType];

/**
 * A transaction an event's record can join: its audit queue and its commit hook. A feature that
 * emits inside a transaction lists `audit: AuditQueue` among the stores of that transaction.
 */
export interface EventTransaction extends UnitOfWork {
  audit: AuditQueue;
}

/**
 * Writes an event's audit record: inside `tx` when given (the transaction of the change), else on
 * its own. Sampled-out events are not written. Resolves to whether a record was written.
 */
export type EventRecorder = (event: SecurityEvent, tx: EventTransaction | undefined) => Promise<boolean>;

/**
 * Hears every event after it is durable: its audit record is written and committed (not yet
 * chained). `recorded` is false for an event with no record (sampled out, or no recorder), which a
 * client can cause at will: what only follows the audit log should not wake for it.
 */
export type EventListener = (event: SecurityEvent, recorded: boolean) => void;

export interface EventBus {
  /**
   * An event that changed nothing in SQL (a refused sign-in, a rate limit, a lock in hot
   * state): resolves once its record is written, so the response that follows is never ahead of
   * it. Rejects when the record cannot be written; the request then fails (503), never silently.
   */
  emit<T extends SecurityEventType>(type: T, payload: SecurityEventPayloads[T], context?: EventContext): Promise<void>;
  /**
   * An event describing a change made in `tx`: its record is written in that transaction, and
   * listeners hear it only once the transaction commits.
   */
  emitIn<T extends SecurityEventType>(tx: EventTransaction, type: T, payload: SecurityEventPayloads[T], context?: EventContext): Promise<void>;
  /**
   * An event whose record its change has already written and committed itself: the anchors the
   * audit chain holds (retention's `audit.pruned`), which only the holder of the chain's lock may
   * append, signed and never queued. Listeners hear it as recorded; nothing is written again.
   */
  announce<T extends SecurityEventType>(type: T, payload: SecurityEventPayloads[T], context?: EventContext): void;
  /** Subscribes to every event; returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void;
}

export interface EventBusOptions {
  now: () => number;
  /** None: events are delivered but not recorded (benchmarks of the cost of auditing). */
  recorder?: EventRecorder;
  onListenerError?: (error: unknown) => void;
}

export function createEventBus(options: EventBusOptions): EventBus {
  const listeners = new Set<EventListener>();

  function deliver(event: SecurityEvent, recorded: boolean): void {
    for (const listener of listeners) {
      try {
        listener(event, recorded);
      } catch (error) {
        // A failing subscriber never fails the request that emitted.
        options.onListenerError?.(error);
      }
    }
  }

  function eventOf(type: SecurityEventType, payload: unknown, context: EventContext): SecurityEvent {
    return { type, at: options.now(), payload, context } as SecurityEvent;
  }

  return {
    async emit(type, payload, context = {}) {
      const event = eventOf(type, payload, context);
      const recorded = (await options.recorder?.(event, undefined)) ?? false;
      deliver(event, recorded);
    },
    async emitIn(tx, type, payload, context = {}) {
      const event = eventOf(type, payload, context);
      const recorded = (await options.recorder?.(event, tx)) ?? false;
      tx.afterCommit(() => deliver(event, recorded));
    },
    announce(type, payload, context = {}) {
      deliver(eventOf(type, payload, context), true);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
