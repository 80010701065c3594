import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { revocationKinds, type RevocationChange } from '../../revocation/revocation.js';
import type { HotState, HotStateSubscriber } from './hot-state.js';
import { maxWindowMembers, type RateLimiter } from './ports.js';
import { limiterResult } from './memory-hot-state.js';
import { createRedisLockoutStore } from './redis-lockout-store.js';
import { withLockoutFallback } from '../../protection/lockout.js';
import { createMemoryLockoutStore } from './memory-lockout-store.js';

export interface RedisHotStateOptions {
  url: string;
  /** REDIS_URL names one seed node of a Redis Cluster; the others are discovered. */
  cluster?: boolean;
  /** Namespaces every key and channel, e.g. "tessera"; tests give each run its own. */
  prefix: string;
  onError?: (error: Error) => void;
}

function isRevocationChange(value: unknown): value is RevocationChange {
  const change = value as RevocationChange | undefined;
  if (change?.type === 'enabled') return typeof change.userId === 'string';
  if (change?.type !== 'revoked') return false;
  const r = change.revocation;
  return (
    (revocationKinds as readonly string[]).includes(r?.kind) &&
    typeof r.subject === 'string' &&
    Number.isFinite(r.at) &&
    Number.isFinite(r.expiresAt)
  );
}

/**
 * Hot state in Redis, shared by every instance. Revocations fan out over pub/sub to each
 * instance's in-process cache; rate-limit counters are Redis keys named
 * `<prefix>:rl:<name>:{<key>}` (the hash tag keeps each counter's slot stable in Redis Cluster).
 * Commands fail fast while Redis is unreachable instead of queueing; rate limits then fall back
 * to per-instance memory counters.
 */
