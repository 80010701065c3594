/**
 * How each kind of setting is read from its environment variable: the parsers the schema
 * (schema.ts) puts under each variable. None holds a default: schema.ts gives every setting its
 * default once. Issues never echo the value (it may be a secret, or hold credentials).
 */
import { parse as parseLegacyUrl } from 'node:url';
import { z } from 'zod';
import { maxTrustedHops } from '../protection/client-address.js';
import { formatRange, isWholeFamily, parseRange } from '../protection/ip-address.js';
import { formatDuration, parseDuration } from './duration.js';

/** `<points>/<window>`: at most `points` requests per window of `windowMs` milliseconds. */
export interface RateLimitSetting {
  readonly points: number;
  readonly windowMs: number;
}

export const signingAlgs = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;
export type SigningAlg = (typeof signingAlgs)[number];

/** A duration such as `15m`, in milliseconds, between `min` and `max`. */
export function duration({ min = 1000, max = 3650 * 86_400_000 } = {}) {
  return z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: 'must be a duration such as 10s, 15m, 12h or 7d' });
      return z.NEVER;
    }
    if (ms < min || ms > max) {
      ctx.addIssue({ code: 'custom', message: `must be between ${formatDuration(min)} and ${formatDuration(max)}` });
      return z.NEVER;
    }
    return ms;
  });
}

/** A whole number from `min` to `max`. */
export function integer(min: number, max: number) {
  return z.string().transform((text, ctx) => {
    if (!/^\d{1,9}$/.test(text.trim())) {
      ctx.addIssue({ code: 'custom', message: 'must be a whole number' });
      return z.NEVER;
    }
    const value = Number(text.trim());
    if (value < min || value > max) {
      ctx.addIssue({ code: 'custom', message: `must be between ${min} and ${max}` });
      return z.NEVER;
    }
    return value;
  });
}

/** Text, trimmed; unset or blank is undefined. */
export const optionalText = z
  .string()
  .optional()
  .transform((text) => (text === undefined || text.trim() === '' ? undefined : text.trim()));

export const databaseUrl = optionalText.refine(
  (url) => url === undefined || /^postgres(ql)?:\/\//.test(url),
  'must be a postgres:// or postgresql:// URL',
);

export const redisUrl = optionalText.refine(
  (url) => url === undefined || /^rediss?:\/\//.test(url),
  'must be a redis:// or rediss:// URL',
);

export const issuerUrl = optionalText.transform((text, ctx) => {
  if (text === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be an absolute http(s) URL' });
    return z.NEVER;
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash || url.username) {
    ctx.addIssue({ code: 'custom', message: 'must be an http(s) URL without query, fragment or credentials' });
    return z.NEVER;
  }
  return text.replace(/\/+$/, '');
});

const trustProxyForms = `must be false, a hop count from 0 to ${maxTrustedHops}, or a comma-separated list of IP addresses and CIDRs`;

/**
 * `TESSERA_TRUST_PROXY`: false, a hop count, or a list of trusted proxies' IPs and CIDRs (kept in
 * canonical spelling). Everything else is refused, `true` and proxy-addr's names (`loopback`)
 * included: each of them would trust addresses the operator never named. Issues name the
 * entry's position, never its text (configuration errors never echo a value).
 */
export const trustProxy = optionalText.transform((text, ctx): number | readonly string[] | false => {
  if (text === undefined || text === 'false') return false;
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    if (hops <= maxTrustedHops) return hops === 0 ? false : hops;
    ctx.addIssue({ code: 'custom', message: `${trustProxyForms}: the hop count is above ${maxTrustedHops}` });
    return z.NEVER;
  }
  const entries = text.split(',').map((entry) => entry.trim()).filter(Boolean);
  if (entries.length === 0) {
    ctx.addIssue({ code: 'custom', message: trustProxyForms });
    return z.NEVER;
  }
  const ranges: string[] = [];
  for (const [index, entry] of entries.entries()) {
    const range = parseRange(entry);
    if ('error' in range || isWholeFamily(range)) {
      const problem = 'error' in range ? range.error : 'trusts every address (like true)';
      ctx.addIssue({ code: 'custom', message: `${trustProxyForms}: entry ${index + 1} ${problem}` });
      return z.NEVER;
    }
    ranges.push(formatRange(range));
  }
  return Object.freeze(ranges);
});

const exemptForms = 'must be a comma-separated list of IP addresses and CIDRs';

/**
 * `TESSERA_DETECTION_EXEMPT`: networks detection never blocks, in canonical spelling. Issues
 * name the entry's position, never its text, as for TESSERA_TRUST_PROXY.
 */
