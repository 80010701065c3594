import { isIP } from 'node:net';

/**
 * An IP address as a 128-bit number: IPv6 as it is, IPv4 as its IPv4-mapped IPv6 address
 * (`::ffff:a.b.c.d`), so one comparison serves both families and `::ffff:1.2.3.4` and `1.2.3.4`
 * are one address.
 */
export type IpValue = bigint;

/** An address range: the addresses whose first `prefix` of 128 bits equal `base`'s. */
export interface IpRange {
  readonly base: IpValue;
  readonly prefix: number;
}

const mappedPrefix = 0xffffn << 32n;
const mappedMask = ((1n << 96n) - 1n) << 32n;

function isMapped(value: IpValue): boolean {
  return (value & mappedMask) === mappedPrefix;
}

function ipv4Value(text: string): IpValue {
  return text.split('.').reduce((value, octet) => (value << 8n) | BigInt(Number(octet)), 0n);
}

/** `text` has already passed `isIP(text) === 6`, so every group below is well formed. */
function ipv6Value(text: string): IpValue {
  let hex = text;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(hex);
  if (v4) {
    const low = ipv4Value(v4[1]!);
    hex = `${hex.slice(0, v4.index)}${(low >> 16n).toString(16)}:${(low & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = hex.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.reduce((value, group) => (value << 16n) | BigInt(parseInt(group, 16)), 0n);
}

/**
 * The value of a bare IPv4 or IPv6 address in any valid spelling; an IPv6 zone (`%eth0`) is
 * dropped. Undefined for anything else (ports, brackets, hostnames, leading zeros, blanks).
 */
export function parseIp(text: string): IpValue | undefined {
  const family = isIP(text);
  if (family === 4) return mappedPrefix | ipv4Value(text);
  if (family === 6) return ipv6Value(text.replace(/%.*$/, ''));
  return undefined;
}

/**
 * The one spelling of an address: dotted IPv4 for IPv4 and IPv4-mapped addresses, otherwise
 * RFC 5952 IPv6 (lower case, no leading zeros, the first longest run of two or more zero groups
 * as `::`).
 */
export function formatIp(value: IpValue): string {
  if (isMapped(value)) {
    return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
  }
  const groups = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((shift) => Number((value >> shift) & 0xffffn));
  let best = { start: -1, length: 1 };
  for (let start = 0; start < 8; start += 1) {
    let length = 0;
    while (start + length < 8 && groups[start + length] === 0) length += 1;
    if (length > best.length) best = { start, length };
  }
  const hex = groups.map((group) => group.toString(16));
  if (best.start < 0) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`;
}

/** The canonical spelling of an address, or undefined when `text` is not a bare address. */
export function canonicalIp(text: string): string | undefined {
  const value = parseIp(text);
  return value === undefined ? undefined : formatIp(value);
}

function maskOf(prefix: number): IpValue {
  return prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(128 - prefix);
}

/**
 * An address (`10.1.2.3`, `::1`) or a CIDR (`10.0.0.0/8`, `2001:db8::/32`, `::ffff:10.0.0.0/104`).
 * Why a range is refused, so the configuration error can say it: a prefix beyond the family's
 * width, or bits set after the prefix (`10.0.0.1/8` is a typo for one of two different things).
 */
export function parseRange(text: string): IpRange | { error: string } {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const value = address.includes('%') ? undefined : parseIp(address);
  if (value === undefined) return { error: 'is not an IP address or CIDR' };
  const written = isIP(address) === 4 ? 32 : 128;
  if (slash < 0) return { base: value, prefix: 128 };
  const prefixText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > written) {
    return { error: `has a prefix length that is not 0 to ${written}` };
  }
  const prefix = Number(prefixText) + (128 - written);
  if ((value & ~maskOf(prefix)) !== 0n) return { error: 'has address bits set beyond its prefix length' };
  return { base: value, prefix };
}

/** The canonical spelling of a range: an address alone when it is one address. */
export function formatRange(range: IpRange): string {
  if (range.prefix === 128) return formatIp(range.base);
  return isMapped(range.base) && range.prefix >= 96
    ? `${formatIp(range.base)}/${range.prefix - 96}`
    : `${formatIp(range.base)}/${range.prefix}`;
}

/** Whether the range is every IPv4 address (`0.0.0.0/0`) or every address (`::/0`). */
export function isWholeFamily(range: IpRange): boolean {
  return range.prefix === 0 || (range.prefix === 96 && isMapped(range.base));
}

export function rangeContains(range: IpRange, value: IpValue): boolean {
  const mask = maskOf(range.prefix);
  return (value & mask) === range.base;
}
