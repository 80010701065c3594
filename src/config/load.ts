import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { ConfigError, type Config } from './config.js';
import { envSchema, isLoopbackHost, smtpEndpoint } from './schema.js';

type EnvSource = Readonly<Record<string, string | undefined>>;

export interface ParseOptions {
  /** Used when TESSERA_SECRET is not set (development); without it a missing secret is an error. */
  fallbackSecret?: string;
}

/** Parses environment variables into a frozen Config. Pure: reads no files. */
export function parseConfig(env: EnvSource, options: ParseOptions = {}): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? 'environment'),
        message: issue.code === 'invalid_value' ? `must be one of: ${issue.values.join(', ')}` : issue.message,
      })),
    );
  }
  const e = parsed.data;
  const secret = e.TESSERA_SECRET ?? options.fallbackSecret;
  if (secret === undefined) {
    throw new ConfigError([{ variable: 'TESSERA_SECRET', message: 'is required' }]);
  }
  const issuer = e.TESSERA_ISSUER ?? `http://${e.HOST.includes(':') ? `[${e.HOST}]` : e.HOST}:${e.PORT}`;
  if (e.TESSERA_SESSION_MAX_AGE < e.TESSERA_REFRESH_TTL) {
    throw new ConfigError([
      { variable: 'TESSERA_SESSION_MAX_AGE', message: 'must not be shorter than TESSERA_REFRESH_TTL' },
    ]);
  }

  if (e.TESSERA_WEBHOOK_URL !== undefined && e.TESSERA_WEBHOOK_SECRET === undefined) {
    throw new ConfigError([{ variable: 'TESSERA_WEBHOOK_SECRET', message: 'is required with TESSERA_WEBHOOK_URL (it signs every delivery)' }]);
  }
  const warnings: string[] = [];
  if (e.TESSERA_SECRET === undefined) {
    warnings.push('TESSERA_SECRET is not set: using a generated development secret kept in the data directory');
  }
  if (e.DATABASE_URL === undefined) {
    warnings.push('DATABASE_URL is not set: using the embedded single-process store (PGlite) in the data directory');
  }
  if (issuer.startsWith('http:')) {
    warnings.push(`the issuer ${issuer} is plain HTTP: set TESSERA_ISSUER to the https:// URL clients use`);
  }
  if (e.TESSERA_WEBHOOK_URL === undefined && e.TESSERA_SMTP_URL === undefined) {
    warnings.push('no TESSERA_SMTP_URL or TESSERA_WEBHOOK_URL: password-reset links are written to the log');
  }
  for (const [variable, url] of [
    ['TESSERA_WEBHOOK_URL', e.TESSERA_WEBHOOK_URL],
    ['TESSERA_RESET_URL', e.TESSERA_RESET_URL],
  ] as const) {
    // The schema allows plain HTTP for loopback hosts only.
    if (url?.toLowerCase().startsWith('http:')) warnings.push(`${variable} is plain HTTP (a loopback host): reset tokens travel in it unencrypted`);
  }
  // The schema has checked the URL: the host is where nodemailer connects.
  const smtp = e.TESSERA_SMTP_URL === undefined ? undefined : smtpEndpoint(e.TESSERA_SMTP_URL);
  const smtpPlainLoopback = smtp?.secure === false && isLoopbackHost(smtp.host);
  if (smtpPlainLoopback) {
    warnings.push('TESSERA_SMTP_URL is smtp:// to a loopback host: STARTTLS is not required, so reset tokens may reach it unencrypted');
  }
  if (e.TESSERA_SIGNUP === 'open') {
    warnings.push('TESSERA_SIGNUP=open: anyone can create an account');
  }

  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    redisPrefix: e.TESSERA_REDIS_PREFIX,
    redisCluster: e.TESSERA_REDIS_CLUSTER === 'true',
    dataDir: e.TESSERA_DATA_DIR,
    issuer,
    audience: e.TESSERA_AUDIENCE,
    secret,
    secretSource: e.TESSERA_SECRET === undefined ? 'data-dir' : 'env',
    signingAlg: e.TESSERA_SIGNING_ALG,
    accessTtlMs: e.TESSERA_ACCESS_TTL,
    refreshTtlMs: e.TESSERA_REFRESH_TTL,
    sessionMaxAgeMs: e.TESSERA_SESSION_MAX_AGE,
    refreshReuseGraceMs: e.TESSERA_REFRESH_REUSE_GRACE,
    keyRotationMs: e.TESSERA_KEY_ROTATION,
    maxSessionsPerUser: e.TESSERA_MAX_SESSIONS_PER_USER,
    sessionBinding: e.TESSERA_SESSION_BINDING,
    signup: e.TESSERA_SIGNUP,
    refreshRateLimit: Object.freeze(e.TESSERA_RATE_LIMIT_REFRESH),
    loginAccountRateLimit: Object.freeze(e.TESSERA_RATE_LIMIT_LOGIN_ACCOUNT),
    loginIpRateLimit: Object.freeze(e.TESSERA_RATE_LIMIT_LOGIN_IP),
    ipRateLimit: Object.freeze(e.TESSERA_RATE_LIMIT_IP),
    signupRateLimit: Object.freeze(e.TESSERA_RATE_LIMIT_SIGNUP),
    resetRateLimit: Object.freeze(e.TESSERA_RATE_LIMIT_RESET),
    resetNetworkRateLimit: Object.freeze(e.TESSERA_RATE_LIMIT_RESET_NETWORK),
    resetMailRateLimit: Object.freeze(e.TESSERA_RATE_LIMIT_RESET_MAIL),
    outbox: Object.freeze({
      smtpUrl: e.TESSERA_SMTP_URL,
      smtpRequireStartTls: smtp?.secure === false && !smtpPlainLoopback,
      mailFrom: e.TESSERA_MAIL_FROM,
      webhookUrl: e.TESSERA_WEBHOOK_URL,
      webhookSecret: e.TESSERA_WEBHOOK_SECRET,
      resetUrl: e.TESSERA_RESET_URL,
    }),
    lockout: Object.freeze({
      threshold: e.TESSERA_LOCKOUT_THRESHOLD,
      windowMs: e.TESSERA_LOCKOUT_WINDOW,
      lockMs: e.TESSERA_LOCKOUT_DURATION,
      maxLockMs: Math.max(e.TESSERA_LOCKOUT_MAX_DURATION, e.TESSERA_LOCKOUT_DURATION),
    }),
    hibp: e.TESSERA_HIBP,
    hibpUrl: e.TESSERA_HIBP_URL,
    hibpFail: e.TESSERA_HIBP_FAIL,
    passwordMinLength: e.TESSERA_PASSWORD_MIN_LENGTH,
    passwordMinScore: e.TESSERA_PASSWORD_MIN_SCORE,
    trustProxy: Array.isArray(e.TESSERA_TRUST_PROXY)
      ? Object.freeze([...e.TESSERA_TRUST_PROXY])
      : e.TESSERA_TRUST_PROXY,
    corsOrigins: Object.freeze([...e.TESSERA_CORS_ORIGINS]),
    metricsToken: e.TESSERA_METRICS_TOKEN,
    auditRetentionMs: e.TESSERA_AUDIT_RETENTION,
    auditHeadIntervalMs: e.TESSERA_AUDIT_HEAD_INTERVAL,
    ipBlockMs: e.TESSERA_IP_BLOCK_DURATION,
    detectionExempt: Object.freeze([...e.TESSERA_DETECTION_EXEMPT]),
    bootstrapAdmin: e.TESSERA_BOOTSTRAP_ADMIN,
    logLevel: e.TESSERA_LOG_LEVEL,
    warnings: Object.freeze(warnings),
  });
}

