import type { Clock } from '../clock.js';
import type { EventBus, EventContext } from '../events/bus.js';
import type { HotState } from '../store/hot/hot-state.js';
import { networkOf } from './network.js';

export interface IpBlocks {
  /**
   * Blocks the network of `ip` (the address, or its IPv6 /64) from signing in for
   * TESSERA_IP_BLOCK_DURATION. A network already blocked stays as it is: true only for a new block.
   */
  block(ip: string, incidentType: string, context?: EventContext): Promise<boolean>;
  /** How long `ip` stays blocked (ms), or undefined when it is not. */
  remainingMs(ip: string): Promise<number | undefined>;
}

/**
 * Source-IP blocks placed by detection rules, in the hot state so every instance applies them.
 * A block refuses new sign-ins, sign-ups and password resets from the address; it never ends or
 * refuses existing sessions, whose owner may share the address (NAT, a café).
 */
export function createIpBlocks(options: { hotState: HotState; events: EventBus; clock: Clock; durationMs: number }): IpBlocks {
  const { hotState, events, clock, durationMs } = options;
  const key = (ip: string) => `ipblock:${networkOf(ip)}`;
  return {
    async block(ip, incidentType, context) {
      if (durationMs <= 0) return false;
      const now = clock.now();
      const current = await hotState.getUntil(key(ip));
      // One record per block, not one per request of a flood that continues while blocked.
      if (current !== undefined && current > now) return false;
      const until = now + durationMs;
      await hotState.setUntil(key(ip), until, now);
      await events.emit('ip.blocked', { blockedIp: networkOf(ip), until, incidentType }, context);
      return true;
    },
    async remainingMs(ip) {
      const until = await hotState.getUntil(key(ip));
      const now = clock.now();
      return until !== undefined && until > now ? until - now : undefined;
    },
  };
}
