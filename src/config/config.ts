import type { SettingValues, settings } from './schema.js';

export type { RateLimitSetting } from './parsers.js';

type Parsed = SettingValues<typeof settings>;

/** One object type rather than an intersection, for readable hovers and messages. */
type Flat<T> = { readonly [K in keyof T]: T[K] };

/**
 * The one typed, frozen configuration object: each setting of the schema (schema.ts, where its
 * variable, default and meaning are written), plus the values computed from several of them.
 * Durations are in milliseconds.
 */
export interface Config extends Omit<Parsed, 'issuer' | 'secret' | 'outbox'> {
  /** `TESSERA_ISSUER`, else http://HOST:PORT: the `iss` of every token. */
  readonly issuer: string;
  /** `TESSERA_SECRET`, else the development secret kept in the data directory. */
  readonly secret: string;
  /** Where the secret came from: the environment, or a development file in the data dir. */
  readonly secretSource: 'env' | 'data-dir';
  readonly outbox: Flat<
    Parsed['outbox'] & {
      /** smtp:// to a host that is not loopback: STARTTLS must succeed, or the mail is not sent. */
      readonly smtpRequireStartTls: boolean;
    }
  >;
  /** Development defaults in effect, each a sentence; logged once at start-up. */
  readonly warnings: readonly string[];
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
