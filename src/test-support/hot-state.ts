import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { HotState } from '../store/hot/hot-state.js';
import { createMemoryHotState } from '../store/hot/memory-hot-state.js';
import { createRedisHotState } from '../store/hot/redis-hot-state.js';

/** The URL of the real Redis the suites run against, when REDIS_URL is set. */
export const redisUrl: string | undefined = process.env.REDIS_URL || undefined;

export interface TestHotState {
  hotState: HotState;
  prefix: string | undefined;
  /** Deletes every key under this run's prefix. */
  cleanup(): Promise<void>;
}

export function uniquePrefix(): string {
  return `tessera-test-${randomBytes(6).toString('hex')}`;
}

/** Deletes every Redis key under `prefix`. */
export async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** Redis hot state under a unique prefix when asked for and REDIS_URL is set; in-process otherwise. */
export async function openTestHotState(kind: 'redis' | 'memory', prefix = uniquePrefix()): Promise<TestHotState> {
  if (kind === 'memory' || !redisUrl) {
    const hotState = createMemoryHotState();
    return { hotState, prefix: undefined, cleanup: () => hotState.close() };
  }
  const url = redisUrl;
  const hotState = await createRedisHotState({ url, prefix });
  return {
    hotState,
    prefix,
    async cleanup() {
      await hotState.close();
      await deleteRedisKeys(url, prefix);
    },
  };
}
