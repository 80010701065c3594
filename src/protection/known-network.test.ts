import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../clock.js';
import { createEventBus } from '../events/bus.js';
import { createMemoryHotState } from '../store/hot/memory-hot-state.js';
import type { HotState } from '../store/hot/hot-state.js';
import { testConfig } from '../test-support/config.js';
import { createLoginProtection, knownNetworkMs } from './login-protection.js';

/*
 * Issue 10 review, finding 8: password reset gives a network the account signed in from a mail
 * cap of its own, so `isKnownNetwork` must say yes only for a network it remembers, and no
 * whenever it cannot tell.
 */

function protectionOver(hotState: HotState, clock: ManualClock) {
  const events = createEventBus({ now: () => clock.now() });
  return createLoginProtection({ hotState, clock, events, config: testConfig(), users: { findById: async () => undefined } });
}

describe('LoginProtection.isKnownNetwork', () => {
  it('knows the networks an account signed in from, for knownNetworkMs', async () => {
    const clock = new ManualClock();
    const protection = protectionOver(createMemoryHotState(), clock);
    const lane = { key: 'lane', trusted: undefined };
    await protection.trustDevice(lane, 'user-1', '192.0.2.10');
    await protection.trustDevice(lane, 'user-1', '2001:db8:5:5::1');
    const cases: [userId: string, ip: string | null, known: boolean][] = [
      ['user-1', '192.0.2.10', true],
      ['user-1', '2001:db8:5:5:ffff::9', true],
      ['user-1', '192.0.2.11', false],
      ['user-1', '2001:db8:5:6::1', false],
      ['user-2', '192.0.2.10', false],
      ['user-1', null, false],
    ];
    for (const [userId, ip, known] of cases) assert.equal(await protection.isKnownNetwork(userId, ip), known, `${userId} ${ip}`);
    clock.advance(knownNetworkMs);
    assert.equal(await protection.isKnownNetwork('user-1', '192.0.2.10'), false, 'forgotten after knownNetworkMs');
  });

  it('fails closed to false when hot state cannot be read', async () => {
    const clock = new ManualClock();
    const hotState = createMemoryHotState();
    const protection = protectionOver(hotState, clock);
    await protection.trustDevice({ key: 'lane', trusted: undefined }, 'user-1', '192.0.2.10');
    hotState.getUntil = async () => {
      throw new Error('hot state is down');
    };
    assert.equal(await protection.isKnownNetwork('user-1', '192.0.2.10'), false);
  });
});
