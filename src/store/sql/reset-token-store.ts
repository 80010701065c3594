import type { Queryable } from './db.js';
import { isUuid } from './uuid.js';

export interface ResetTokenRecord {
  id: string;
  userId: string;
  secretHash: string;
  createdAt: Date;
  expiresAt: Date;
  usedAt: Date | null;
}

/** Persistence of password-reset tokens (hashes only). */
export interface ResetTokenStore {
  insert(token: Omit<ResetTokenRecord, 'usedAt'>): Promise<void>;
  findById(id: string): Promise<ResetTokenRecord | undefined>;
  /** Marks the token used if it is unused and unexpired at `now`; true for exactly one caller. */
  consume(id: string, now: Date): Promise<boolean>;
}

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
  };
}
