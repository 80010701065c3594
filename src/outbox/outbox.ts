/** A message waiting for delivery; `body` is only ever held sealed at rest. */
export interface OutboxMessage {
  id: string;
  /** `password_reset_request`: a request to act on (look the account up, mint a token); `password_reset`: a mail to send. */
  kind: 'password_reset_request' | 'password_reset';
  sealed: string;
  createdAt: Date;
  attempts: number;
  nextAttemptAt: Date;
}

/** The durable outbox: a message written here survives a crash and is retried until delivered. */
export interface OutboxStore {
  enqueue(message: Pick<OutboxMessage, 'id' | 'kind' | 'sealed' | 'createdAt'>): Promise<void>;
  /**
   * Claims up to `limit` messages due at `now`, one at a time with a lease (`SKIP LOCKED`, so
   * instances never take the same message), and runs `deliver` on each. A message whose `deliver`
   * resolves is marked delivered; one that throws is rescheduled at `retryAt(attempts)`, or given up
   * when that is null; one whose instance died is retried when its lease ends. At least once.
   */
  deliverDue(now: Date, limit: number, deliver: (message: OutboxMessage) => Promise<void>, retryAt: (attempts: number) => Date | null): Promise<number>;
  /**
   * Deletes up to `limit` messages delivered or given up before `before` (their bodies are already
   * erased); a message still waiting for delivery is never deleted. Safe on every instance at
   * once: rows another caller holds are skipped (`SKIP LOCKED`). Returns how many went.
   */
  deleteFinishedBefore(before: Date, limit: number): Promise<number>;
}

/** A reset request as received, sealed in the outbox until the worker acts on it. */
export interface PasswordResetRequest {
  username?: string;
  email?: string;
  ip?: string | null;
  requestId?: string;
}

/** The contents of a password-reset message, sealed in the outbox. */
export interface PasswordResetMail {
  to: string | null;
  username: string;
  token: string;
  expiresAt: string;
}
