import type { NewSession, Session } from '../../sessions/session.js';
import type { SessionStore } from '../../sessions/store.js';
import type { Queryable } from './db.js';
import { isUuid } from './uuid.js';

export interface SessionRow {
  id: string;
  user_id: string;
  device_name: string | null;
  device_fingerprint: string | null;
  ip: string | null;
  user_agent: string | null;
  amr: string[];
  created_at: Date;
  last_active_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
  revoke_reason: string | null;
}

export const sessionColumns =
  'id, user_id, device_name, device_fingerprint, ip, user_agent, amr, created_at, last_active_at, expires_at, revoked_at, revoke_reason';

const qualifiedSessionColumns = sessionColumns
  .split(', ')
  .map((column) => `s.${column}`)
  .join(', ');

export function toSession(row: SessionRow): Session {
  return {
    id: row.id,
    userId: row.user_id,
    deviceName: row.device_name,
    deviceFingerprint: row.device_fingerprint,
    ip: row.ip,
    userAgent: row.user_agent,
    amr: row.amr,
    createdAt: row.created_at,
    lastActiveAt: row.last_active_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    revokeReason: row.revoke_reason,
  };
}

export function sqlSessionStore(db: Queryable): SessionStore {
  return {
    async create(session: NewSession) {
      const rows = await db.query<SessionRow>(
        `INSERT INTO sessions (id, user_id, device_name, device_fingerprint, ip, user_agent, amr, created_at, last_active_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) RETURNING ${sessionColumns}`,
        [
          session.id,
          session.userId,
          session.deviceName,
          session.deviceFingerprint,
          session.ip,
          session.userAgent,
          session.amr,
          session.createdAt,
          session.expiresAt,
        ],
      );
      return toSession(rows[0]!);
    },

    async findById(id) {
      if (!isUuid(id)) return undefined;
      const rows = await db.query<SessionRow>(`SELECT ${sessionColumns} FROM sessions WHERE id = $1`, [id]);
      return rows[0] ? toSession(rows[0]) : undefined;
    },

    async lockById(id) {
      if (!isUuid(id)) return undefined;
      const rows = await db.query<SessionRow>(`SELECT ${sessionColumns} FROM sessions WHERE id = $1 FOR UPDATE`, [id]);
      return rows[0] ? toSession(rows[0]) : undefined;
    },

    async countActive(now, idleSince) {
      const rows = await db.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM sessions
         WHERE revoked_at IS NULL AND expires_at > $1 AND ($2::timestamptz IS NULL OR last_active_at > $2)`,
        [now, idleSince ?? null],
      );
      return Number(rows[0]?.n ?? 0);
    },

    async listActiveByUser(userId, now, idleSince) {
      if (!isUuid(userId)) return [];
      const rows = await db.query<SessionRow>(
        `SELECT ${sessionColumns} FROM sessions
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 AND ($3::timestamptz IS NULL OR last_active_at > $3)
         ORDER BY created_at, id`,
        [userId, now, idleSince ?? null],
      );
      return rows.map(toSession);
    },

    async listActive({ now, idleSince, userId, after, limit }) {
      if (userId !== undefined && !isUuid(userId)) return [];
      // Timestamps are written from JS dates (milliseconds), so the cursor's instant is exact.
      const rows = await db.query<SessionRow & { username: string }>(
        `SELECT ${qualifiedSessionColumns}, u.username FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.revoked_at IS NULL AND s.expires_at > $1 AND s.last_active_at > $2
           AND ($3::uuid IS NULL OR s.user_id = $3::uuid)
           AND ($4::timestamptz IS NULL OR (s.created_at, s.id) < ($4::timestamptz, $5::uuid))
         ORDER BY s.created_at DESC, s.id DESC LIMIT $6`,
        [now, idleSince, userId ?? null, after?.createdAt ?? null, after?.id ?? null, limit],
      );
      return rows.map((row) => ({ session: toSession(row), username: row.username }));
    },

    async listExcessByUser(userId, now, keep, except) {
      if (!isUuid(userId) || !isUuid(except)) return [];
      const rows = await db.query<SessionRow>(
        `SELECT ${sessionColumns} FROM sessions
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 AND id <> $4
         ORDER BY created_at DESC, id DESC OFFSET $3`,
        [userId, now, keep, except],
      );
      return rows.map(toSession).reverse();
    },

    async revoke(id, at, reason) {
      if (!isUuid(id)) return false;
      const rows = await db.query(
        'UPDATE sessions SET revoked_at = $2, revoke_reason = $3 WHERE id = $1 AND revoked_at IS NULL RETURNING id',
        [id, at, reason],
      );
      return rows.length > 0;
    },

    async deleteExpiredBefore(before, limit) {
      const rows = await db.query(
        `DELETE FROM sessions WHERE id IN (
           SELECT s.id FROM sessions s
           WHERE s.expires_at < $1 AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.session_id = s.id)
           ORDER BY s.expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING id`,
        [before, limit],
      );
      return rows.length;
    },
  };
}
