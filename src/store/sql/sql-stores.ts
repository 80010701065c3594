import type { StoreSet, Stores } from '../stores.js';
import { sqlApiKeyStore } from './api-key-store.js';
import { sqlAuditStore, type SqlAuditStoreOptions } from './audit-store.js';
import { sqlIncidentStore } from './incident-store.js';
import { sqlIpRuleStore } from './ip-rule-store.js';
import { sqlOutboxStore } from './outbox-store.js';
import type { Db, Queryable } from './db.js';
import { sqlRefreshTokenStore } from './refresh-token-store.js';
import { sqlResetTokenStore } from './reset-token-store.js';
import { sqlRevocationStore } from './revocation-store.js';
import { sqlSessionStore } from './session-store.js';
import { sqlSigningKeyStore } from './signing-key-store.js';
import { sqlUserStore } from './user-store.js';

function bind(db: Queryable, afterCommit: (hook: () => void) => void, auditStore: Stores['audit']): Stores {
  return {
    audit: auditStore,
    incidents: sqlIncidentStore(db),
    afterCommit,
    users: sqlUserStore(db),
    sessions: sqlSessionStore(db),
    refreshTokens: sqlRefreshTokenStore(db),
    resetTokens: sqlResetTokenStore(db),
    signingKeys: sqlSigningKeyStore(db),
    revocations: sqlRevocationStore(db),
    outbox: sqlOutboxStore(db),
    ipRules: sqlIpRuleStore(db),
    apiKeys: sqlApiKeyStore(db),
  };
}

/** The SQL stores over one database (PGlite or PostgreSQL). */
export function sqlStores(db: Db, options: SqlAuditStoreOptions = {}): StoreSet {
  const root = bind(db, (hook) => hook(), sqlAuditStore(db, db, options));
  return {
    ...root,
    users: { ...root.users, createIfEmpty: (user) => db.transaction((tx) => sqlUserStore(tx).createIfEmpty(user)) },
    async transaction(fn) {
      let hooks: Array<() => void> = [];
      const result = await db.transaction((tx) => {
        // A retried transaction (deadlock) starts over: only the attempt that commits counts.
        hooks = [];
        return fn(bind(tx, (hook) => hooks.push(hook), sqlAuditStore(tx, undefined, options)));
      });
      for (const hook of hooks) hook();
      return result;
    },
    ping: () => db.ping(),
    close: () => db.close(),
  };
}
