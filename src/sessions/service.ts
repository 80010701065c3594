import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { EventBus, EventContext } from '../events/bus.js';
import type { RevocationService } from '../revocation/service.js';
import type { Stores, StoreSet } from '../store/stores.js';
import { generateOpaqueToken } from '../tokens/opaque-token.js';
import type { User } from '../users/user.js';
import type { Session } from './session.js';

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
  alsoInTransaction?: (tx: Stores, session: Session) => Promise<void>;
}

export interface OpenedSession {
  session: Session;
  refreshToken: string;
  refreshExpiresAt: Date;
}

export interface SessionServiceOptions {
  stores: StoreSet;
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
  };
}
