import type { Revocation, RevocationStore } from '../../revocation/revocation.js';
import type { Queryable } from './db.js';

interface RevocationRow {
  kind: Revocation['kind'];
  subject: string;
  at: Date;
  expires_at: Date;
}

export function sqlRevocationStore(db: Queryable): RevocationStore {
  return {
    async put(revocation) {
      await db.query(
        `INSERT INTO revocations (kind, subject, at, expires_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (kind, subject) DO UPDATE
           SET at = GREATEST(revocations.at, EXCLUDED.at), expires_at = GREATEST(revocations.expires_at, EXCLUDED.expires_at)`,
        [revocation.kind, revocation.subject, new Date(revocation.at), new Date(revocation.expiresAt)],
      );
    },

    async deleteDisabled(userId) {
      await db.query(`DELETE FROM revocations WHERE kind = 'disabled' AND subject = $1`, [userId]);
    },

    async listActive(now) {
      const rows = await db.query<RevocationRow>(
        'SELECT kind, subject, at, expires_at FROM revocations WHERE expires_at > $1',
        [now],
      );
      return rows.map((row) => ({
        kind: row.kind,
        subject: row.subject,
        at: row.at.getTime(),
        expiresAt: row.expires_at.getTime(),
      }));
    },

    async prune(before) {
      const rows = await db.query('DELETE FROM revocations WHERE expires_at < $1 RETURNING kind', [before]);
      return rows.length;
    },
  };
}
