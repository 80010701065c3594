import type { ResetTokenStore } from '../../passwords/reset-token-store.js';
import type { Queryable } from './db.js';
import { isUuid } from './uuid.js';

const idPattern = /^[A-Za-z0-9_-]{22}$/;

export function sqlResetTokenStore(db: Queryable): ResetTokenStore {
  return {
    async insert(token) {
      if (!isUuid(token.userId)) throw new Error('invalid user id');
      await db.query(
        'INSERT INTO password_reset_tokens (id, user_id, secret_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)',
        [token.id, token.userId, token.secretHash, token.createdAt, token.expiresAt],
      );
    },
    async findById(id) {
      if (!idPattern.test(id)) return undefined;
      const rows = await db.query<{ id: string; user_id: string; secret_hash: string; created_at: Date; expires_at: Date; used_at: Date | null }>(
        'SELECT id, user_id, secret_hash, created_at, expires_at, used_at FROM password_reset_tokens WHERE id = $1',
        [id],
      );
      const row = rows[0];
      return row
        ? { id: row.id, userId: row.user_id, secretHash: row.secret_hash, createdAt: row.created_at, expiresAt: row.expires_at, usedAt: row.used_at }
        : undefined;
    },
    async consume(id, now) {
      const rows = await db.query(
        'UPDATE password_reset_tokens SET used_at = $2 WHERE id = $1 AND used_at IS NULL AND expires_at > $2 RETURNING id',
        [id, now],
      );
      return rows.length > 0;
    },
    async endUnusedForUser(userId) {
      if (!isUuid(userId)) return 0;
      const rows = await db.query('DELETE FROM password_reset_tokens WHERE user_id = $1 AND used_at IS NULL RETURNING id', [userId]);
      return rows.length;
    },
    async deleteExpiredBefore(before, limit) {
      const rows = await db.query(
        `DELETE FROM password_reset_tokens WHERE id IN (
           SELECT id FROM password_reset_tokens WHERE expires_at < $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING id`,
        [before, limit],
      );
      return rows.length;
    },
  };
}
