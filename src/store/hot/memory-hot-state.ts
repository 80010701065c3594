import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { createMemoryLockoutStore } from './memory-lockout-store.js';
import type { HotState, HotStateSubscriber } from './hot-state.js';
import { maxWindowMembers, type RateLimiter } from './ports.js';

/** Rate-limiter-flexible's answer, as ours. */
export function limiterResult(outcome: unknown): { allowed: boolean; retryAfterSeconds: number } {
  if (outcome instanceof RateLimiterRes) {
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(outcome.msBeforeNext / 1000)) };
  }
  throw outcome;
}

/** Hot state for a single process (the embedded default). */
export function createMemoryHotState(): HotState {
  const subscribers = new Set<HotStateSubscriber>();
  // Windows, marks and counters, each with the time (from the injected clock or real time for
  // counters) after which it can be forgotten; swept as they are touched so memory stays bounded.
  const windows = new Map<string, { members: Map<string, number>; expiresAt: number }>();
  const marks = new Map<string, number>();
  const counters = new Map<string, { value: number; expiresAt: number }>();
  let lastSweep = 0;
  function sweep(now: number): void {
    if (now - lastSweep < 60_000) return;
    lastSweep = now;
    for (const [key, window] of windows) if (window.expiresAt <= now) windows.delete(key);
    for (const [key, until] of marks) if (until <= now) marks.delete(key);
    const real = Date.now();
    for (const [key, counter] of counters) if (counter.expiresAt <= real) counters.delete(key);
  }
  return {
    kind: 'memory',
    lockouts: createMemoryLockoutStore(),
    async publish(change) {
      for (const subscriber of subscribers) subscriber.change(change);
    },
    subscribe(subscriber) {
      subscribers.add(subscriber);
      return () => subscribers.delete(subscriber);
    },
    rateLimiter(name, points, durationSeconds): RateLimiter {
      const limiter = new RateLimiterMemory({ keyPrefix: name, points, duration: durationSeconds });
      return {
        async consume(key) {
          try {
            await limiter.consume(key);
            return { allowed: true, retryAfterSeconds: 0 };
          } catch (outcome) {
            return limiterResult(outcome);
          }
        },
        async refund(key) {
          await limiter.reward(key, 1);
        },
      };
    },
    async windowAdd(key, member, at, windowMs) {
      sweep(at);
      const window = windows.get(key) ?? { members: new Map<string, number>(), expiresAt: 0 };
      windows.set(key, window);
      for (const [m, seen] of window.members) if (seen <= at - windowMs) window.members.delete(m);
      const added = !window.members.has(member);
      // Re-inserting moves the member to the end: the map stays ordered oldest first.
      window.members.delete(member);
      window.members.set(member, at);
      while (window.members.size > maxWindowMembers) window.members.delete(window.members.keys().next().value as string);
      window.expiresAt = at + windowMs;
      return { size: window.members.size, added };
    },
    async setUntil(key, until, now) {
      sweep(now);
      marks.set(key, Math.max(until, marks.get(key) ?? 0));
    },
    async getUntil(key) {
      return marks.get(key);
    },
    async clearUntil(key) {
      return marks.delete(key);
    },
    async increment(key, ttlSeconds) {
      const counter = counters.get(key);
      if (counter && counter.expiresAt > Date.now()) counter.value += 1;
      else counters.set(key, { value: 1, expiresAt: Date.now() + ttlSeconds * 1000 });
    },
    async readCounters(keys) {
      const real = Date.now();
      return keys.map((key) => {
        const counter = counters.get(key);
        return counter && counter.expiresAt > real ? counter.value : 0;
      });
    },
    async ping() {},
    async close() {
      subscribers.clear();
    },
  };
}
