import type { StoreSet, Stores } from '../stores.js';
import type { Db, Queryable } from './db.js';
import { sqlRefreshTokenStore } from './refresh-token-store.js';
import { sqlRevocationStore } from './revocation-store.js';
import { sqlSessionStore } from './session-store.js';
import { sqlSigningKeyStore } from './signing-key-store.js';
import { sqlUserStore } from './user-store.js';

function bind(db: Queryable): Stores {
  return {
    users: sqlUserStore(db),
    sessions: sqlSessionStore(db),
    refreshTokens: sqlRefreshTokenStore(db),
    signingKeys: sqlSigningKeyStore(db),
    revocations: sqlRevocationStore(db),
  };
}

/** The SQL stores over one database (PGlite or PostgreSQL). */
export function sqlStores(db: Db): StoreSet {
  const root = bind(db);
  return {
    ...root,
    users: { ...root.users, createIfEmpty: (user) => db.transaction((tx) => sqlUserStore(tx).createIfEmpty(user)) },
    transaction: (fn) => db.transaction((tx) => fn(bind(tx))),
    ping: () => db.ping(),
    close: () => db.close(),
  };
}
