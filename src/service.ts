import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { createAuthenticate, type Authenticate } from './auth/authenticate.js';
import { createLogin, type Login } from './auth/login.js';
import { systemClock, type Clock } from './clock.js';
import { ConfigError, type Config } from './config/config.js';
import { isAuthError } from './errors/auth-error.js';
import { KeyRing } from './keys/key-ring.js';
import { createSealer } from './keys/sealer.js';
import { createPasswordHasher } from './passwords/hasher.js';
import { createSessionService, type SessionService } from './sessions/service.js';
import type { Db } from './store/sql/db.js';
import { migrate } from './store/sql/migrate.js';
import { openPgliteDb } from './store/sql/pglite-db.js';
import { openPostgresDb } from './store/sql/postgres-db.js';
import { sqlStores } from './store/sql/sql-stores.js';
import type { StoreSet } from './store/stores.js';
import { createAccessTokens, type AccessTokens } from './tokens/access-token.js';
import { createUserService, type UserService } from './users/service.js';

/** A running Tessera: every feature service, wired once. The HTTP layer only calls these. */
export interface Tessera {
  readonly config: Config;
  readonly clock: Clock;
  readonly stores: StoreSet;
  readonly keyRing: KeyRing;
  readonly tokens: AccessTokens;
  readonly users: UserService;
  readonly sessions: SessionService;
  readonly login: Login;
  readonly authenticate: Authenticate;
  /** Resolves when every backing store answers; rejects naming the first that does not. */
  ready(): Promise<void>;
  close(): Promise<void>;
}

export interface TesseraDeps {
  clock?: Clock;
  /** An already-open database (tests); by default opened from the config. */
  db?: Db;
  logger?: Logger;
}

/** How often each instance re-reads the published signing keys. */
const keyReloadIntervalMs = 60_000;

/** Opens the database the config names: PostgreSQL with DATABASE_URL, else embedded PGlite. */
export async function openDatabase(config: Config, logger?: Logger): Promise<Db> {
  if (config.databaseUrl !== undefined) {
    return openPostgresDb({
      connectionString: config.databaseUrl,
      onError: (error) => logger?.error({ err: error }, 'idle database connection failed'),
    });
  }
  return openPgliteDb({ dataDir: resolve(config.dataDir, 'pgdata') });
}

/** The composition root: opens storage, migrates, loads keys, creates the bootstrap admin. */
export async function createTessera(config: Config, deps: TesseraDeps = {}): Promise<Tessera> {
  const clock = deps.clock ?? systemClock;
  const db = deps.db ?? (await openDatabase(config, deps.logger));
  try {
    await migrate(db);
    const stores = sqlStores(db);
    const keyRing = await KeyRing.open({
      stores,
      sealer: createSealer(config.secret, 'signing-keys'),
      alg: config.signingAlg,
      clock,
      retiredKeyGraceMs: config.accessTtlMs + 60_000,
    });
    const tokens = createAccessTokens({
      keyRing,
      clock,
      issuer: config.issuer,
      audience: config.audience,
      ttlMs: config.accessTtlMs,
    });
    const hasher = createPasswordHasher();
    await hasher.warmUp();
    const users = createUserService({
      stores,
      hasher,
      clock,
      signup: config.signup,
      passwordMinLength: config.passwordMinLength,
    });
    const sessions = createSessionService({
      stores,
      clock,
      refreshTtlMs: config.refreshTtlMs,
      sessionMaxAgeMs: config.sessionMaxAgeMs,
      maxSessionsPerUser: config.maxSessionsPerUser,
    });
    if (config.bootstrapAdmin) await bootstrap(users, config.bootstrapAdmin, deps.logger);
    // Other instances may rotate keys, and retired keys leave JWKS when their time is up.
    const keyReload = setInterval(() => {
      keyRing.reload().catch((error: unknown) => deps.logger?.warn({ err: error }, 'signing key reload failed'));
    }, keyReloadIntervalMs);
    keyReload.unref();
    return {
      config,
      clock,
      stores,
      keyRing,
      tokens,
      users,
      sessions,
      login: createLogin({ stores, hasher, sessions, tokens, clock }),
      authenticate: createAuthenticate({ tokens, stores, clock }),
      ready: () => stores.ping(),
      async close() {
        clearInterval(keyReload);
        await stores.close();
      },
    };
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }
}

async function bootstrap(
  users: UserService,
  admin: NonNullable<Config['bootstrapAdmin']>,
  logger: Logger | undefined,
): Promise<void> {
  try {
    const created = await users.bootstrapAdmin(admin.username, admin.password);
    if (created) logger?.info({ userId: created.id, username: created.username }, 'bootstrap admin created');
  } catch (error) {
    // A bad bootstrap admin is a configuration mistake: say which setting, never its value.
    if (isAuthError(error)) throw new ConfigError([{ variable: 'TESSERA_BOOTSTRAP_ADMIN', message: error.description }]);
    throw error;
  }
}
