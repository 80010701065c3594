import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { StoreSet } from '../store/stores.js';
import { generateRefreshToken } from '../tokens/refresh-token.js';
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
}

export interface OpenedSession {
  session: Session;
  refreshToken: string;
  refreshExpiresAt: Date;
}

export interface SessionServiceOptions {
  stores: StoreSet;
  clock: Clock;
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
    async open({ user, amr, device, ip, userAgent }) {
      const now = clock.now();
      const createdAt = new Date(now);
      const expiresAt = new Date(now + options.sessionMaxAgeMs);
      const refreshExpiresAt = new Date(Math.min(now + options.refreshTtlMs, expiresAt.getTime()));
      const refresh = generateRefreshToken();

      const session = await stores.transaction(async (tx) => {
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
        const others = (await tx.sessions.listActiveByUser(user.id, createdAt)).filter((s) => s.id !== session.id);
        const excess = Math.max(0, others.length - (options.maxSessionsPerUser - 1));
        for (const old of others.slice(0, excess)) {
          await tx.sessions.revoke(old.id, createdAt, 'session_limit');
          await tx.refreshTokens.revokeBySession(old.id, createdAt);
        }
        return session;
      });
      return { session, refreshToken: refresh.token, refreshExpiresAt };
    },
  };
}
