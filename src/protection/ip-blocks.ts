import type { Clock } from '../clock.js';
import type { EventBus, EventContext } from '../events/bus.js';
import type { HotState } from '../store/hot/hot-state.js';

export interface IpBlocks {
  /** Blocks `ip` from signing in for TESSERA_IP_BLOCK_DURATION (extends, never shortens, a block). */
  block(ip: string, incidentType: string, context?: EventContext): Promise<void>;
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
  const key = (ip: string) => `ipblock:${ip}`;
  return {
    async block(ip, incidentType, context) {
      if (durationMs <= 0) return;
      const now = clock.now();
      const until = now + durationMs;
      await hotState.setUntil(key(ip), until, now);
      await events.emit('ip.blocked', { blockedIp: ip, until, incidentType }, context);
    },
    async remainingMs(ip) {
      const until = await hotState.getUntil(key(ip));
      const now = clock.now();
      return until !== undefined && until > now ? until - now : undefined;
    },
  };
}
