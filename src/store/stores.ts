import type { ApiKeyStore } from '../api-keys/store.js';
import type { AuditStore } from '../audit/store.js';
import type { IncidentStore } from '../incidents/store.js';
import type { IpRuleStore } from '../protection/ip-rule-store.js';
import type { SigningKeyStore } from '../keys/store.js';
import type { OutboxStore } from '../outbox/outbox.js';
import type { ResetTokenStore } from '../passwords/reset-token-store.js';
import type { RevocationStore } from '../revocation/revocation.js';
import type { SessionStore } from '../sessions/store.js';
import type { RefreshTokenStore } from '../sessions/refresh-token-store.js';
import type { UserStore } from '../users/store.js';
import type { Transactional, UnitOfWork } from './unit-of-work.js';

/*
 * The aggregate the SQL adapter implements and the composition root (src/app/) passes in.
 * Features never import it: each states the stores it touches as
 * `Transactional<{ users: UserStore; … }>` (unit-of-work.ts), which this satisfies.
 */

/** One typed store per aggregate. */
export interface Stores extends UnitOfWork {
  users: UserStore;
  sessions: SessionStore;
  refreshTokens: RefreshTokenStore;
  resetTokens: ResetTokenStore;
  signingKeys: SigningKeyStore;
  revocations: RevocationStore;
  audit: AuditStore;
  incidents: IncidentStore;
  outbox: OutboxStore;
  ipRules: IpRuleStore;
  apiKeys: ApiKeyStore;
}

/** The stores, plus a unit of work: everything done through `tx` commits or rolls back together. */
export type StoreSet = Transactional<Stores> & {
  /** Resolves when the backing database answers. */
  ping(): Promise<void>;
  close(): Promise<void>;
};
