import type { ApiKey } from '../../api-keys/api-key.js';
import type { ApiKeyStore } from '../../api-keys/store.js';
import type { Queryable } from './db.js';
import { isUuid } from './uuid.js';

interface ApiKeyRow {
  id: string;
  user_id: string;
  name: string;
  permissions: string[];
  secret_hash: string;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
  last_used_ip: string | null;
  revoked_at: Date | null;
  revoked_by: string | null;
}

const columns = 'id, user_id, name, permissions, secret_hash, created_at, expires_at, last_used_at, last_used_ip, revoked_at, revoked_by';

function toApiKey(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    userId: row.user_id,
    name: row.name,
    permissions: row.permissions,
    secretHash: row.secret_hash,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    lastUsedIp: row.last_used_ip,
    revokedAt: row.revoked_at,
    revokedBy: row.revoked_by,
  };
}

export function sqlApiKeyStore(db: Queryable): ApiKeyStore {
  return {
    async insert(key) {
      await db.query(
        `INSERT INTO api_keys (${columns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [key.id, key.userId, key.name, key.permissions, key.secretHash, key.createdAt, key.expiresAt, key.lastUsedAt, key.lastUsedIp, key.revokedAt, key.revokedBy],
      );
    },
    async findById(id) {
      if (!isUuid(id)) return undefined;
      const rows = await db.query<ApiKeyRow>(`SELECT ${columns} FROM api_keys WHERE id = $1`, [id]);
      return rows[0] ? toApiKey(rows[0]) : undefined;
    },
    async listByUser(userId) {
      if (!isUuid(userId)) return [];
      const rows = await db.query<ApiKeyRow>(
        `SELECT ${columns} FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id DESC`,
        [userId],
      );
      return rows.map(toApiKey);
    },
    async list({ userId, after, limit }) {
      if (userId !== undefined && !isUuid(userId)) return [];
      // Timestamps are written from JS dates (milliseconds), so the cursor's instant is exact.
      const rows = await db.query<ApiKeyRow>(
        `SELECT ${columns} FROM api_keys
         WHERE revoked_at IS NULL
           AND ($1::uuid IS NULL OR user_id = $1::uuid)
           AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
         ORDER BY created_at DESC, id DESC LIMIT $4`,
        [userId ?? null, after?.createdAt ?? null, after?.id ?? null, limit],
      );
      return rows.map(toApiKey);
    },
    async deleteEndedBefore(before, limit) {
      const rows = await db.query(
        `DELETE FROM api_keys WHERE id IN (
           SELECT id FROM api_keys WHERE revoked_at < $1 OR expires_at < $1
           LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING id`,
        [before, limit],
      );
      return rows.length;
    },
    async revoke(id, at, by, userId) {
      if (!isUuid(id) || (userId !== undefined && !isUuid(userId))) return undefined;
      const rows = await db.query<ApiKeyRow>(
        `UPDATE api_keys SET revoked_at = $2, revoked_by = $3
         WHERE id = $1 AND revoked_at IS NULL AND ($4::uuid IS NULL OR user_id = $4::uuid)
         RETURNING ${columns}`,
        [id, at, by, userId ?? null],
      );
      return rows[0] ? toApiKey(rows[0]) : undefined;
    },
    async touch(id, at, ip, notSince) {
      if (!isUuid(id)) return false;
      const rows = await db.query(
        `UPDATE api_keys SET last_used_at = $2, last_used_ip = $3
         WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $4) RETURNING id`,
        [id, at, ip, notSince],
      );
      return rows.length > 0;
    },
  };
}
