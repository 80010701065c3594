import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { AuthError } from '../errors/auth-error.js';
import type { EventBus, EventContext } from '../events/bus.js';
import type { RevocationService, RevocationTransaction, SessionEndingStores } from '../revocation/service.js';
import type { Transactional } from '../store/unit-of-work.js';
import { generateOpaqueToken } from '../tokens/opaque-token.js';
import type { UserStore } from '../users/store.js';
import type { User } from '../users/user.js';
import { decodeSessionCursor, encodeSessionCursor } from './cursor.js';
import { checkRefreshToken, type RefreshTokenCheck, type RefreshTokenFamily } from './refresh-token-check.js';
import { isSessionActive, type Session } from './session.js';
import type { SessionListing } from './store.js';

export interface DeviceInfo {
  name?: string | undefined;
  fingerprint?: string | undefined;
}

export interface OpenSessionInput {
  user: User;
  amr: string[];
  device: DeviceInfo | undefined;
  ip: string | null;
  userAgent: string | null;
  context?: EventContext;
  /** More of the same change, in the session's transaction (the sign-in's own record). */
  alsoInTransaction?: (tx: RevocationTransaction, session: Session) => Promise<void>;
}

export interface AdminSessionQuery {
  /** Only this user's sessions. */
  userId?: string | undefined;
  /** The `nextCursor` of the page before. */
  cursor?: string | undefined;
  /** 1 to 200; default 50. */
  limit?: number | undefined;
}

export interface AdminSessionPage {
  sessions: SessionListing[];
  /** Where the next page starts; null on the last page. */
  nextCursor: string | null;
}

export interface OpenedSession {
  session: Session;
  refreshToken: string;
  refreshExpiresAt: Date;
}

export interface SessionServiceOptions {
  /** Opening a session may end the user's oldest ones (TESSERA_MAX_SESSIONS_PER_USER). */
  stores: Transactional<SessionEndingStores & { users: UserStore }>;
  clock: Clock;
  revocations: RevocationService;
  events: EventBus;
  refreshTtlMs: number;
  sessionMaxAgeMs: number;
  maxSessionsPerUser: number;
}

export interface SessionService {
  /**
   * Opens a session and its first refresh token in one transaction, then ends the user's oldest
   * sessions beyond TESSERA_MAX_SESSIONS_PER_USER.
   */
  open(input: OpenSessionInput): Promise<OpenedSession>;
  /** The user's sessions that have not ended and were used within TESSERA_REFRESH_TTL, oldest first. */
  listActive(userId: string): Promise<Session[]>;
  /**
   * Ends one of the user's own active sessions. Another user's, an unknown and an ended session
   * are the same 404 `not_found`, so ids of other users' sessions cannot be probed.
   */
  endOwn(userId: string, sessionId: string, context?: EventContext): Promise<void>;
  /**
   * A page of the active sessions of every user (or of `userId`), newest first, for the admin
   * API. 400 `invalid_request` for a cursor this server did not issue or a limit outside 1..200.
   */
  listAll(query: AdminSessionQuery): Promise<AdminSessionPage>;
  /**
   * An admin (`by`) ends any user's active session: its refresh tokens and every access token of
   * it are refused on every instance. Recorded as `session.revoked` (`admin`) and
   * `session.terminated` in the transaction that ends it. An unknown, malformed or ended session
   * is 404 `not_found`; of concurrent calls for one session exactly one succeeds.
   */
  terminate(sessionId: string, by: string, context?: EventContext): Promise<void>;
  /**
   * Checks a presented refresh token without using it (RFC 7009 revocation, RFC 7662
   * introspection): the same check as a rotation, over plain reads instead of locks.
   */
  inspectRefreshToken(presented: unknown): Promise<RefreshTokenCheck>;
}

