import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { EventBus, EventContext } from '../events/bus.js';
import type { AuditQueue } from '../audit/store.js';
import type { RefreshTokenStore } from '../sessions/refresh-token-store.js';
import type { SessionStore } from '../sessions/store.js';
import type { Transactional, UnitOfWork } from '../store/unit-of-work.js';
import type { UserStore } from '../users/store.js';
import type { Revocation, RevocationChange, RevocationFanOut, RevocationStore } from './revocation.js';
import { RevocationCache, type RevocationSubject, type RevokedReason } from './revocation-cache.js';

/** What ending a session writes: `revokeSessionIn` joins the caller's transaction over them. */
export interface SessionEndingStores {
  sessions: SessionStore;
  refreshTokens: RefreshTokenStore;
  revocations: RevocationStore;
  audit: AuditQueue;
}

export type RevocationTransaction = SessionEndingStores & UnitOfWork;

export interface RevocationServiceOptions {
  stores: Transactional<SessionEndingStores & { users: UserStore }>;
  hotState: RevocationFanOut;
  events: EventBus;
  clock: Clock;
  /** How long any access token can live (TESSERA_ACCESS_TTL): revocations are kept that long. */
  accessTtlMs: number;
  /** Verification leeway, added to every revocation's life. */
  leewayMs: number;
  /** Full re-read of the durable record, in case a fan-out message was lost. */
  resyncIntervalMs?: number;
  logger?: Logger;
}

/** What a transaction revoked; announced to every instance once it commits. */
export type PendingRevocations = Revocation[];

export interface RevocationService {
  /** Loads the durable record and subscribes to the fan-out. */
  start(): Promise<void>;
  stop(): void;
  /** Why an access token is revoked, or undefined. In-process, no I/O. */
  check(token: RevocationSubject): RevokedReason | undefined;
  /** Adds one access token to the denylist until its `exp` (seconds). */
  revokeAccessToken(token: { jti: string; exp: number; sub: string; sid: string }, context?: EventContext): Promise<void>;
  /** Ends a session: its refresh tokens and every access token of it. False if it was not active. */
  revokeSession(sessionId: string, reason: string, context?: EventContext): Promise<boolean>;
  /** RFC 7009 for a refresh token: ends its session, recorded as `token.revoked` and `session.revoked`. */
  revokeRefreshToken(owner: { userId: string; sessionId: string }, context?: EventContext): Promise<void>;
  /** Ends every session of a user and refuses every token issued before now. Returns how many sessions ended. */
  revokeAllForUser(userId: string, reason: string, context?: EventContext): Promise<number>;
  /** Disables or enables a user; a disabled user's tokens are refused at once. */
  setUserDisabled(userId: string, disabled: boolean, context?: EventContext): Promise<boolean>;
  /**
   * Inside a transaction: ends a session, records the revocation durably and its
   * `session.revoked` event. Returns what to `announce` after the commit.
   */
  revokeSessionIn(
    tx: RevocationTransaction,
    session: { id: string; userId: string },
    reason: string,
    at: number,
    context?: EventContext,
  ): Promise<PendingRevocations>;
  /**
   * Inside a transaction: disables the user, ends every session and refuses every token issued
   * before (the admin API joins it to its last-admin check). Returns what to `announce` after the
   * commit, or undefined when there is no such user.
   */
  disableUserIn(tx: RevocationTransaction & { users: UserStore }, userId: string, at: number, context?: EventContext): Promise<PendingRevocations | undefined>;
  /**
   * Inside a transaction: enables the user again and lifts the refusal of its new tokens (tokens
   * issued before the disable stay refused). False when there is no such user. After the commit,
   * `announceEnabled`.
   */
  enableUserIn(tx: RevocationTransaction & { users: UserStore }, userId: string, at: number): Promise<boolean>;
  /** Tells every instance that a committed `enableUserIn` lifted the user's refusal. */
  announceEnabled(userId: string): Promise<void>;
  /** Applies committed revocations here and fans them out to every instance. */
  announce(revocations: PendingRevocations): Promise<void>;
  /**
   * Inside a transaction: records an API key's revocation (the key row is the caller's), so every
   * instance and stream subscriber refuses it at once. Returns what to `announce` after the commit.
   */
  revokeApiKeyIn(tx: Pick<RevocationTransaction, 'revocations'>, keyId: string, at: number): Promise<PendingRevocations>;
  /** Whether an API key's revocation is known here. In-process, no I/O. */
  isApiKeyRevoked(keyId: string): boolean;
  /** Whether a user is disabled (or deleted) as far as this process knows. In-process, no I/O. */
  isUserDisabled(userId: string): boolean;
  /**
   * Hears every change to this process's revocation state, whichever way it came (this instance,
   * the fan-out, a resync from SQL), once, and only when it changed something: the revocation
   * stream's feed. Returns the unsubscribe function.
   */
  onChange(listener: (change: RevocationChange) => void): () => void;
  /** Every revocation in force now (a stream's snapshot). */
  entries(): Iterable<Revocation>;
  /** Number of entries in force in this process (metrics). */
  readonly size: number;
}

