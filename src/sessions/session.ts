export interface Session {
  id: string;
  userId: string;
  deviceName: string | null;
  deviceFingerprint: string | null;
  ip: string | null;
  userAgent: string | null;
  /** Authentication methods of the sign-in that opened it (RFC 8176), e.g. ["pwd"]. */
  amr: string[];
  createdAt: Date;
  lastActiveAt: Date;
  /** Absolute end (TESSERA_SESSION_MAX_AGE after creation); refreshes never extend it. */
  expiresAt: Date;
  revokedAt: Date | null;
  revokeReason: string | null;
}

export type NewSession = Omit<Session, 'revokedAt' | 'revokeReason' | 'lastActiveAt'>;

/**
 * Not revoked, not past its absolute end, and (when `idleTtlMs` is given) used within the idle
 * window: past TESSERA_REFRESH_TTL without a refresh its refresh token has expired too.
 */
export function isSessionActive(session: Session, now: number, idleTtlMs?: number): boolean {
  return (
    session.revokedAt === null &&
    session.expiresAt.getTime() > now &&
    (idleTtlMs === undefined || session.lastActiveAt.getTime() + idleTtlMs > now)
  );
}
