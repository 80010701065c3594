/**
 * Every setting Tessera reads, written once: its environment variable, the property of `Config`
 * it fills (the key path in `settings`), its parser, its default and its description. `Config`
 * (config.ts) is computed from this table, `parseConfig` (load.ts) walks it, and the README's
 * configuration table is generated from it (`npm run docs`).
 */
import { z } from 'zod';
import {
  bootstrapAdmin,
  corsOrigins,
  databaseUrl,
  detectionExempt,
  duration,
  integer,
  issuerUrl,
  optionalText,
  rateLimit,
  redisUrl,
  signingAlgs,
  smtpUrl,
  tokenBearingUrl,
  trustProxy,
} from './parsers.js';

export type { SigningAlg } from './parsers.js';

/** One environment variable and how it becomes a property of `Config`. */
export interface Setting<T> {
  readonly variable: string;
  /** Parses the variable's text (undefined when unset) into the property's value. */
  readonly schema: z.ZodType<T, string | undefined>;
  /** The default as it would be written in the environment; undefined when there is none. */
  readonly default: string | undefined;
  /** The default as the documentation shows it (`15m`; or unset, or how it is computed). */
  readonly defaultText: string;
  /** What the setting does, for the configuration reference (Markdown, one paragraph). */
  readonly description: string;
  /** `later`: validated and accepted, but nothing uses it yet in this release. */
  readonly status: 'used' | 'later';
}

interface Described {
  variable: string;
  description: string;
  later?: true;
}

/** A setting with a default, written as it would be in the environment (`15m`, `10/1m`). */
function setting<S extends z.ZodType<unknown, string>>(definition: Described & { default: string; parse: S }): Setting<z.output<S>>;
/** A setting without a default value: `parse` receives undefined when it is unset. */
function setting<S extends z.ZodType<unknown, string | undefined>>(definition: Described & { unset: string; parse: S }): Setting<z.output<S>>;
function setting(definition: Described & { default?: string; unset?: string; parse: z.ZodType<unknown, string | undefined> }): Setting<unknown> {
  const { variable, description, later, parse } = definition;
  return {
    variable,
    schema: definition.default === undefined ? parse : z.string().default(definition.default).pipe(parse as z.ZodType<unknown, string>),
    default: definition.default,
    defaultText: definition.default === undefined ? definition.unset! : `\`${definition.default}\``,
    description,
    status: later ? 'later' : 'used',
  };
}

/** A group of settings, or a setting: the shape of `Config`. */
export interface SettingTree {
  readonly [property: string]: Setting<unknown> | SettingTree;
}

/** The values a tree of settings parses into, property for property. */
export type SettingValues<T> = {
  readonly [K in keyof T]: T[K] extends Setting<infer V> ? V : SettingValues<T[K]>;
};

export function isSetting(node: Setting<unknown> | SettingTree): node is Setting<unknown> {
  return typeof node.variable === 'string' && 'schema' in node;
}

