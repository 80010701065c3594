import type { Clock } from '../clock.js';
import type { EventBus, EventContext } from '../events/bus.js';
import type { TimedMarks } from '../store/hot/ports.js';
import { parseRange, type IpRange } from './ip-address.js';
import { networkOf } from './network.js';

export interface IpBlocks {
  /**
   * Blocks the network of `ip` (the address, or its IPv6 /64) from signing in for
   * TESSERA_IP_BLOCK_DURATION, on behalf of a detection rule. A network already blocked stays as
   * it is. Resolves to the network that is blocked, or undefined when none is: blocks are off
   * (a zero duration) or the network overlaps TESSERA_DETECTION_EXEMPT.
   */
  block(ip: string, incidentType: string, context?: EventContext): Promise<string | undefined>;
  /**
   * Lifts the block on the network of `ip` at once, on every instance (each reads blocks from the
   * hot state per request); records `ip.unblocked`. True when there was a block to lift.
   */
  lift(ip: string, reason: { by: string; incidentId?: string }, context?: EventContext): Promise<boolean>;
  /** How long `ip` stays blocked (ms), or undefined when it is not. */
  remainingMs(ip: string): Promise<number | undefined>;
}

export interface IpBlocksOptions {
  hotState: TimedMarks;
  events: EventBus;
  clock: Clock;
  durationMs: number;
  /** TESSERA_DETECTION_EXEMPT: ranges in canonical spelling, never blocked by detection. */
  exempt: readonly string[];
}

/** Whether two ranges share an address: the shorter prefix's bits of both bases agree. */
function overlaps(a: IpRange, b: IpRange): boolean {
  const prefix = Math.min(a.prefix, b.prefix);
  const mask = prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(128 - prefix);
  return (a.base & mask) === (b.base & mask);
}

/**
 * Source-IP blocks placed by detection rules, in the hot state so every instance applies them.
 * A block refuses new sign-ins, sign-ups and password resets from the address; it never ends or
 * refuses existing sessions, whose owner may share the address (NAT, a café).
 */
export function createIpBlocks(options: IpBlocksOptions): IpBlocks {
  const { hotState, events, clock, durationMs } = options;
  const exempt = options.exempt.map((text) => parseRange(text)).filter((range): range is IpRange => !('error' in range));
  const key = (ip: string) => `ipblock:${networkOf(ip)}`;
  /**
   * A blocked IPv6 /64 holds every address in it: a network is exempt when any exempt range
   * shares an address with it, so an exempt address is never refused by its neighbour's block.
   */
  function isExempt(network: string): boolean {
    const range = parseRange(network);
    return !('error' in range) && exempt.some((candidate) => overlaps(candidate, range));
  }
  return {
    async block(ip, incidentType, context) {
      const network = networkOf(ip);
      if (durationMs <= 0 || isExempt(network)) return undefined;
      const now = clock.now();
      const current = await hotState.getUntil(key(ip));
      // One record per block, not one per request of a flood that continues while blocked.
      if (current !== undefined && current > now) return network;
      const until = now + durationMs;
      await hotState.setUntil(key(ip), until, now);
      await events.emit('ip.blocked', { blockedIp: network, until, incidentType }, context);
      return network;
    },
    async lift(ip, reason, context) {
      const until = await hotState.getUntil(key(ip));
      // A mark past its time may linger until swept: it blocked nothing, so nothing is lifted.
      const lifted = (await hotState.clearUntil(key(ip))) && until !== undefined && until > clock.now();
      if (lifted) await events.emit('ip.unblocked', { blockedIp: networkOf(ip), ...reason }, context);
      return lifted;
    },
    async remainingMs(ip) {
      const until = await hotState.getUntil(key(ip));
      const now = clock.now();
      return until !== undefined && until > now ? until - now : undefined;
    },
  };
}
