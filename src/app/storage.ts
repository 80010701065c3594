import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { HotState } from '../store/hot/hot-state.js';
import { createMemoryHotState } from '../store/hot/memory-hot-state.js';
import type { Db } from '../store/sql/db.js';
import { openPgliteDb } from '../store/sql/pglite-db.js';

/** Which backing store did not answer a readiness check. */
export class NotReadyError extends Error {
  constructor(
    readonly component: 'database' | 'redis',
    cause: unknown,
  ) {
    super(`${component} unreachable`, { cause });
    this.name = 'NotReadyError';
  }
}

/** Opens the database the config names: PostgreSQL with DATABASE_URL, else embedded PGlite. Shared by the server and the CLI. */
export async function openDatabase(config: Config, logger?: Logger): Promise<Db> {
  if (config.databaseUrl !== undefined) {
    // Loaded only when used: the client libraries cost a few hundred ms of every start without them.
    const { openPostgresDb } = await import('../store/sql/postgres-db.js');
    return openPostgresDb({
      connectionString: config.databaseUrl,
      onError: (error) => logger?.error({ err: error }, 'idle database connection failed'),
    });
  }
  return openPgliteDb({ dataDir: resolve(config.dataDir, 'pgdata') });
}

/** Opens the hot state the config names: Redis with REDIS_URL, else in-process. */
export async function openHotState(config: Config, logger?: Logger): Promise<HotState> {
  if (config.redisUrl === undefined) return createMemoryHotState();
  const { createRedisHotState } = await import('../store/hot/redis-hot-state.js');
  return createRedisHotState({
    url: config.redisUrl,
    cluster: config.redisCluster,
    prefix: config.redisPrefix,
    onError: (error) => logger?.warn({ err: error }, 'redis connection error'),
  });
}
