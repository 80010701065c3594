import type { RefreshTokenRecord, RefreshTokenStore } from '../../sessions/refresh-token-store.js';
import type { Queryable } from './db.js';
import { isUuid } from './uuid.js';
import { sessionColumns, toSession, type SessionRow } from './session-store.js';
import { toUser, userColumns, type UserRow } from './user-store.js';

function prefixed(columns: string, alias: string): string {
  return columns.split(', ').map((column) => `${alias}.${column} AS ${alias}_${column}`).join(', ');
}

function unprefixed<Row>(row: Record<string, unknown>, columns: string, alias: string): Row {
  return Object.fromEntries(columns.split(', ').map((column) => [column, row[`${alias}_${column}`]])) as Row;
}

interface RefreshTokenRow {
  id: string;
  session_id: string;
  user_id: string;
  secret_hash: string;
  created_at: Date;
  expires_at: Date;
  consumed_at: Date | null;
  successor_id: string | null;
  successor_sealed: string | null;
  revoked_at: Date | null;
  revoke_reason: string | null;
}

const columns =
  'id, session_id, user_id, secret_hash, created_at, expires_at, consumed_at, successor_id, successor_sealed, revoked_at, revoke_reason';

const idPattern = /^[A-Za-z0-9_-]{22}$/;

function toRecord(row: RefreshTokenRow): RefreshTokenRecord {
  return {
    id: row.id,
    sessionId: row.session_id,
    userId: row.user_id,
    secretHash: row.secret_hash,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    consumedAt: row.consumed_at,
    successorId: row.successor_id,
    successorSealed: row.successor_sealed,
    revokedAt: row.revoked_at,
    revokeReason: row.revoke_reason,
  };
}

export function sqlRefreshTokenStore(db: Queryable): RefreshTokenStore {
  return {
    async insert(token) {
      await db.query(
        `INSERT INTO refresh_tokens (id, session_id, user_id, secret_hash, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [token.id, token.sessionId, token.userId, token.secretHash, token.createdAt, token.expiresAt],
      );
    },

    async findById(id) {
      if (!idPattern.test(id)) return undefined;
      const rows = await db.query<RefreshTokenRow>(`SELECT ${columns} FROM refresh_tokens WHERE id = $1`, [id]);
      return rows[0] ? toRecord(rows[0]) : undefined;
    },

    async lockForRotation(id) {
      if (!idPattern.test(id)) return undefined;
      // Session first, then token: the order every revocation path takes, so a logout and a
      // refresh of the same session queue instead of deadlocking.
      await db.query('SELECT id FROM sessions WHERE id = (SELECT session_id FROM refresh_tokens WHERE id = $1) FOR UPDATE', [id]);
      const rows = await db.query<Record<string, unknown>>(
        `SELECT ${prefixed(columns, 'r')}, ${prefixed(sessionColumns, 's')}, ${prefixed(userColumns, 'u')}
         FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id JOIN users u ON u.id = r.user_id
         WHERE r.id = $1 FOR UPDATE OF r`,
        [id],
      );
      const row = rows[0];
      if (!row) return undefined;
      return {
        token: toRecord(unprefixed<RefreshTokenRow>(row, columns, 'r')),
        session: toSession(unprefixed<SessionRow>(row, sessionColumns, 's')),
        user: toUser(unprefixed<UserRow>(row, userColumns, 'u')),
      };
    },

    async rotate(id, successor, successorSealed, activity) {
      await db.query(
        `WITH inserted AS (
           INSERT INTO refresh_tokens (id, session_id, user_id, secret_hash, created_at, expires_at)
           VALUES ($2, $3, $4, $5, $6, $7)
         ), consumed AS (
           UPDATE refresh_tokens SET consumed_at = $6, successor_id = $2, successor_sealed = $8 WHERE id = $1
         ), cleared AS (
           UPDATE refresh_tokens SET successor_sealed = NULL WHERE successor_id = $1
         )
         UPDATE sessions SET last_active_at = $6, ip = $9, user_agent = $10 WHERE id = $3`,
        [
          id,
          successor.id,
          successor.sessionId,
          successor.userId,
          successor.secretHash,
          successor.createdAt,
          successor.expiresAt,
          successorSealed,
          activity.ip,
          activity.userAgent,
        ],
      );
    },

    async clearSealedBefore(before) {
      const rows = await db.query(
        'UPDATE refresh_tokens SET successor_sealed = NULL WHERE successor_sealed IS NOT NULL AND consumed_at < $1 RETURNING id',
        [before],
      );
      return rows.length;
    },

    async revokeBySession(sessionId, at, reason = 'session_revoked') {
      if (!isUuid(sessionId)) return 0;
      const rows = await db.query(
        `UPDATE refresh_tokens SET revoked_at = COALESCE(revoked_at, $2), revoke_reason = COALESCE(revoke_reason, $3), successor_sealed = NULL
         WHERE session_id = $1 AND (revoked_at IS NULL OR successor_sealed IS NOT NULL) RETURNING id, (revoked_at = $2) AS newly`,
        [sessionId, at, reason],
      );
      return rows.length;
    },

    async deleteOfSessionsExpiredBefore(before, limit) {
      const rows = await db.query(
        `DELETE FROM refresh_tokens WHERE id IN (
           SELECT r.id FROM sessions s JOIN refresh_tokens r ON r.session_id = s.id
           WHERE s.expires_at < $1
           LIMIT $2 FOR UPDATE OF r SKIP LOCKED)
         RETURNING id`,
        [before, limit],
      );
      return rows.length;
    },
  };
}
