import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { openTestHotState, redisUrl, type TestHotState } from '../test-support/hot-state.js';
import { createMemoryLockoutStore } from '../store/hot/memory-lockout-store.js';
import { withLockoutFallback, type LockoutPolicy, type LockoutStore } from './lockout.js';

const minute = 60_000;
const policy: LockoutPolicy = { threshold: 5, windowMs: 15 * minute, lockMs: 15 * minute, maxLockMs: 24 * 60 * minute };

for (const kind of ['memory', 'redis'] as const) {
  describe(`lockout store (${kind})`, { skip: kind === 'redis' && !redisUrl ? 'REDIS_URL not set' : false }, () => {
    const opened: TestHotState[] = [];
    after(async () => {
      for (const hot of opened) await hot.cleanup();
    });
    async function store() {
      const hot = await openTestHotState(kind);
      opened.push(hot);
      return hot.hotState.lockouts;
    }

    it('locks on the fifth failure inside the window, for 15 minutes, then doubles', async () => {
      const lockouts = await store();
      let now = Date.UTC(2030, 0, 1);
      for (let i = 1; i <= 4; i += 1) {
        const state = await lockouts.recordFailure('alice', (now += 1000), policy);
        assert.deepEqual(state, { failures: i, lockedUntil: 0, locks: 0 });
      }
      const locked = await lockouts.recordFailure('alice', (now += 1000), policy);
      assert.deepEqual(locked, { failures: 0, lockedUntil: now + 15 * minute, locks: 1 });
      assert.equal((await lockouts.get('alice', now + 15 * minute - 1)).lockedUntil, now + 15 * minute);
      assert.equal((await lockouts.get('alice', now + 15 * minute)).lockedUntil, 0, 'the lock ends on time');

      now += 15 * minute;
      for (let i = 0; i < 4; i += 1) await lockouts.recordFailure('alice', (now += 1000), policy);
      const second = await lockouts.recordFailure('alice', (now += 1000), policy);
      assert.equal(second.lockedUntil - now, 30 * minute, 'the second lock doubles');
      assert.equal(second.locks, 2);
    });

    it('forgets failures older than the window', async () => {
      const lockouts = await store();
      let now = Date.UTC(2030, 0, 1);
      for (let i = 0; i < 4; i += 1) await lockouts.recordFailure('bob', (now += minute), policy);
      now += 16 * minute;
      const state = await lockouts.recordFailure('bob', now, policy);
      assert.deepEqual(state, { failures: 1, lockedUntil: 0, locks: 0 });
    });

    it('caps the lock at 24 hours', async () => {
      const lockouts = await store();
      let now = Date.UTC(2030, 0, 1);
      let last = 0;
      for (let lock = 0; lock < 9; lock += 1) {
        let state = await lockouts.get('carol', now);
        for (let i = 0; i < 5; i += 1) state = await lockouts.recordFailure('carol', (now += 1), policy);
        last = state.lockedUntil - now;
        now = state.lockedUntil;
      }
      assert.equal(last, 24 * 60 * minute);
    });

    it('starts over after a success or an unlock, and keeps keys apart', async () => {
      const lockouts = await store();
      const now = Date.UTC(2030, 0, 1);
      for (let i = 0; i < 5; i += 1) await lockouts.recordFailure('dave', now + i, policy);
      assert.ok((await lockouts.get('dave', now + 10)).lockedUntil > 0);
      assert.equal((await lockouts.get('erin', now + 10)).lockedUntil, 0);
      await lockouts.unlock('dave');
      assert.deepEqual(await lockouts.get('dave', now + 10), { failures: 0, lockedUntil: 0, locks: 0 });
      for (let i = 0; i < 3; i += 1) await lockouts.recordFailure('erin', now + i, policy);
      await lockouts.recordSuccess('erin');
      assert.equal((await lockouts.get('erin', now + 10)).failures, 0);
    });

    it('counts concurrent failures exactly once each', async () => {
      const lockouts = await store();
      const now = Date.UTC(2030, 0, 1);
      const results = await Promise.all(Array.from({ length: 5 }, () => lockouts.recordFailure('frank', now, policy)));
      assert.equal(results.filter((state) => state.lockedUntil > 0 && state.failures === 0 && state.locks === 1).length >= 1, true);
      assert.equal((await lockouts.get('frank', now)).locks, 1, 'exactly one lock');
    });
  });
}

describe('lockout fallback while the shared store fails', () => {
  /** A store that answers like the memory one until `down` is set, then throws. */
  function flaky() {
    const inner = createMemoryLockoutStore();
    const control = { down: false };
    const guard = <T>(run: () => Promise<T>) => (control.down ? Promise.reject(new Error('redis down')) : run());
    const store: LockoutStore = {
      get: (key, now) => guard(() => inner.get(key, now)),
      recordFailure: (key, now, p) => guard(() => inner.recordFailure(key, now, p)),
      recordSuccess: (key) => guard(() => inner.recordSuccess(key)),
      unlock: (key) => guard(() => inner.unlock(key)),
    };
    return { store, control };
  }

  it('remembers the locks it saw and keeps their doubling while the shared store is down', async () => {
    const { store, control } = flaky();
    const lockouts = withLockoutFallback(store, createMemoryLockoutStore());
    const now = Date.UTC(2030, 0, 1);
    for (let i = 0; i < 5; i += 1) await lockouts.recordFailure('seen', now, policy);
    await lockouts.recordFailure('other', now, policy);
    control.down = true;
    assert.equal((await lockouts.get('seen', now + 1)).lockedUntil, now + 15 * minute, 'the lock holds');
    assert.equal((await lockouts.get('other', now + 1)).lockedUntil, 0, 'an unlocked key stays unlocked');
    const later = now + 15 * minute;
    let state = await lockouts.get('seen', later);
    for (let i = 0; i < 5; i += 1) state = await lockouts.recordFailure('seen', later + i, policy);
    assert.equal(state.lockedUntil - (later + 4), 30 * minute, 'a repeat lock during the outage still doubles');
  });

  it('forgets a remembered lock after a success or an unlock', async () => {
    const { store, control } = flaky();
    const lockouts = withLockoutFallback(store, createMemoryLockoutStore());
    const now = Date.UTC(2030, 0, 1);
    for (const key of ['succeeded', 'unlocked']) for (let i = 0; i < 5; i += 1) await lockouts.recordFailure(key, now, policy);
    await lockouts.recordSuccess('succeeded');
    control.down = true;
    await lockouts.unlock('unlocked').catch(() => undefined);
    assert.equal((await lockouts.get('succeeded', now + 1)).lockedUntil, 0);
    assert.equal((await lockouts.get('unlocked', now + 1)).lockedUntil, 0);
  });
});