export interface LoadOptions {
  env?: EnvSource;
  cwd?: string;
}

/**
 * Loads the configuration for a running server: the process environment over an optional
 * `.env` file in the working directory, and, when TESSERA_SECRET is unset, a development
 * secret generated once and kept (mode 0600) in the data directory.
 */
export function loadConfig(options: LoadOptions = {}): Config {
  const cwd = options.cwd ?? process.cwd();
  const env = { ...readDotenv(join(cwd, '.env')), ...stripUndefined(options.env ?? process.env) };
  const probe = parseConfig(env, { fallbackSecret: 'x'.repeat(32) });
  const fallbackSecret =
    probe.secretSource === 'data-dir' ? developmentSecret(resolve(cwd, probe.dataDir)) : undefined;
  return parseConfig(env, fallbackSecret === undefined ? {} : { fallbackSecret });
}

function readDotenv(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  try {
    return parseEnv(readFileSync(path, 'utf8')) as Record<string, string>;
  } catch {
    throw new ConfigError([{ variable: '.env', message: `cannot be read (${path})` }]);
  }
}

function stripUndefined(env: EnvSource): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) result[key] = value;
  return result;
}

function developmentSecret(dataDir: string): string {
  const path = join(dataDir, 'secret');
  try {
    if (existsSync(path)) return readFileSync(path, 'utf8').trim();
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const secret = randomBytes(48).toString('base64url');
    writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
    return secret;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(path, 'utf8').trim();
    throw new ConfigError([
      { variable: 'TESSERA_DATA_DIR', message: `cannot hold the development secret (${path}): ${(error as Error).message}` },
    ]);
  }
}
