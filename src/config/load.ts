import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { ConfigError, type Config } from './config.js';
import { isLoopbackHost, smtpEndpoint } from './parsers.js';
import { envSchema, isSetting, settings, type SettingTree, type SettingValues } from './schema.js';

type EnvSource = Readonly<Record<string, string | undefined>>;

export interface ParseOptions {
  /** Used when TESSERA_SECRET is not set (development); without it a missing secret is an error. */
  fallbackSecret?: string;
}

/** The parsed variables arranged in the tree's shape, each group frozen. */
function valuesOf<T extends SettingTree>(tree: T, parsed: Readonly<Record<string, unknown>>): SettingValues<T> {
  const values = Object.entries(tree).map(([property, node]) => [property, isSetting(node) ? parsed[node.variable] : valuesOf(node, parsed)]);
  return Object.freeze(Object.fromEntries(values)) as SettingValues<T>;
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
  const values = valuesOf(settings, parsed.data);
  const { outbox } = values;
  // The rules below each involve several settings, or a value the schema leaves unset.
  const secret = values.secret ?? options.fallbackSecret;
  if (secret === undefined) {
    throw new ConfigError([{ variable: 'TESSERA_SECRET', message: 'is required' }]);
  }
  const issuer = values.issuer ?? `http://${values.host.includes(':') ? `[${values.host}]` : values.host}:${values.port}`;
  if (values.sessionMaxAgeMs < values.refreshTtlMs) {
    throw new ConfigError([
      { variable: 'TESSERA_SESSION_MAX_AGE', message: 'must not be shorter than TESSERA_REFRESH_TTL' },
    ]);
  }

  if (outbox.webhookUrl !== undefined && outbox.webhookSecret === undefined) {
    throw new ConfigError([{ variable: 'TESSERA_WEBHOOK_SECRET', message: 'is required with TESSERA_WEBHOOK_URL (it signs every delivery)' }]);
  }
  const warnings: string[] = [];
  if (values.secret === undefined) {
    warnings.push('TESSERA_SECRET is not set: using a generated development secret kept in the data directory');
  }
  if (values.databaseUrl === undefined) {
    warnings.push('DATABASE_URL is not set: using the embedded single-process store (PGlite) in the data directory');
  }
  if (issuer.startsWith('http:')) {
    warnings.push(`the issuer ${issuer} is plain HTTP: set TESSERA_ISSUER to the https:// URL clients use`);
  }
  if (outbox.webhookUrl === undefined && outbox.smtpUrl === undefined) {
    warnings.push('no TESSERA_SMTP_URL or TESSERA_WEBHOOK_URL: password-reset links are written to the log');
  }
  for (const [variable, url] of [
    ['TESSERA_WEBHOOK_URL', outbox.webhookUrl],
    ['TESSERA_RESET_URL', outbox.resetUrl],
  ] as const) {
    // The schema allows plain HTTP for loopback hosts only.
    if (url?.toLowerCase().startsWith('http:')) warnings.push(`${variable} is plain HTTP (a loopback host): reset tokens travel in it unencrypted`);
  }
  // The schema has checked the URL: the host is where nodemailer connects.
  const smtp = outbox.smtpUrl === undefined ? undefined : smtpEndpoint(outbox.smtpUrl);
  const smtpPlainLoopback = smtp?.secure === false && isLoopbackHost(smtp.host);
  if (smtpPlainLoopback) {
    warnings.push('TESSERA_SMTP_URL is smtp:// to a loopback host: STARTTLS is not required, so reset tokens may reach it unencrypted');
  }
  if (values.signup === 'open') {
    warnings.push('TESSERA_SIGNUP=open: anyone can create an account');
  }

  return Object.freeze({
    ...values,
    issuer,
    secret,
    secretSource: values.secret === undefined ? 'data-dir' : 'env',
    outbox: Object.freeze({ ...outbox, smtpRequireStartTls: smtp?.secure === false && !smtpPlainLoopback }),
    lockout: Object.freeze({ ...values.lockout, maxLockMs: Math.max(values.lockout.maxLockMs, values.lockout.lockMs) }),
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
