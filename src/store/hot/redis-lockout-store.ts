import type { Cluster, Redis } from 'ioredis';
import type { LockoutStore, LockState } from '../../protection/lockout.js';

/**
 * One failure, atomically: drop failures older than the window, add this one, and lock when the
 * threshold is reached (duration doubling per earlier lock, capped). Times come from the caller's
 * clock (ARGV), never from Redis, so the injected Clock governs expiry; PEXPIRE only cleans up.
 */
const recordFailureScript = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local threshold = tonumber(ARGV[3])
local lockMs = tonumber(ARGV[4])
local maxLock = tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%.0f', now - window))
redis.call('ZADD', KEYS[2], string.format('%.0f', now), ARGV[6])
local count = redis.call('ZCARD', KEYS[2])
local locks = tonumber(redis.call('HGET', KEYS[1], 'locks') or '0')
local lockedUntil = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if count >= threshold then
  local duration = math.min(maxLock, lockMs * (2 ^ math.min(locks, 30)))
  lockedUntil = now + duration
  locks = locks + 1
  redis.call('HSET', KEYS[1], 'until', string.format('%.0f', lockedUntil), 'locks', locks)
  redis.call('DEL', KEYS[2])
  count = 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[7])
if count > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[7]) end
return {count, string.format('%.0f', lockedUntil), locks}
`;

/** Lockouts in Redis: `<prefix>:lock:{<key>}` (hash) and `<prefix>:lockf:{<key>}` (failures), one slot per key. */
export function createRedisLockoutStore(client: Redis | Cluster, prefix: string): LockoutStore {
  const keys = (key: string) => [`${prefix}:lock:{${key}}`, `${prefix}:lockf:{${key}}`] as const;
  let counter = 0;

  return {
    async get(key, now): Promise<LockState> {
      const [lockKey, failureKey] = keys(key);
      const [state, failures] = await Promise.all([client.hmget(lockKey, 'until', 'locks'), client.zcount(failureKey, '-inf', '+inf')]);
      const lockedUntil = Number(state[0] ?? 0);
      return { failures, lockedUntil: lockedUntil > now ? lockedUntil : 0, locks: Number(state[1] ?? 0) };
    },
    async recordFailure(key, now, policy) {
      const [lockKey, failureKey] = keys(key);
      counter = (counter + 1) % 1_000_000;
      const member = `${now}:${process.pid}:${counter}:${Math.random().toString(36).slice(2, 8)}`;
      const ttl = policy.maxLockMs * 2 + policy.windowMs;
      const [failures, lockedUntil, locks] = (await client.eval(
        recordFailureScript,
        2,
        lockKey,
        failureKey,
        now,
        policy.windowMs,
        policy.threshold,
        policy.lockMs,
        policy.maxLockMs,
        member,
        ttl,
      )) as [number, string, number];
      const until = Number(lockedUntil);
      return { failures: Number(failures), lockedUntil: until > now ? until : 0, locks: Number(locks) };
    },
    async recordSuccess(key) {
      await client.del(...keys(key));
    },
    async unlock(key) {
      await client.del(...keys(key));
    },
  };
}
