import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Logger } from 'pino';
import { ManualClock } from '../clock.js';
import type { Config } from '../config/config.js';
import type { Db } from '../store/sql/db.js';
import { buildApp, type AppOptions } from '../server/app.js';
import { guardAuditAgainstSecrets } from './audit-secrets.js';
import { openTessera, type Tessera } from '../app/create-tessera.js';
import type { HotState } from '../store/hot/hot-state.js';
import type { StoreSet } from '../store/stores.js';
import { testConfig } from './config.js';
import type { TestBackend } from './databases.js';
import { openTestHotState, uniquePrefix } from './hot-state.js';

export interface TestApp {
  app: FastifyInstance;
  /** The Redis key prefix of this app's hot state, when it uses Redis. */
  hotStatePrefix: string | undefined;
  tessera: Tessera;
  /**
   * The stores and hot state the Tessera runs on, for tests that act as someone with direct
   * access to them (routes never get these).
   */
  stores: StoreSet;
  hotState: HotState;
  /** The app's database, for tests that act as someone with direct access to it. */
  db: Db;
  config: Config;
  clock: ManualClock;
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string | undefined>;
  /** Defaults to a ManualClock at the real current time (so tokens also verify with other libraries). */
  clock?: ManualClock;
  /** Share Redis hot state with another test app (same prefix). */
  hotStatePrefix?: string;
  /** Run over this database (a second instance, a restart) instead of a fresh one; not dropped on close. */
  db?: Db;
  /** Options of the HTTP app (event-stream timings). */
  app?: AppOptions;
  /** A logger for the service, for tests that read what it logs. */
  logger?: Logger;
}

/** A Tessera and its Fastify app over a fresh database of `backend`. */
export async function startTestApp(backend: TestBackend, options: TestAppOptions = {}): Promise<TestApp> {
  const { db, cleanup: cleanupDb } = options.db ? { db: options.db, cleanup: async () => undefined } : await backend.open();
  // PostgreSQL runs with Redis hot state (when REDIS_URL is set), PGlite with in-process state.
  const hot = await openTestHotState(backend.name === 'postgres' ? 'redis' : 'memory', options.hotStatePrefix);
  const cleanup = async () => {
    await hot.cleanup();
    await cleanupDb();
  };
  const clock = options.clock ?? new ManualClock(Date.now());
  const config = testConfig(options.env);
  try {
    const { tessera, stores, hotState } = await openTessera(config, { db, clock, hotState: hot.hotState, ...(options.logger ? { logger: options.logger } : {}) });
    const app = await buildApp(tessera, options.app);
    const guard = guardAuditAgainstSecrets(app);
    await app.ready();
    return {
      app,
      hotStatePrefix: hot.prefix,
      tessera,
      stores,
      hotState,
      db,
      config,
      clock,
      async close() {
        await app.close();
        try {
          await tessera.detection.settled();
          await guard.assertClean(db);
        } finally {
          await tessera.close();
          await cleanup();
        }
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/**
 * Two instances over one database, as behind a load balancer: on PostgreSQL two connection pools
 * on one schema with one Redis prefix; PGlite being one process's database, the second shares the
 * first's (and leaves closing it to the first). `close` ends both and drops the database.
 */
export async function startTwoInstances(
  backend: TestBackend,
  options: { clock?: ManualClock; app?: AppOptions } = {},
): Promise<{ a: TestApp; b: TestApp; close(): Promise<void> }> {
  const database = backend.name === 'postgres' ? await backend.open() : undefined;
  const prefix = backend.name === 'postgres' ? uniquePrefix() : undefined;
  const common = { ...(options.clock ? { clock: options.clock } : {}), ...(prefix ? { hotStatePrefix: prefix } : {}), ...(options.app ? { app: options.app } : {}) };
  const a = await startTestApp(backend, { ...common, ...(database ? { db: database.db } : {}) });
  const shared: Db = { kind: a.db.kind, query: (sql, params) => a.db.query(sql, params), exec: (sql) => a.db.exec(sql), transaction: (fn) => a.db.transaction(fn), ping: () => a.db.ping(), close: async () => undefined };
  const b = await startTestApp(backend, { ...common, db: database ? database.reopen!() : shared });
  return {
    a,
    b,
    async close() {
      await b.close();
      await a.close();
      await database?.cleanup();
    },
  };
}

export const strongPassword = 'correct horse battery staple';

/** Creates a user through the service (not HTTP) and returns its id. */
export async function createUser(
  t: TestApp,
  username: string,
  extra: { email?: string; roles?: string[]; permissions?: string[]; password?: string } = {},
): Promise<string> {
  const user = await t.tessera.users.create({
    username,
    password: extra.password ?? strongPassword,
    email: extra.email,
    roles: extra.roles ?? [],
    permissions: extra.permissions ?? [],
  });
  return user.id;
}

export async function login(
  t: TestApp,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  return t.app.inject({ method: 'POST', url: '/auth/login', payload: body, headers });
}

/** The token response of a sign-in, as the tests use it. */
export interface SignedIn {
  access_token: string;
  refresh_token: string;
  session_id: string;
  expires_in: number;
  refresh_expires_in: number;
  user: { id: string; username: string; roles: string[]; permissions: string[] };
}

/** Signs in and returns the parsed token response; fails the test if sign-in fails. */
export async function signIn(t: TestApp, username: string, password = strongPassword): Promise<SignedIn> {
  const response = await login(t, { username, password });
  if (response.statusCode !== 200) throw new Error(`sign-in failed: ${response.statusCode} ${response.body}`);
  return response.json() as SignedIn;
}
