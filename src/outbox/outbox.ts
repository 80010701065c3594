/** A message waiting for delivery; `body` is only ever held sealed at rest. */
export interface OutboxMessage {
  id: string;
  kind: 'password_reset';
  sealed: string;
  createdAt: Date;
  attempts: number;
  nextAttemptAt: Date;
}

/** The durable outbox: a message written here survives a crash and is retried until delivered. */
export interface OutboxStore {
  enqueue(message: Pick<OutboxMessage, 'id' | 'kind' | 'sealed' | 'createdAt'>): Promise<void>;
  /**
   * Claims up to `limit` messages due at `now` and runs `deliver` on each inside one transaction
   * per message (row-locked, `SKIP LOCKED`, so instances never deliver one message twice at once).
   * A message whose `deliver` resolves is marked delivered; one that throws is rescheduled.
   */
  deliverDue(now: Date, limit: number, deliver: (message: OutboxMessage) => Promise<void>, retryAt: (attempts: number) => Date | null): Promise<number>;
}

/** The contents of a password-reset message, sealed in the outbox. */
export interface PasswordResetMail {
  to: string | null;
  username: string;
  token: string;
  expiresAt: string;
}
