import { parse as parseLegacyUrl } from 'node:url';
import { z } from 'zod';
import { maxTrustedHops } from '../protection/client-address.js';
import { formatRange, isWholeFamily, parseRange } from '../protection/ip-address.js';
import { formatDuration, parseDuration } from './duration.js';

const signingAlgs = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;
export type SigningAlg = (typeof signingAlgs)[number];

function duration(fallback: string, { min = 1000, max = 3650 * 86_400_000 } = {}) {
  return z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
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

function integer(fallback: number, min: number, max: number) {
  return z
    .string()
    .default(String(fallback))
    .transform((text, ctx) => {
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

const optionalText = z
  .string()
  .optional()
  .transform((text) => (text === undefined || text.trim() === '' ? undefined : text.trim()));

function databaseUrl() {
  return optionalText.refine(
    (url) => url === undefined || /^postgres(ql)?:\/\//.test(url),
    'must be a postgres:// or postgresql:// URL',
  );
}

const issuerUrl = optionalText.transform((text, ctx) => {
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
const trustProxy = optionalText.transform((text, ctx): number | string[] | false => {
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
  return ranges;
});

const exemptForms = 'must be a comma-separated list of IP addresses and CIDRs';

/**
 * `TESSERA_DETECTION_EXEMPT`: networks detection never blocks, in canonical spelling. Issues
 * name the entry's position, never its text, as for TESSERA_TRUST_PROXY.
 */
const detectionExempt = optionalText.transform((text, ctx): string[] => {
  const ranges: string[] = [];
  for (const [index, entry] of (text ?? '').split(',').map((part) => part.trim()).filter(Boolean).entries()) {
    const range = parseRange(entry);
    if ('error' in range) {
      ctx.addIssue({ code: 'custom', message: `${exemptForms}: entry ${index + 1} ${range.error}` });
      return z.NEVER;
    }
    ranges.push(formatRange(range));
  }
  return ranges;
});

const corsOrigins = optionalText.transform((text, ctx) => {
  if (text === undefined) return [] as string[];
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
  return origins;
});

/** Loopback hosts as the URL parser spells them (it normalises `127.1`, `[0:0::1]`, case). */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * A URL a reset token travels in (the webhook it is posted to, the page its link opens): https://,
 * or plain http:// to a loopback host only (development; start-up warns about it).
 */
const tokenBearingUrl = optionalText.refine((text) => {
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
const smtpUrl = optionalText.refine(
  (text) => text === undefined || smtpEndpoint(text) !== undefined,
  `must be an smtp:// or smtps:// URL whose only query options are ${harmlessSmtpOptions.join(', ')} (it carries reset tokens)`,
);

const bootstrapAdmin = optionalText.transform((text, ctx) => {
  if (text === undefined) return undefined;
  const colon = text.indexOf(':');
  if (colon <= 0 || colon === text.length - 1) {
    // Never echo the value: it holds a password.
    ctx.addIssue({ code: 'custom', message: 'must have the form name:password' });
    return z.NEVER;
  }
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
});

/** `<points>/<window>`, e.g. `10/1m`: at most that many requests per window. */
function rateLimit(fallback: string) {
  return z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const match = /^(\d{1,6})\/(.+)$/.exec(text.trim());
      const windowMs = match ? parseDuration(match[2]!) : undefined;
      if (!match || windowMs === undefined || windowMs < 1000 || Number(match[1]) < 1) {
        ctx.addIssue({ code: 'custom', message: 'must be <count>/<duration>, such as 10/1m' });
        return z.NEVER;
      }
      return { points: Number(match[1]), windowMs };
    });
}

/** The environment variables Tessera reads, with their defaults (SPEC §8). */
export const envSchema = z.object({
  PORT: integer(8080, 0, 65535),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  DATABASE_URL: databaseUrl(),
  REDIS_URL: optionalText.refine(
    (url) => url === undefined || /^rediss?:\/\//.test(url),
    'must be a redis:// or rediss:// URL',
  ),
  TESSERA_REDIS_CLUSTER: z.enum(['true', 'false']).default('false'),
  TESSERA_REDIS_PREFIX: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1 to 64 letters, digits, "_", ".", ":" or "-"')
    .default('tessera'),
  TESSERA_DATA_DIR: z.string().trim().min(1).default('./.tessera'),
  TESSERA_ISSUER: issuerUrl,
  TESSERA_AUDIENCE: z.string().trim().min(1).max(256).default('tessera'),
  TESSERA_SECRET: optionalText.refine(
    (secret) => secret === undefined || Buffer.byteLength(secret) >= 32,
    'must be at least 32 bytes long (generate one with `openssl rand -base64 48`)',
  ),
  TESSERA_SIGNING_ALG: z.enum(signingAlgs).default('RS256'),
  TESSERA_ACCESS_TTL: duration('15m', { min: 30_000, max: 86_400_000 }),
  TESSERA_REFRESH_TTL: duration('7d', { min: 60_000 }),
  TESSERA_SESSION_MAX_AGE: duration('30d', { min: 60_000 }),
  TESSERA_REFRESH_REUSE_GRACE: duration('10s', { min: 0, max: 300_000 }),
  TESSERA_KEY_ROTATION: duration('90d', { min: 3_600_000 }),
  TESSERA_MAX_SESSIONS_PER_USER: integer(10, 1, 10_000),
  TESSERA_SESSION_BINDING: z.enum(['lax', 'strict']).default('lax'),
  TESSERA_SIGNUP: z.enum(['closed', 'open']).default('closed'),
  TESSERA_RATE_LIMIT_REFRESH: rateLimit('10/1m'),
  TESSERA_RATE_LIMIT_LOGIN_ACCOUNT: rateLimit('5/1m'),
  TESSERA_RATE_LIMIT_LOGIN_IP: rateLimit('20/1m'),
  TESSERA_RATE_LIMIT_IP: rateLimit('1000/1h'),
  TESSERA_RATE_LIMIT_SIGNUP: rateLimit('10/1h'),
  TESSERA_RATE_LIMIT_RESET: rateLimit('3/1h'),
  TESSERA_RATE_LIMIT_RESET_NETWORK: rateLimit('20/1h'),
  TESSERA_RATE_LIMIT_RESET_MAIL: rateLimit('5/1h'),
  TESSERA_SMTP_URL: smtpUrl,
  TESSERA_MAIL_FROM: z.string().trim().min(3).max(256).default('Tessera <no-reply@localhost>'),
  TESSERA_WEBHOOK_URL: tokenBearingUrl,
  TESSERA_WEBHOOK_SECRET: optionalText.refine((secret) => secret === undefined || secret.length >= 16, 'must be at least 16 characters'),
  TESSERA_RESET_URL: tokenBearingUrl,
  TESSERA_LOCKOUT_THRESHOLD: integer(5, 1, 1000),
  TESSERA_LOCKOUT_WINDOW: duration('15m', { min: 1000 }),
  TESSERA_LOCKOUT_DURATION: duration('15m', { min: 1000 }),
  TESSERA_LOCKOUT_MAX_DURATION: duration('24h', { min: 1000 }),
  TESSERA_HIBP: z.enum(['offline', 'online']).default('offline'),
  TESSERA_HIBP_URL: z
    .string()
    .trim()
    .default('https://api.pwnedpasswords.com')
    .refine((url) => /^https?:\/\/[^\s]+$/.test(url), 'must be an http(s) URL'),
  TESSERA_HIBP_FAIL: z.enum(['open', 'closed']).default('open'),
  TESSERA_PASSWORD_MIN_LENGTH: integer(12, 8, 128),
  TESSERA_PASSWORD_MIN_SCORE: integer(3, 0, 4),
  TESSERA_TRUST_PROXY: trustProxy,
  TESSERA_CORS_ORIGINS: corsOrigins,
  TESSERA_METRICS_TOKEN: optionalText,
  TESSERA_AUDIT_RETENTION: duration('365d', { min: 86_400_000 }),
  TESSERA_AUDIT_HEAD_INTERVAL: duration('1h', { min: 60_000, max: 7 * 86_400_000 }),
  TESSERA_IP_BLOCK_DURATION: duration('15m', { min: 0, max: 7 * 86_400_000 }),
  TESSERA_DETECTION_EXEMPT: detectionExempt,
  TESSERA_BOOTSTRAP_ADMIN: bootstrapAdmin,
  TESSERA_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Env = z.input<typeof envSchema>;
export type ParsedEnv = z.output<typeof envSchema>;
