import type { OutboxMessage, OutboxStore } from '../../outbox/outbox.js';
import type { Queryable } from './db.js';

interface OutboxRow {
  id: string;
  kind: OutboxMessage['kind'];
  sealed: string;
  created_at: Date;
  attempts: number;
  next_attempt_at: Date;
}

/** How long a claimed message is reserved for the instance delivering it. */
const leaseMs = 60_000;

export function sqlOutboxStore(db: Queryable): OutboxStore {
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
        // Claim one due message with a lease, in one statement: no lock is held while it is
        // delivered, and if this process dies mid-delivery the lease runs out and it is retried.
        const rows = await db.query<OutboxRow>(
          `UPDATE outbox SET next_attempt_at = $2, attempts = attempts + 1
           WHERE id = (
             SELECT id FROM outbox
             WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1
             ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED)
           RETURNING id, kind, sealed, created_at, attempts, next_attempt_at`,
          [now, new Date(now.getTime() + leaseMs)],
        );
        const row = rows[0];
        if (!row) break;
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
          // Delivered: the sealed body (it may hold a reset token) is no longer needed.
          await db.query(`UPDATE outbox SET delivered_at = $2, sealed = '' WHERE id = $1`, [row.id, now]);
          delivered += 1;
        } catch (error) {
          const next = retryAt(row.attempts);
          const reason = error instanceof Error ? error.message.slice(0, 200) : 'delivery failed';
          if (next) {
            await db.query('UPDATE outbox SET next_attempt_at = $2, last_error = $3 WHERE id = $1', [row.id, next, reason]);
          } else {
            await db.query(`UPDATE outbox SET failed_at = $2, last_error = $3, sealed = '' WHERE id = $1`, [row.id, now, reason]);
          }
        }
      }
      return delivered;
    },

    async deleteFinishedBefore(before, limit) {
      const rows = await db.query(
        `DELETE FROM outbox WHERE id IN (
           SELECT id FROM outbox
           WHERE (delivered_at IS NOT NULL OR failed_at IS NOT NULL) AND COALESCE(delivered_at, failed_at) < $1
           ORDER BY COALESCE(delivered_at, failed_at) LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING id`,
        [before, limit],
      );
      return rows.length;
    },
  };
}