/** The settings in `Config`'s shape (SPEC §8); durations are in milliseconds. */
export const settings = {
  port: setting({ variable: 'PORT', default: '8080', parse: integer(0, 65535), description: 'TCP port to listen on (0–65535).' }),
  host: setting({
    variable: 'HOST',
    default: '127.0.0.1',
    parse: z.string().trim().min(1),
    description: 'Address to listen on. Use `0.0.0.0` or `::` to accept remote connections.',
  }),
  databaseUrl: setting({
    variable: 'DATABASE_URL',
    unset: 'unset',
    parse: databaseUrl,
    description: 'A `postgres://` or `postgresql://` URL. When unset, the embedded PGlite store in `TESSERA_DATA_DIR/pgdata` is used.',
  }),
  redisUrl: setting({
    variable: 'REDIS_URL',
    unset: 'unset',
    parse: redisUrl,
    description:
      'A `redis://` or `rediss://` URL of a Redis, or of any one node of a Redis Cluster with `TESSERA_REDIS_CLUSTER=true` (see [operations](docs/operations.md#redis)). Holds the revocation fan-out (pub/sub) and the refresh rate-limit counters, shared by every instance. When unset, both stay in the process. Redis must be reachable at start-up.',
  }),
  redisCluster: setting({
    variable: 'TESSERA_REDIS_CLUSTER',
    default: 'false',
    parse: z.enum(['true', 'false']).transform((flag) => flag === 'true'),
    description: '`true` when `REDIS_URL` is a node of a Redis Cluster (the others are discovered).',
  }),
  redisPrefix: setting({
    variable: 'TESSERA_REDIS_PREFIX',
    default: 'tessera',
    parse: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1 to 64 letters, digits, "_", ".", ":" or "-"'),
    description: 'Prefix of every Redis key and channel (1–64 of `A–Z a–z 0–9 _ . : -`). Give deployments that share one Redis different prefixes.',
  }),
  dataDir: setting({
    variable: 'TESSERA_DATA_DIR',
    default: './.tessera',
    parse: z.string().trim().min(1),
    description: 'Holds the embedded database, and the development secret when `TESSERA_SECRET` is unset.',
  }),
  /** Unset here; load.ts fills in http://HOST:PORT. */
  issuer: setting({
    variable: 'TESSERA_ISSUER',
    unset: '`http://HOST:PORT`',
    parse: issuerUrl,
    description:
      'Public base URL of Tessera: the `iss` of every token and the base of the discovery URLs. Must be an `http(s)` URL with no query, fragment or credentials. Trailing `/` is removed. An `https:` issuer turns on HSTS.',
  }),
  audience: setting({
    variable: 'TESSERA_AUDIENCE',
    default: 'tessera',
    parse: z.string().trim().min(1).max(256),
    description: 'The `aud` of every access token (1–256 characters).',
  }),
  /** Unset here; load.ts falls back to the development secret. */
  secret: setting({
    variable: 'TESSERA_SECRET',
    unset: 'generated (development)',
    parse: optionalText.refine(
      (secret) => secret === undefined || Buffer.byteLength(secret) >= 32,
      'must be at least 32 bytes long (generate one with `openssl rand -base64 48`)',
    ),
    description:
      "At least 32 bytes. Encrypts private signing keys at rest, and the copy of a rotated refresh token's successor pair kept for the grace window. Every instance needs the same one. When unset, a random secret is generated once and kept in `TESSERA_DATA_DIR/secret`. Generate one with `openssl rand -base64 48`.",
  }),
  signingAlg: setting({
    variable: 'TESSERA_SIGNING_ALG',
    default: 'RS256',
    parse: z.enum(signingAlgs),
    description: 'Access-token signing algorithm: `RS256`, `PS256`, `ES256` or `EdDSA`. Changing it creates a new key and retires the old one.',
  }),
  accessTtlMs: setting({
    variable: 'TESSERA_ACCESS_TTL',
    default: '15m',
    parse: duration({ min: 30_000, max: 86_400_000 }),
    description:
      'Access-token lifetime (30 s – 1 d); a token never outlives its session. Revocations are kept this long plus 31 s. Give every instance the same value.',
  }),
  refreshTtlMs: setting({
    variable: 'TESSERA_REFRESH_TTL',
    default: '7d',
    parse: duration({ min: 60_000 }),
    description:
      'Idle lifetime of a refresh token (≥ 1 m). Each refresh issues a token that expires this long after it, never after the session\'s end. A session unused for this long has ended.',
  }),
  sessionMaxAgeMs: setting({
    variable: 'TESSERA_SESSION_MAX_AGE',
    default: '30d',
    parse: duration({ min: 60_000 }),
    description: 'Absolute lifetime of a session (≥ 1 m, and not shorter than `TESSERA_REFRESH_TTL`).',
  }),
  refreshReuseGraceMs: setting({
    variable: 'TESSERA_REFRESH_REUSE_GRACE',
    default: '10s',
    parse: duration({ min: 0, max: 300_000 }),
    description:
      'Window after a rotation in which presenting the old refresh token again returns the same successor pair instead of revoking the session (0 s – 5 m; `0s` turns the window off).',
  }),
  keyRotationMs: setting({
    variable: 'TESSERA_KEY_ROTATION',
    default: '90d',
    parse: duration({ min: 3_600_000 }),
    description: 'Automatic signing-key rotation interval (≥ 1 h), counted from the newest key\'s activation; one instance rotates. A new key is published 6 min 30 s before it signs (JWKS max-age, one key reload and a clock margin); see docs/operations.md.',
  }),
  maxSessionsPerUser: setting({
    variable: 'TESSERA_MAX_SESSIONS_PER_USER',
    default: '10',
    parse: integer(1, 10_000),
    description: 'Most active sessions a user may have (1–10000). A new sign-in past the limit ends the oldest sessions (by creation time).',
  }),
  sessionBinding: setting({
    variable: 'TESSERA_SESSION_BINDING',
    default: 'lax',
    parse: z.enum(['lax', 'strict']),
    description:
      "`lax`: a refresh from another IP or user agent than the session's last is allowed and raises a `session.context_changed` event. `strict`: it ends the session (401 `invalid_grant`).",
  }),
  signup: setting({
    variable: 'TESSERA_SIGNUP',
    default: 'closed',
    parse: z.enum(['closed', 'open']),
    description: '`open` allows self-service `POST /auth/register`. `closed` answers it with 403 `signup_disabled`.',
  }),
  refreshRateLimit: setting({
    variable: 'TESSERA_RATE_LIMIT_REFRESH',
    default: '10/1m',
    parse: rateLimit(),
    description:
      'Refreshes allowed per session, as `<count>/<window>` (count 1–999999, window ≥ 1 s). Past it, `POST /auth/refresh` answers 429 `rate_limited` with `Retry-After`. Counted in Redis when `REDIS_URL` is set, in the process otherwise (and while Redis is unreachable).',
  }),
  loginAccountRateLimit: setting({
    variable: 'TESSERA_RATE_LIMIT_LOGIN_ACCOUNT',
    default: '5/1m',
    parse: rateLimit(),
    description: 'Failed sign-in attempts per account name and IP (a successful sign-in does not count).',
  }),
  loginIpRateLimit: setting({
    variable: 'TESSERA_RATE_LIMIT_LOGIN_IP',
    default: '20/1m',
    parse: rateLimit(),
    description: 'Sign-in attempts per client IP across all names (`<count>/<duration>`).',
  }),
  ipRateLimit: setting({
    variable: 'TESSERA_RATE_LIMIT_IP',
    default: '1000/1h',
    parse: rateLimit(),
    description: 'Requests per client network (IPv4 address, IPv6 /64) on every route but health, metrics, JWKS and verification.',
  }),
  signupRateLimit: setting({
    variable: 'TESSERA_RATE_LIMIT_SIGNUP',
    default: '10/1h',
    parse: rateLimit(),
    description: 'Registrations per client network (IPv4 address, IPv6 /64) when sign-up is open.',
  }),
  resetRateLimit: setting({
    variable: 'TESSERA_RATE_LIMIT_RESET',
    default: '3/1h',
    parse: rateLimit(),
    description: 'Password-reset requests per account name (as typed) and requesting network (IPv4 address or IPv6 /64).',
  }),
  resetNetworkRateLimit: setting({
    variable: 'TESSERA_RATE_LIMIT_RESET_NETWORK',
    default: '20/1h',
    parse: rateLimit(),
    description: 'Password-reset requests per network (IPv4 address or IPv6 /64), whatever the names.',
  }),
  resetMailRateLimit: setting({
    variable: 'TESSERA_RATE_LIMIT_RESET_MAIL',
    default: '5/1h',
    parse: rateLimit(),
    description:
      'Password-reset mails per account from networks it never signed in from, and per account and network it did; more are dropped silently (the answer is still 202) and logged.',
  }),
  apiKeyRateLimit: setting({
    variable: 'TESSERA_API_KEY_RATE_LIMIT',
    default: '600/1m',
    parse: rateLimit(),
    description: 'Verifications per API key (`GET`/`POST /auth/verify`, `POST /auth/introspect`), as `<count>/<window>`. Past it, the request is answered 429 `rate_limited` with `Retry-After`.',
  }),
  /**
   * Where reset messages go: the webhook when set, else SMTP, else the log (development).
   * load.ts adds `smtpRequireStartTls`.
   */
  outbox: {
    smtpUrl: setting({
      variable: 'TESSERA_SMTP_URL',
      unset: 'unset',
      parse: smtpUrl,
      description: '`smtps://` or `smtp://` URL for reset mail; `smtp://` requires STARTTLS except to a loopback host (with a start-up warning).',
    }),
    mailFrom: setting({
      variable: 'TESSERA_MAIL_FROM',
      default: 'Tessera <no-reply@localhost>',
      parse: z.string().trim().min(3).max(256),
      description: 'Sender of reset mail.',
    }),
    webhookUrl: setting({
      variable: 'TESSERA_WEBHOOK_URL',
      unset: 'unset',
      parse: tokenBearingUrl,
      description:
        'Deliver reset messages as signed JSON POSTs here instead of mail. `https://`; `http://` only to a loopback host (with a start-up warning).',
    }),
    webhookSecret: setting({
      variable: 'TESSERA_WEBHOOK_SECRET',
      unset: 'unset',
      parse: optionalText.refine((secret) => secret === undefined || secret.length >= 16, 'must be at least 16 characters'),
      description: 'HMAC-SHA256 key of the webhook signature (required with the URL, ≥ 16 characters).',
    }),
    resetUrl: setting({
      variable: 'TESSERA_RESET_URL',
      unset: 'unset',
      parse: tokenBearingUrl,
      description: 'The page reset links point at (`?token=` is appended). `https://`; `http://` only to a loopback host (with a start-up warning).',
    }),
  },
  /** Failures within the window lock an account, doubling per repeat up to the longest lock. */
  lockout: {
    threshold: setting({
      variable: 'TESSERA_LOCKOUT_THRESHOLD',
      default: '5',
      parse: integer(1, 1000),
      description: 'Failed passwords that lock an account (1–1000).',
    }),
    windowMs: setting({
      variable: 'TESSERA_LOCKOUT_WINDOW',
      default: '15m',
      parse: duration({ min: 1000 }),
      description: 'The window those failures are counted in.',
    }),
    lockMs: setting({
      variable: 'TESSERA_LOCKOUT_DURATION',
      default: '15m',
      parse: duration({ min: 1000 }),
      description: 'The first lock; each repeat doubles it.',
    }),
    /** load.ts raises it to the first lock when it is shorter. */
    maxLockMs: setting({
      variable: 'TESSERA_LOCKOUT_MAX_DURATION',
      default: '24h',
      parse: duration({ min: 1000 }),
      description: 'The longest lock (never shorter than `TESSERA_LOCKOUT_DURATION`).',
    }),
  },
  hibp: setting({
    variable: 'TESSERA_HIBP',
    default: 'offline',
    parse: z.enum(['offline', 'online']),
    description:
      '`offline`: new passwords are checked against the bundled list of common leaked passwords; `online`: also against the Have I Been Pwned range API (k-anonymity: only a 5-character SHA-1 prefix is sent, with padding).',
  }),
  hibpUrl: setting({
    variable: 'TESSERA_HIBP_URL',
    default: 'https://api.pwnedpasswords.com',
    parse: z
      .string()
      .trim()
      .refine((url) => /^https?:\/\/[^\s]+$/.test(url), 'must be an http(s) URL'),
    description: 'Base URL of the range API (`<url>/range/<prefix>`).',
  }),
  hibpFail: setting({
    variable: 'TESSERA_HIBP_FAIL',
    default: 'open',
    parse: z.enum(['open', 'closed']),
    description: 'When the range API is unreachable (2 s timeout): `open` uses the offline list and logs it; `closed` refuses the new password with 503.',
  }),
  passwordMinLength: setting({
    variable: 'TESSERA_PASSWORD_MIN_LENGTH',
    default: '12',
    parse: integer(8, 128),
    description: 'Minimum length of a new password, in characters (8–128).',
  }),
  passwordMinScore: setting({
    variable: 'TESSERA_PASSWORD_MIN_SCORE',
    default: '3',
    parse: integer(0, 4),
    description: 'zxcvbn strength score (0–4) a new password needs.',
  }),
  /** Applied by `resolveClientAddress` (protection/client-address.ts). */
  trustProxy: setting({
    variable: 'TESSERA_TRUST_PROXY',
    unset: 'unset (`false`)',
    parse: trustProxy,
    description:
      'Which proxies may set `X-Forwarded-For`: a hop count from 1 to 16 (`1`), or a comma-separated list of IPs and CIDRs (`127.0.0.1,10.0.0.0/8`). When unset, forwarded headers are ignored; any other value (`true`, `loopback`, a hostname, a bad CIDR) stops start-up. The resolved client IP is what sessions, session binding, events, logs and per-IP limits use ([security.md](docs/security.md#trusted-proxies)).',
  }),
  corsOrigins: setting({
    variable: 'TESSERA_CORS_ORIGINS',
    unset: 'unset',
    parse: corsOrigins,
    description: 'Comma-separated exact origins allowed by CORS (`https://app.example.com`). When unset, no CORS headers are sent.',
  }),
  metricsToken: setting({
    variable: 'TESSERA_METRICS_TOKEN',
    unset: 'unset',
    parse: optionalText,
    description:
      'When set, `GET /metrics` requires `Authorization: Bearer <this value>` (else 401). When unset, `/metrics` is open: set it in production (see [metrics](docs/operations.md#metrics)).',
  }),
  auditRetentionMs: setting({
    variable: 'TESSERA_AUDIT_RETENTION',
    default: '365d',
    parse: duration({ min: 86_400_000 }),
    description:
      'How long audit records are kept (≥ 1 d). Older ones are removed hourly, leaving an `audit.pruned` anchor so the chain still verifies (see [operations](docs/operations.md#retention-and-anchors)).',
  }),
  auditHeadIntervalMs: setting({
    variable: 'TESSERA_AUDIT_HEAD_INTERVAL',
    default: '1h',
    parse: duration({ min: 60_000, max: 7 * 86_400_000 }),
    description:
      'How often one instance logs the signed audit head (`audit head`: seq, hash, time, MAC, token), 1 m to 7 d, so truncation of the newest records can be caught (see [operations](docs/operations.md#verifying-it)).',
  }),
  ipBlockMs: setting({
    variable: 'TESSERA_IP_BLOCK_DURATION',
    default: '15m',
    parse: duration({ min: 0, max: 7 * 86_400_000 }),
    description:
      'How long a detection rule blocks a source network (IPv4 address or IPv6 /64) from signing in, signing up and resetting passwords (403 `ip_blocked`); `0s` never blocks. Existing sessions are never affected (see [detection](docs/security.md#detection)); resolving the incident lifts its block.',
  }),
  detectionExempt: setting({
    variable: 'TESSERA_DETECTION_EXEMPT',
    unset: 'unset',
    parse: detectionExempt,
    description: 'Comma-separated IPs and CIDRs (`127.0.0.0/8,::1`) that detection never blocks; their incidents still open. A malformed entry stops start-up.',
  }),
  bootstrapAdmin: setting({
    variable: 'TESSERA_BOOTSTRAP_ADMIN',
    unset: 'unset',
    parse: bootstrapAdmin,
    description:
      '`name:password`. Creates this user with role `admin` when there are no users. While there are no users, an invalid name or a password that fails the policy stops start-up.',
  }),
  logLevel: setting({
    variable: 'TESSERA_LOG_LEVEL',
    default: 'info',
    parse: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    description: '`fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`. `npm test` defaults to `silent`.',
  }),
  accessLog: setting({
    variable: 'TESSERA_ACCESS_LOG',
    default: 'standard',
    parse: z.enum(['standard', 'all', 'errors']),
    description:
      'Access log, one `request completed` line per request (at `info`; at `error` for a 5xx answer). `standard`: every request, except that `GET /auth/verify`, `/healthz`, `/readyz` and `/metrics` log no successes and at most 10 refusals (4xx) a second per route and status. `all`: every request. `errors`: only 5xx answers.',
  }),
} satisfies SettingTree;

/** Every setting of a tree, in its order, with the property path it fills. */
export function settingsOf(tree: SettingTree, path: readonly string[] = []): { path: readonly string[]; setting: Setting<unknown> }[] {
  return Object.entries(tree).flatMap(([property, node]) =>
    isSetting(node) ? [{ path: [...path, property], setting: node }] : settingsOf(node, [...path, property]),
  );
}

/** The environment variables Tessera reads: one parser each, so every issue's path names its variable. */
export const envSchema = z.object(Object.fromEntries(settingsOf(settings).map(({ setting }) => [setting.variable, setting.schema])));