export const detectionExempt = optionalText.transform((text, ctx): readonly string[] => {
  const ranges: string[] = [];
  for (const [index, entry] of (text ?? '').split(',').map((part) => part.trim()).filter(Boolean).entries()) {
    const range = parseRange(entry);
    if ('error' in range) {
      ctx.addIssue({ code: 'custom', message: `${exemptForms}: entry ${index + 1} ${range.error}` });
      return z.NEVER;
    }
    ranges.push(formatRange(range));
  }
  return Object.freeze(ranges);
});

export const corsOrigins = optionalText.transform((text, ctx) => {
  if (text === undefined) return Object.freeze([] as string[]);
  const origins = text.split(',').map((origin) => origin.trim()).filter(Boolean);
  for (const origin of origins) {
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      url = undefined;
    }
    if (!url || url.origin !== origin) {
      ctx.addIssue({ code: 'custom', message: 'must be a comma-separated list of origins such as https://app.example.com' });
      return z.NEVER;
    }
  }
  return Object.freeze(origins);
});

/** Loopback hosts as the URL parser spells them (it normalises `127.1`, `[0:0::1]`, case). */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * A URL a reset token travels in (the webhook it is posted to, the page its link opens): https://,
 * or plain http:// to a loopback host only (development; start-up warns about it).
 */
export const tokenBearingUrl = optionalText.refine((text) => {
  if (text === undefined) return true;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
}, 'must be an https:// URL (it carries reset tokens); http:// only for a loopback host (127.0.0.0/8, ::1, localhost)');

/**
 * nodemailer reads transport options from the URL query, and many change where or how it connects
 * (`service` replaces host, port and TLS; `ignoreTLS`, `proxy`, `sendmail`, `logger`, `tls.*`):
 * only these, which change neither, are allowed.
 */
const harmlessSmtpOptions = ['name', 'connectionTimeout', 'greetingTimeout', 'socketTimeout'];

/**
 * Where TESSERA_SMTP_URL connects, undefined unless it is an smtp:// or smtps:// URL with harmless
 * options only. `host` is what nodemailer's parser (node:url `parse`) reads, lower case, IPv6 in
 * brackets; the WHATWG parser must read the same, so no quirk of either passes a remote host off
 * as loopback (which is spared STARTTLS).
 */
export function smtpEndpoint(text: string): { secure: boolean; host: string } | undefined {
  try {
    const url = new URL(text);
    const legacy = parseLegacyUrl(text, true);
    if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') return undefined;
    const options = [...url.searchParams.keys(), ...Object.keys(legacy.query)];
    if (!options.every((option) => harmlessSmtpOptions.includes(option))) return undefined;
    const host = (legacy.hostname ?? '').toLowerCase();
    const bracketed = host.includes(':') ? `[${host}]` : host;
    if (host === '' || bracketed !== url.hostname.toLowerCase()) return undefined;
    return { secure: url.protocol === 'smtps:', host: bracketed };
  } catch {
    return undefined;
  }
}

/** smtp:// (STARTTLS, required unless the host is loopback: outbox/transports.ts) or smtps://. */
export const smtpUrl = optionalText.refine(
  (text) => text === undefined || smtpEndpoint(text) !== undefined,
  `must be an smtp:// or smtps:// URL whose only query options are ${harmlessSmtpOptions.join(', ')} (it carries reset tokens)`,
);

export const bootstrapAdmin = optionalText.transform((text, ctx) => {
  if (text === undefined) return undefined;
  const colon = text.indexOf(':');
  if (colon <= 0 || colon === text.length - 1) {
    // Never echo the value: it holds a password.
    ctx.addIssue({ code: 'custom', message: 'must have the form name:password' });
    return z.NEVER;
  }
  return Object.freeze({ username: text.slice(0, colon), password: text.slice(colon + 1) });
});

/** `<points>/<window>`, e.g. `10/1m`: at most that many requests per window. */
export function rateLimit() {
  return z.string().transform((text, ctx) => {
    const match = /^(\d{1,6})\/(.+)$/.exec(text.trim());
    const windowMs = match ? parseDuration(match[2]!) : undefined;
    if (!match || windowMs === undefined || windowMs < 1000 || Number(match[1]) < 1) {
      ctx.addIssue({ code: 'custom', message: 'must be <count>/<duration>, such as 10/1m' });
      return z.NEVER;
    }
    const limit: RateLimitSetting = Object.freeze({ points: Number(match[1]), windowMs });
    return limit;
  });
}

