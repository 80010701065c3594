import type { AuditStore } from '../audit/store.js';
import type { IncidentStore } from '../incidents/store.js';
import type { SigningKeyStore } from '../keys/store.js';
import type { RevocationStore } from '../revocation/revocation.js';
import type { SessionStore } from '../sessions/store.js';
import type { ResetTokenStore } from './sql/reset-token-store.js';
import type { RefreshTokenStore } from '../sessions/refresh-token-store.js';
import type { UserStore } from '../users/store.js';

/** One typed store per aggregate. */
export interface Stores {
  users: UserStore;
  sessions: SessionStore;
  refreshTokens: RefreshTokenStore;
  resetTokens: ResetTokenStore;
  signingKeys: SigningKeyStore;
  revocations: RevocationStore;
  audit: AuditStore;
  incidents: IncidentStore;
  /**
   * Runs `hook` once the surrounding transaction has committed (at once outside a transaction):
   * what others may only hear about a change that happened, such as live event delivery.
   */
  afterCommit(hook: () => void): void;
}

/** The stores, plus a unit of work: everything done through `tx` commits or rolls back together. */
export interface StoreSet extends Stores {
  transaction<T>(fn: (tx: Stores) => Promise<T>): Promise<T>;
  /** Resolves when the backing database answers. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
