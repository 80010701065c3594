import type { SigningAlg } from './schema.js';

/** The one typed, frozen configuration object. Durations are in milliseconds. */
export interface Config {
  /** `PORT`, default 8080. */
  readonly port: number;
  /** `HOST`, default 127.0.0.1. */
  readonly host: string;
  /** `DATABASE_URL`; when absent the embedded PGlite store in `dataDir` is used. */
  readonly databaseUrl: string | undefined;
  /** `REDIS_URL`; when absent hot state is kept in-process. */
  readonly redisUrl: string | undefined;
  /** `TESSERA_REDIS_CLUSTER`, default false: REDIS_URL is a seed node of a Redis Cluster. */
  readonly redisCluster: boolean;
  /** `TESSERA_REDIS_PREFIX`, default "tessera": namespaces Redis keys and channels. */
  readonly redisPrefix: string;
  /** `TESSERA_DATA_DIR`, default ./.tessera (embedded database, development secret). */
  readonly dataDir: string;
  /** `TESSERA_ISSUER`, default http://HOST:PORT; the `iss` of every token. */
  readonly issuer: string;
  /** `TESSERA_AUDIENCE`, default "tessera"; the `aud` of every access token. */
  readonly audience: string;
  /** `TESSERA_SECRET` (at least 32 characters): encrypts private keys at rest. */
  readonly secret: string;
  /** Where the secret came from: the environment, or a development file in the data dir. */
  readonly secretSource: 'env' | 'data-dir';
  /** `TESSERA_SIGNING_ALG`, default RS256. */
  readonly signingAlg: SigningAlg;
  /** `TESSERA_ACCESS_TTL`, default 15m. */
  readonly accessTtlMs: number;
  /** `TESSERA_REFRESH_TTL`, default 7d: idle expiry of a refresh token. */
  readonly refreshTtlMs: number;
  /** `TESSERA_SESSION_MAX_AGE`, default 30d: absolute session lifetime. */
  readonly sessionMaxAgeMs: number;
  /** `TESSERA_REFRESH_REUSE_GRACE`, default 10s. */
  readonly refreshReuseGraceMs: number;
  /** `TESSERA_KEY_ROTATION`, default 90d. */
  readonly keyRotationMs: number;
  /** `TESSERA_MAX_SESSIONS_PER_USER`, default 10. */
  readonly maxSessionsPerUser: number;
  /** `TESSERA_SESSION_BINDING`, default lax. */
  readonly sessionBinding: 'lax' | 'strict';
  /** `TESSERA_SIGNUP`, default closed. */
  readonly signup: 'closed' | 'open';
  /** `TESSERA_RATE_LIMIT_REFRESH`, default 10/1m: refreshes per session. */
  readonly refreshRateLimit: RateLimitSetting;
  /** `TESSERA_RATE_LIMIT_LOGIN_ACCOUNT`, default 5/1m: sign-in attempts per account name and IP. */
  readonly loginAccountRateLimit: RateLimitSetting;
  /** `TESSERA_RATE_LIMIT_LOGIN_IP`, default 20/1m: sign-in attempts per IP across account names. */
  readonly loginIpRateLimit: RateLimitSetting;
  /** `TESSERA_RATE_LIMIT_IP`, default 1000/1h: requests per client network (IPv4 address, IPv6 /64), all routes but health, JWKS and verification. */
  readonly ipRateLimit: RateLimitSetting;
  /** `TESSERA_RATE_LIMIT_SIGNUP`, default 10/1h: registrations per client network, an IPv4 address or IPv6 /64 (when sign-up is open). */
  readonly signupRateLimit: RateLimitSetting;
  /** `TESSERA_RATE_LIMIT_RESET`, default 3/1h: password-reset requests per account name and requesting network. */
  readonly resetRateLimit: RateLimitSetting;
  /** `TESSERA_RATE_LIMIT_RESET_NETWORK`, default 20/1h: password-reset requests per network (IPv4 address, IPv6 /64), all accounts. */
  readonly resetNetworkRateLimit: RateLimitSetting;
  /**
   * `TESSERA_RATE_LIMIT_RESET_MAIL`, default 5/1h: reset mails per account from networks it never
   * signed in from, and per account and network it did; more are silently dropped.
   */
  readonly resetMailRateLimit: RateLimitSetting;
  /**
   * Where reset messages go: `TESSERA_WEBHOOK_URL` (+ `TESSERA_WEBHOOK_SECRET`, HMAC-SHA256 of the
   * body), else `TESSERA_SMTP_URL` (from `TESSERA_MAIL_FROM`), else the log (development).
   * `TESSERA_RESET_URL`: the page the link points at (the token is appended as `token=`).
   */
  readonly outbox: {
    readonly smtpUrl: string | undefined;
    /** smtp:// to a host that is not loopback: STARTTLS must succeed, or the mail is not sent. */
    readonly smtpRequireStartTls: boolean;
    readonly mailFrom: string;
    readonly webhookUrl: string | undefined;
    readonly webhookSecret: string | undefined;
    readonly resetUrl: string | undefined;
  };
  /**
   * Lockout: `TESSERA_LOCKOUT_THRESHOLD` (5) failures within `TESSERA_LOCKOUT_WINDOW` (15m) lock
   * an account for `TESSERA_LOCKOUT_DURATION` (15m), doubling per repeat up to
   * `TESSERA_LOCKOUT_MAX_DURATION` (24h).
   */
  readonly lockout: { readonly threshold: number; readonly windowMs: number; readonly lockMs: number; readonly maxLockMs: number };
  /** `TESSERA_HIBP`, default offline: check new passwords against HIBP's range API when online. */
  readonly hibp: 'offline' | 'online';
  /** `TESSERA_HIBP_URL`, default https://api.pwnedpasswords.com. */
  readonly hibpUrl: string;
  /** `TESSERA_HIBP_FAIL`, default open: on a network failure use the offline list (open) or refuse (closed). */
  readonly hibpFail: 'open' | 'closed';
  /** `TESSERA_PASSWORD_MIN_LENGTH`, default 12 (characters). */
  readonly passwordMinLength: number;
  /** `TESSERA_PASSWORD_MIN_SCORE`, default 3: the zxcvbn strength score (0–4) a new password needs. */
  readonly passwordMinScore: number;
  /**
   * `TESSERA_TRUST_PROXY`: false (default), a hop count (1–16), or trusted proxy IPs/CIDRs in
   * canonical spelling; `resolveClientAddress` (protection/client-address.ts) applies it.
   */
  readonly trustProxy: false | number | readonly string[];
  /** `TESSERA_CORS_ORIGINS`: origins allowed by CORS; empty (default) sends no CORS headers. */
  readonly corsOrigins: readonly string[];
  /** `TESSERA_METRICS_TOKEN`: bearer token required by /metrics when set. */
  readonly metricsToken: string | undefined;
  /** `TESSERA_AUDIT_RETENTION`, default 365d. */
  readonly auditRetentionMs: number;
  /** `TESSERA_AUDIT_HEAD_INTERVAL`, default 1h (1m to 7d): how often one instance logs the signed audit head. */
  readonly auditHeadIntervalMs: number;
  /** `TESSERA_IP_BLOCK_DURATION`, default 15m: how long a detection rule blocks a source IP from signing in; 0 never blocks. */
  readonly ipBlockMs: number;
  /**
   * `TESSERA_DETECTION_EXEMPT`: IPs/CIDRs (canonical spelling) that detection never blocks; their
   * incidents still open. Empty by default.
   */
  readonly detectionExempt: readonly string[];
  /** `TESSERA_BOOTSTRAP_ADMIN` (`name:password`): the first admin, created when there are no users. */
  readonly bootstrapAdmin: { readonly username: string; readonly password: string } | undefined;
  /** `TESSERA_LOG_LEVEL`, default info. */
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Development defaults in effect, each a sentence; logged once at start-up. */
  readonly warnings: readonly string[];
}

export interface RateLimitSetting {
  readonly points: number;
  readonly windowMs: number;
}

export interface ConfigIssue {
  variable: string;
  message: string;
}

/** Thrown for an invalid configuration; its message names every offending variable. */
export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    super(
      `Invalid configuration:\n${issues.map((issue) => `  ${issue.variable}: ${issue.message}`).join('\n')}`,
    );
    this.name = 'ConfigError';
    this.issues = issues;
  }
}
