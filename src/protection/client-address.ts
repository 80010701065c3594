import { formatIp, parseIp, parseRange, rangeContains, type IpRange, type IpValue } from './ip-address.js';

/**
 * `TESSERA_TRUST_PROXY` as parsed: false (trust no proxy), a hop count, or the trusted proxies'
 * addresses and CIDRs in canonical spelling.
 */
export type TrustProxySetting = false | number | readonly string[];

/** The setting, ready to answer many requests: ranges parsed once. */
export type ProxyTrust =
  | { readonly kind: 'none' }
  | { readonly kind: 'hops'; readonly hops: number }
  | { readonly kind: 'ranges'; readonly ranges: readonly IpRange[] };

/** The largest hop count TESSERA_TRUST_PROXY accepts. */
export const maxTrustedHops = 16;

/**
 * How many X-Forwarded-For entries are examined, from the right, at most. No real chain of
 * proxies is longer; the bound keeps a header of a million commas from costing a million steps.
 */
export const maxForwardedEntries = 32;

/** Longer than any address with brackets, zone and port: rejected without being parsed. */
const maxEntryLength = 64;

/** The placeholder when even the socket's address is unusable (a socket already closed). */
export const unknownClientAddress = 'unknown';

export function proxyTrust(setting: TrustProxySetting): ProxyTrust {
  if (setting === false || setting === 0) return { kind: 'none' };
  if (typeof setting === 'number') return { kind: 'hops', hops: setting };
  return {
    kind: 'ranges',
    ranges: setting.map((text) => {
      const range = parseRange(text);
      if ('error' in range) throw new Error(`trusted proxy ${text} ${range.error}`);
      return range;
    }),
  };
}

/**
 * One X-Forwarded-For entry as an address: a bare IPv4 or IPv6 address, or one with a port
 * (`1.2.3.4:5678`, `[::1]:80`) or in brackets (`[::1]`). Undefined for anything else.
 */
function entryAddress(entry: string): IpValue | undefined {
  if (entry.length > maxEntryLength) return undefined;
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(entry);
  if (bracketed) return parseIp(bracketed[1]!);
  const withPort = /^([\d.]+):\d{1,5}$/.exec(entry);
  return parseIp(withPort ? withPort[1]! : entry);
}

/** Raw characters (an entry and the spaces around it) read before an entry is called too long. */
const maxRawEntryLength = 2 * maxEntryLength;

/**
 * The entries of the X-Forwarded-For header lines from the right (several lines are one list, in
 * order), at most `maxForwardedEntries` of them, empty ones skipped but counted. An entry too long
 * to be an address is yielded as `null` and ends the list: nothing left of it is read.
 */
function* entriesFromRight(lines: readonly string[]): Generator<string | null> {
  let examined = 0;
  for (let line = lines.length - 1; line >= 0; line -= 1) {
    const text = lines[line]!;
    // Each entry is text.slice(comma + 1, end), scanning leftwards for its comma.
    let end = text.length;
    while (end >= 0) {
      if (examined >= maxForwardedEntries) return;
      examined += 1;
      const floor = Math.max(-1, end - maxRawEntryLength - 1);
      let comma = end - 1;
      while (comma > floor && text.charCodeAt(comma) !== 0x2c) comma -= 1;
      if (comma >= 0 && text.charCodeAt(comma) !== 0x2c) {
        yield null;
        return;
      }
      const entry = text.slice(comma + 1, end).trim();
      if (entry !== '') yield entry;
      end = comma;
    }
  }
}

/**
 * The client's address for a request that arrived from `socketAddress` with these
 * X-Forwarded-For header line(s), in canonical spelling (see `formatIp`).
 *
 * The chain is [...X-Forwarded-For entries, socket address]; each proxy appended the address it
 * received the request from, so only entries to the right of the first untrusted hop can be
 * believed. Walking leftwards from the socket:
 * - `none`: the socket address; X-Forwarded-For is never read.
 * - `hops` N: the address N hops left of the socket, or the leftmost one when the chain is shorter.
 * - `ranges`: while the address is a trusted proxy, step left; the first untrusted one is the
 *   client (all trusted: the leftmost).
 * A malformed entry (not an address, too long) ends the walk: the answer is the nearest valid
 * address to its right, i.e. the proxy that reported it, so header text never becomes an address.
 * At most `maxForwardedEntries` entries are examined.
 */
export function resolveClientAddress(
  socketAddress: string | undefined,
  forwardedFor: string | readonly string[] | undefined,
  trust: ProxyTrust,
): string {
  const socket = socketAddress === undefined ? undefined : parseIp(socketAddress);
  if (socket === undefined) return unknownClientAddress;
  if (trust.kind === 'none' || forwardedFor === undefined) return formatIp(socket);
  const lines = typeof forwardedFor === 'string' ? [forwardedFor] : forwardedFor;

  let client = socket;
  let hops = 0;
  for (const entry of entriesFromRight(lines)) {
    const trusted = trust.kind === 'hops' ? hops < trust.hops : trust.ranges.some((range) => rangeContains(range, client));
    if (!trusted) break;
    const next = entry === null ? undefined : entryAddress(entry);
    if (next === undefined) break;
    client = next;
    hops += 1;
  }
  return formatIp(client);
}