export function createRevocationService(options: RevocationServiceOptions): RevocationService {
  const { stores, hotState, events, clock, logger } = options;
  const cache = new RevocationCache();
  const lifetime = options.accessTtlMs + options.leewayMs + 1000;
  let unsubscribe: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const listeners = new Set<(change: RevocationChange) => void>();

  /** When (in `changes`) each user's `disabled` entry was last applied here. */
  const disabledSince = new Map<string, number>();

  function apply(change: RevocationChange): void {
    if (!cache.apply(change)) return;
    changes += 1;
    if (change.type === 'enabled') enabledAt.set(change.userId, changes);
    else if (change.revocation.kind === 'disabled') disabledSince.set(change.revocation.subject, changes);
    for (const listener of listeners) {
      try {
        listener(change);
      } catch (error) {
        logger?.error({ err: error }, 'revocation listener failed');
      }
    }
  }

  /** Counts the changes applied, so a resync can tell what happened while it read SQL. */
  let changes = 0;
  /** When (in `changes`) each user was last enabled here. */
  const enabledAt = new Map<string, number>();

  async function resync(): Promise<void> {
    const startedAt = changes;
    const now = clock.now();
    const rows = await stores.revocations.listActive(new Date(now));
    // Entry by entry through apply, so what a lost fan-out message missed reaches the listeners too;
    // but not a `disabled` row read before an enable that was applied meanwhile (it is stale).
    for (const revocation of rows) {
      if (revocation.kind === 'disabled' && (enabledAt.get(revocation.subject) ?? -1) >= startedAt) continue;
      apply({ type: 'revoked', revocation });
    }
    // A `disabled` entry SQL no longer has, and that came before this read: its `enabled` was lost.
    const disabledInSql = new Set(rows.filter((row) => row.kind === 'disabled').map((row) => row.subject));
    for (const held of [...cache.entries(now)]) {
      if (held.kind === 'disabled' && !disabledInSql.has(held.subject) && !(disabledSince.get(held.subject)! >= startedAt)) apply({ type: 'enabled', userId: held.subject });
    }
    if (enabledAt.size > 10_000) enabledAt.clear();
    if (disabledSince.size > 10_000) disabledSince.clear();
    cache.prune(now);
  }

  async function fanOut(changes: RevocationChange[]): Promise<void> {
    for (const change of changes) apply(change);
    try {
      for (const change of changes) await hotState.publish(change);
    } catch (error) {
      // Durable in SQL and applied here; other instances pick it up at their next resync.
      logger?.error({ err: error }, 'revocation fan-out failed');
    }
  }

  async function revokeSessionIn(
    tx: RevocationTransaction,
    session: { id: string; userId: string },
    reason: string,
    at: number,
    context?: EventContext,
  ): Promise<PendingRevocations> {
    const date = new Date(at);
    const ended = await tx.sessions.revoke(session.id, date, reason);
    await tx.refreshTokens.revokeBySession(session.id, date, reason);
    if (!ended) return [];
    const revocation: Revocation = { kind: 'sid', subject: session.id, at, expiresAt: at + lifetime };
    await tx.revocations.put(revocation);
    await events.emitIn(tx, 'session.revoked', { userId: session.userId, sessionId: session.id, reason }, context);
    return [revocation];
  }

  async function disableUserIn(
    tx: RevocationTransaction & { users: UserStore },
    userId: string,
    at: number,
    context?: EventContext,
  ): Promise<PendingRevocations | undefined> {
    // Disabling ends every session and refuses every token issued before (ASVS V7.4.2), so
    // enabling the account again restores sign-in, never the old tokens.
    if (!(await tx.users.setDisabled(userId, true, new Date(at)))) return undefined;
    const all: Revocation[] = [];
    for (const session of await tx.sessions.listActiveByUser(userId, new Date(at))) {
      await tx.sessions.lockById(session.id);
      all.push(...(await revokeSessionIn(tx, session, 'user_disabled', at, context)));
    }
    await tx.users.setTokensRevokedAfter(userId, new Date(at));
    const revoked: Revocation[] = [
      { kind: 'user', subject: userId, at, expiresAt: at + lifetime },
      { kind: 'disabled', subject: userId, at, expiresAt: at + lifetime },
    ];
    for (const revocation of revoked) await tx.revocations.put(revocation);
    return [...all, ...revoked];
  }

  async function enableUserIn(tx: RevocationTransaction & { users: UserStore }, userId: string, at: number): Promise<boolean> {
    if (!(await tx.users.setDisabled(userId, false, new Date(at)))) return false;
    await tx.revocations.deleteDisabled(userId);
    return true;
  }

  async function endSession(sessionId: string, reason: string, context: EventContext | undefined, also?: (tx: RevocationTransaction, session: { id: string; userId: string }) => Promise<void>) {
    const at = clock.now();
    const pending = await stores.transaction(async (tx) => {
      const session = await tx.sessions.lockById(sessionId);
      if (!session) return [];
      const ended = await revokeSessionIn(tx, session, reason, at, context);
      if (ended.length > 0) await also?.(tx, session);
      return ended;
    });
    await service.announce(pending);
    return pending.length > 0;
  }

  const service: RevocationService = {
    async start() {
      // Listen first, then read SQL: merging is monotonic, so overlap is harmless and nothing
      // published in between is missed.
      unsubscribe = hotState.subscribe({
        change: (change) => apply(change),
        resync: () => void resync().catch((error: unknown) => logger?.error({ err: error }, 'revocation resync failed')),
      });
      await resync();
      timer = setInterval(() => {
        resync()
          .then(() => stores.revocations.prune(new Date(clock.now() - 3_600_000)))
          .catch((error: unknown) => logger?.warn({ err: error }, 'revocation resync failed'));
      }, options.resyncIntervalMs ?? 30_000);
      timer.unref();
    },

    stop() {
      unsubscribe?.();
      if (timer) clearInterval(timer);
    },

    check: (token) => cache.check(token, clock.now()),

    isApiKeyRevoked: (keyId) => cache.isApiKeyRevoked(keyId, clock.now()),

    isUserDisabled: (userId) => cache.check({ jti: '', sid: '', sub: userId, iat: Number.POSITIVE_INFINITY }, clock.now()) === 'user_disabled',

    async revokeApiKeyIn(tx, keyId, at) {
      const revocation: Revocation = { kind: 'api_key', subject: keyId, at, expiresAt: at + lifetime };
      await tx.revocations.put(revocation);
      return [revocation];
    },

    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    entries: () => cache.entries(clock.now()),

    get size() {
      return cache.size;
    },

    revokeSessionIn,

    disableUserIn,

    enableUserIn,

    announceEnabled: (userId) => fanOut([{ type: 'enabled', userId }]),

    announce: (revocations) => fanOut(revocations.map((revocation) => ({ type: 'revoked', revocation }))),

    async revokeAccessToken(token, context) {
      const at = clock.now();
      const revocation: Revocation = { kind: 'jti', subject: token.jti, at, expiresAt: token.exp * 1000 + options.leewayMs + 1000 };
      await stores.transaction(async (tx) => {
        await tx.revocations.put(revocation);
        await events.emitIn(tx, 'token.revoked', { userId: token.sub, sessionId: token.sid, tokenType: 'access_token' }, context);
      });
      await service.announce([revocation]);
    },

    revokeSession: (sessionId, reason, context) => endSession(sessionId, reason, context),

    async revokeRefreshToken(owner, context) {
      await endSession(owner.sessionId, 'revoked', context, (tx) =>
        events.emitIn(tx, 'token.revoked', { userId: owner.userId, sessionId: owner.sessionId, tokenType: 'refresh_token' }, context),
      );
    },

    async revokeAllForUser(userId, reason, context) {
      const at = clock.now();
      const pending = await stores.transaction(async (tx) => {
        const sessions = await tx.sessions.listActiveByUser(userId, new Date(at));
        const all: Revocation[] = [];
        for (const session of sessions) {
          await tx.sessions.lockById(session.id);
          all.push(...(await revokeSessionIn(tx, session, reason, at, context)));
        }
        await tx.users.setTokensRevokedAfter(userId, new Date(at));
        const revocation: Revocation = { kind: 'user', subject: userId, at, expiresAt: at + lifetime };
        await tx.revocations.put(revocation);
        await events.emitIn(tx, 'user.tokens_revoked', { userId, sessions: all.length, reason }, context);
        return [...all, revocation];
      });
      await service.announce(pending);
      return pending.filter((revocation) => revocation.kind === 'sid').length;
    },

    async setUserDisabled(userId, disabled, context) {
      const at = clock.now();
      const pending = await stores.transaction(async (tx) => {
        if (disabled) return disableUserIn(tx, userId, at, context);
        return (await enableUserIn(tx, userId, at)) ? [] : undefined;
      });
      if (pending === undefined) return false;
      if (disabled) await service.announce(pending);
      else await fanOut([{ type: 'enabled', userId }]);
      return true;
    },
  };
  return service;
}