export function createSessionService(options: SessionServiceOptions): SessionService {
  const { stores, clock } = options;

  return {
    async open({ user, amr, device, ip, userAgent, context, alsoInTransaction }) {
      const now = clock.now();
      const createdAt = new Date(now);
      const expiresAt = new Date(now + options.sessionMaxAgeMs);
      const refreshExpiresAt = new Date(Math.min(now + options.refreshTtlMs, expiresAt.getTime()));
      const refresh = generateOpaqueToken();

      const { session, ended } = await stores.transaction(async (tx) => {
        const session = await tx.sessions.create({
          id: randomUUID(),
          userId: user.id,
          deviceName: device?.name ?? null,
          deviceFingerprint: device?.fingerprint ?? null,
          ip,
          userAgent,
          amr,
          createdAt,
          expiresAt,
        });
        await tx.refreshTokens.insert({
          id: refresh.id,
          sessionId: session.id,
          userId: user.id,
          secretHash: refresh.secretHash,
          createdAt,
          expiresAt: refreshExpiresAt,
        });
        // The new session counts against the limit: keep it and the newest others.
        const excess = await tx.sessions.listExcessByUser(user.id, createdAt, options.maxSessionsPerUser - 1, session.id);
        const ended = [];
        for (const old of excess) {
          await tx.sessions.lockById(old.id);
          ended.push(...(await options.revocations.revokeSessionIn(tx, old, 'session_limit', now, context)));
        }
        await options.events.emitIn(tx, 'session.created', { userId: user.id, sessionId: session.id, deviceName: session.deviceName }, context);
        await alsoInTransaction?.(tx, session);
        return { session, ended };
      });
      await options.revocations.announce(ended);
      return { session, refreshToken: refresh.token, refreshExpiresAt };
    },

    async listActive(userId) {
      const now = clock.now();
      return stores.sessions.listActiveByUser(userId, new Date(now), new Date(now - options.refreshTtlMs));
    },

    async endOwn(userId, sessionId, context) {
      const session = await stores.sessions.findById(sessionId);
      if (!session || session.userId !== userId || !isSessionActive(session, clock.now(), options.refreshTtlMs)) {
        throw new AuthError('not_found', { description: 'No such session.' });
      }
      await options.revocations.revokeSession(session.id, 'ended_by_user', context);
    },

    async listAll({ userId, cursor, limit = 50 }) {
      if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new AuthError('invalid_request', { description: 'limit must be 1 to 200.' });
      const after = cursor === undefined ? undefined : decodeSessionCursor(cursor);
      const now = clock.now();
      const found = await stores.sessions.listActive({ now: new Date(now), idleSince: new Date(now - options.refreshTtlMs), userId, after, limit: limit + 1 });
      const sessions = found.slice(0, limit);
      return { sessions, nextCursor: found.length > limit ? encodeSessionCursor(sessions[sessions.length - 1]!.session) : null };
    },

    async terminate(sessionId, by, context) {
      const now = clock.now();
      const ended = await stores.transaction(async (tx) => {
        const session = await tx.sessions.lockById(sessionId);
        if (!session || !isSessionActive(session, now, options.refreshTtlMs)) return undefined;
        const pending = await options.revocations.revokeSessionIn(tx, session, 'admin', now, context);
        await options.events.emitIn(tx, 'session.terminated', { userId: session.userId, sessionId: session.id, by }, context);
        return pending;
      });
      if (!ended) throw new AuthError('not_found', { description: 'No such session.' });
      await options.revocations.announce(ended);
    },

    inspectRefreshToken(presented) {
      return checkRefreshToken(presented, readFamily, clock.now());
    },
  };

  async function readFamily(id: string): Promise<RefreshTokenFamily | undefined> {
    const token = await stores.refreshTokens.findById(id);
    if (!token) return undefined;
    const [session, user] = await Promise.all([stores.sessions.findById(token.sessionId), stores.users.findById(token.userId)]);
    return session && user ? { token, session, user } : undefined;
  }
}