export async function createRedisHotState(options: RedisHotStateOptions): Promise<HotState> {
  const common = { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000 } as const;
  const connect = (redisOptions: RedisOptions): Redis | Cluster => {
    if (!options.cluster) return new Redis(options.url, redisOptions);
    const seed = new URL(options.url);
    return new Cluster([{ host: seed.hostname, port: Number(seed.port || 6379) }], {
      lazyConnect: true,
      enableOfflineQueue: redisOptions.enableOfflineQueue ?? true,
      redisOptions: {
        ...redisOptions,
        ...(seed.password ? { password: decodeURIComponent(seed.password) } : {}),
        ...(seed.username ? { username: decodeURIComponent(seed.username) } : {}),
        ...(seed.protocol === 'rediss:' ? { tls: {} } : {}),
      },
    });
  };
  const client = connect({ ...common, enableOfflineQueue: false });
  // A single Redis: autoResubscribe off. ioredis re-subscribes after a reconnect without handling
  // the promise, so a close while that SUBSCRIBE was in flight rejected it unhandled ("Connection
  // is closed.", which ends the process); the 'ready' handler below subscribes again itself. A
  // Cluster re-subscribes through its own subscriber connection.
  const resubscribeHere = !options.cluster;
  const subscriber = connect({ ...common, enableOfflineQueue: true, ...(resubscribeHere ? { autoResubscribe: false } : {}) });
  const channel = `${options.prefix}:revocations`;
  const subscribers = new Set<HotStateSubscriber>();
  for (const connection of [client, subscriber]) connection.on('error', (error: Error) => options.onError?.(error));

  try {
    await client.connect();
    await subscriber.connect();
    await subscriber.subscribe(channel);
  } catch (error) {
    client.disconnect();
    subscriber.disconnect();
    throw error;
  }

  let closing = false;
  // 'ready' fires again after every reconnect (the first one has passed by now). Messages
  // published while the subscription was down are lost, so every subscriber re-reads SQL.
  subscriber.on('ready', () => {
    if (closing) return;
    for (const s of subscribers) s.resync();
    if (!resubscribeHere) {
      // Once more after the channel is surely subscribed again, for messages sent in between.
      setTimeout(() => {
        if (!closing) for (const s of subscribers) s.resync();
      }, 1000).unref();
      return;
    }
    subscriber.subscribe(channel).then(
      // Once more now that the channel is subscribed again, for messages sent in between.
      () => {
        if (!closing) for (const s of subscribers) s.resync();
      },
      (error: Error) => {
        if (!closing) options.onError?.(error);
      },
    );
  });
  subscriber.on('message', (from: string, message: string) => {
    if (from !== channel) return;
    let change: unknown;
    try {
      change = JSON.parse(message);
    } catch {
      return;
    }
    if (!isRevocationChange(change)) return;
    for (const s of subscribers) s.change(change);
  });

  return {
    kind: 'redis',
    lockouts: withLockoutFallback(createRedisLockoutStore(client, options.prefix), createMemoryLockoutStore(), (error) =>
      options.onError?.(error as Error),
    ),
    async publish(change) {
      await client.publish(channel, JSON.stringify(change));
    },
    subscribe(s) {
      subscribers.add(s);
      return () => subscribers.delete(s);
    },
    rateLimiter(name, points, durationSeconds): RateLimiter {
      const limiter = new RateLimiterRedis({
        storeClient: client,
        keyPrefix: `${options.prefix}:rl:${name}`,
        points,
        duration: durationSeconds,
        rejectIfRedisNotReady: true,
        insuranceLimiter: new RateLimiterMemory({ keyPrefix: `${name}:insurance`, points, duration: durationSeconds }),
      });
      return {
        async consume(key) {
          try {
            await limiter.consume(`{${key}}`);
            return { allowed: true, retryAfterSeconds: 0 };
          } catch (outcome) {
            return limiterResult(outcome);
          }
        },
        async refund(key) {
          await limiter.reward(`{${key}}`, 1);
        },
      };
    },
    async windowAdd(key, member, at, windowMs) {
      // One key per window (hash-tagged), so the transaction stays in one Cluster slot.
      const name = `${options.prefix}:win:{${key}}`;
      const results = await client
        .multi()
        .zremrangebyscore(name, '-inf', at - windowMs)
        .zadd(name, at, member)
        .zremrangebyrank(name, 0, -(maxWindowMembers + 1))
        .zcard(name)
        .pexpire(name, Math.max(1000, Math.ceil(windowMs)))
        .exec();
      if (!results) throw new Error('redis transaction aborted');
      for (const [error] of results) if (error) throw error;
      return { added: Number(results[1]![1]) === 1, size: Number(results[3]![1]) };
    },
    async setUntil(key, until, now) {
      const name = `${options.prefix}:mark:{${key}}`;
      // Never shortens a longer mark set by another instance.
      await client.eval(
        `local current = tonumber(redis.call('GET', KEYS[1]) or '0')
         if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
         return 1`,
        1,
        name,
        String(until),
        String(Math.max(1000, Math.ceil(until - now))),
      );
    },
    async getUntil(key) {
      const value = await client.get(`${options.prefix}:mark:{${key}}`);
      return value === null ? undefined : Number(value);
    },
    async clearUntil(key) {
      return (await client.del(`${options.prefix}:mark:{${key}}`)) > 0;
    },
    async increment(key, ttlSeconds) {
      const name = `${options.prefix}:ctr:{${key}}`;
      const results = await client.multi().incr(name).expire(name, ttlSeconds, 'NX').exec();
      if (!results) throw new Error('redis transaction aborted');
      for (const [error] of results) if (error) throw error;
    },
    async readCounters(keys) {
      // One GET per key: counters live in different Cluster slots.
      const values = await Promise.all(keys.map((key) => client.get(`${options.prefix}:ctr:{${key}}`)));
      return values.map((value) => (value === null ? 0 : Number(value)));
    },
    async ping() {
      await client.ping();
    },
    async close() {
      closing = true;
      subscribers.clear();
      subscriber.disconnect();
      client.disconnect();
    },
  };
}
