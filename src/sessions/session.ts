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

export function isSessionActive(session: Session, now: number): boolean {
  return session.revokedAt === null && session.expiresAt.getTime() > now;
}
