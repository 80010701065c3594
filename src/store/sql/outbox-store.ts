import type { OutboxMessage, OutboxStore } from '../../outbox/outbox.js';
import type { Db } from './db.js';

interface OutboxRow {
  id: string;
  kind: 'password_reset';
  sealed: string;
  created_at: Date;
  attempts: number;
  next_attempt_at: Date;
}

export function sqlOutboxStore(db: Db): OutboxStore {
  return {
    async enqueue(message) {
      await db.query('INSERT INTO outbox (id, kind, sealed, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $4)', [
        message.id,
        message.kind,
        message.sealed,
        message.createdAt,
      ]);
    },

    async deliverDue(now, limit, deliver, retryAt) {
      let delivered = 0;
      for (let i = 0; i < limit; i += 1) {
        const handled = await db.transaction(async (tx) => {
          const rows = await tx.query<OutboxRow>(
            `SELECT id, kind, sealed, created_at, attempts, next_attempt_at FROM outbox
             WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1
             ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED`,
            [now],
          );
          const row = rows[0];
          if (!row) return false;
          const message: OutboxMessage = {
            id: row.id,
            kind: row.kind,
            sealed: row.sealed,
            createdAt: row.created_at,
            attempts: row.attempts,
            nextAttemptAt: row.next_attempt_at,
          };
          try {
            await deliver(message);
            // Delivered: the sealed body (it holds a reset token) is no longer needed.
            await tx.query(`UPDATE outbox SET delivered_at = $2, attempts = attempts + 1, sealed = '' WHERE id = $1`, [row.id, now]);
            delivered += 1;
          } catch (error) {
            const next = retryAt(row.attempts + 1);
            const reason = error instanceof Error ? error.message.slice(0, 200) : 'delivery failed';
            if (next) {
              await tx.query('UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3 WHERE id = $1', [row.id, next, reason]);
            } else {
              await tx.query(`UPDATE outbox SET attempts = attempts + 1, failed_at = $2, last_error = $3, sealed = '' WHERE id = $1`, [row.id, now, reason]);
            }
          }
          return true;
        });
        if (!handled) break;
      }
      return delivered;
    },
  };
}
