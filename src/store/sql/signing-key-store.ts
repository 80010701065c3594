import type { SigningAlg } from '../../config/schema.js';
import type { PublicJwk, SigningKeyRecord, SigningKeyStatus } from '../../keys/signing-key.js';
import type { SigningKeyStore } from '../../keys/store.js';
import { isUniqueViolation, type Queryable } from './db.js';

interface SigningKeyRow {
  kid: string;
  alg: SigningAlg;
  public_jwk: PublicJwk;
  private_key_sealed: string;
  status: SigningKeyStatus;
  created_at: Date;
  activated_at: Date | null;
  retired_at: Date | null;
  publish_until: Date | null;
}

const columns = 'kid, alg, public_jwk, private_key_sealed, status, created_at, activated_at, retired_at, publish_until';

function toRecord(row: SigningKeyRow): SigningKeyRecord {
  return {
    kid: row.kid,
    alg: row.alg,
    publicJwk: row.public_jwk,
    privateKeySealed: row.private_key_sealed,
    status: row.status,
    createdAt: row.created_at,
    activatedAt: row.activated_at,
    retiredAt: row.retired_at,
    publishUntil: row.publish_until,
  };
}

export function sqlSigningKeyStore(db: Queryable): SigningKeyStore {
  return {
    async listPublished(now) {
      const rows = await db.query<SigningKeyRow>(
        `SELECT ${columns} FROM signing_keys
         WHERE (status <> 'retired' AND publish_until IS NULL) OR publish_until > $1
         ORDER BY created_at, kid`,
        [now],
      );
      return rows.map(toRecord);
    },

    async listAll(limit) {
      const rows = await db.query<SigningKeyRow>(`SELECT ${columns} FROM signing_keys ORDER BY created_at DESC, coalesce(activated_at, created_at) DESC, kid LIMIT $1`, [limit]);
      return rows.map(toRecord);
    },

    async insertNext(key, unlessActivatedAfter) {
      // The condition is read by the INSERT itself; a concurrent insert still uncommitted is
      // caught by signing_keys_one_next_idx (migration 010), which ON CONFLICT waits for.
      try {
        const rows = await db.query(
          `INSERT INTO signing_keys (kid, alg, public_jwk, private_key_sealed, status, created_at, activated_at)
           SELECT $1, $2, ($3::text)::jsonb, $4, 'next', $5, $6
           WHERE $7::timestamptz IS NULL
              OR NOT EXISTS (SELECT 1 FROM signing_keys WHERE status <> 'retired' AND coalesce(activated_at, created_at) > $7::timestamptz)
           ON CONFLICT DO NOTHING RETURNING kid`,
          [key.kid, key.alg, JSON.stringify(key.publicJwk), key.privateKeySealed, key.createdAt, key.activatedAt, unlessActivatedAfter ?? null],
        );
        return rows.length > 0;
      } catch (error) {
        if (isUniqueViolation(error)) return false;
        throw error;
      }
    },

    async scheduleRetirement(kid, at, publishUntil) {
      await db.query(
        `UPDATE signing_keys SET retired_at = $2, publish_until = $3 WHERE kid = $1 AND status = 'active'`,
        [kid, at, publishUntil],
      );
    },

    async settle(now) {
      await db.query(`UPDATE signing_keys SET status = 'retired' WHERE status = 'active' AND retired_at <= $1`, [now]);
      await db.query(
        `UPDATE signing_keys SET status = 'active'
         WHERE status = 'next' AND activated_at <= $1 AND NOT EXISTS (SELECT 1 FROM signing_keys WHERE status = 'active')`,
        [now],
      );
    },

    async insertActiveIfNone(key) {
      try {
        const rows = await db.query(
          `INSERT INTO signing_keys (kid, alg, public_jwk, private_key_sealed, status, created_at, activated_at)
           VALUES ($1, $2, ($3::text)::jsonb, $4, 'active', $5, $5)
           ON CONFLICT DO NOTHING RETURNING kid`,
          [key.kid, key.alg, JSON.stringify(key.publicJwk), key.privateKeySealed, key.createdAt],
        );
        return rows.length > 0;
      } catch (error) {
        if (isUniqueViolation(error)) return false;
        throw error;
      }
    },

    async retire(kid, at, publishUntil) {
      await db.query(
        `UPDATE signing_keys SET status = 'retired', retired_at = $2, publish_until = $3
         WHERE kid = $1 AND status IN ('active', 'next')`,
        [kid, at, publishUntil],
      );
    },

    async reseal(kid, from, to) {
      const rows = await db.query(
        'UPDATE signing_keys SET private_key_sealed = $3 WHERE kid = $1 AND private_key_sealed = $2 RETURNING kid',
        [kid, from, to],
      );
      return rows.length > 0;
    },
  };
}
