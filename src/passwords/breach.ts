import { createHash } from 'node:crypto';
import { dictionary } from '@zxcvbn-ts/language-common';

/** Says whether a password is known from breaches (SPEC §4: "not in the breached-password set"). */
export interface BreachChecker {
  isBreached(password: string): Promise<boolean>;
}

/**
 * The offline breach list: the ~49,000 most common passwords from leaked corpora that
 * @zxcvbn-ts/language-common ships (ranked by frequency in breaches). Matched exactly and
 * case-insensitively; no network.
 */
export function createOfflineBreachChecker(): BreachChecker {
  // Built on the first new password rather than on every start (~0.1 s of CPU).
  let known: Set<string> | undefined;
  const list = () => (known ??= new Set((dictionary['passwords-common'] as string[]).map((password) => password.toLowerCase())));
  return {
    async isBreached(password) {
      return list().has(password) || list().has(password.toLowerCase());
    },
  };
}

export interface HibpOptions {
  /** Base URL of the range API, e.g. https://api.pwnedpasswords.com (TESSERA_HIBP_URL). */
  baseUrl: string;
  /** On a network failure: fall back to the offline list ("open"), or refuse ("closed"). */
  onFailure: 'open' | 'closed';
  offline: BreachChecker;
  timeoutMs?: number;
  /** How long a fetched range is reused. */
  cacheMs?: number;
  now?: () => number;
  onError?: (error: unknown) => void;
}

/** Thrown when the online check fails and TESSERA_HIBP_FAIL=closed. */
export class BreachCheckUnavailable extends Error {
  constructor(cause: unknown) {
    super('the breached-password service is unreachable', { cause });
    this.name = 'BreachCheckUnavailable';
  }
}

const maxCachedRanges = 10_000;

/**
 * Have I Been Pwned's range API with k-anonymity: only the first five hex characters of the
 * password's SHA-1 leave the process, with `Add-Padding: true` so the answer's size says nothing
 * either. Ranges are cached; a failure falls back to the offline list (or refuses, when closed).
 */
export function createHibpBreachChecker(options: HibpOptions): BreachChecker {
  const timeoutMs = options.timeoutMs ?? 2000;
  const cacheMs = options.cacheMs ?? 3_600_000;
  const now = options.now ?? Date.now;
  const ranges = new Map<string, { suffixes: Set<string>; fetchedAt: number }>();
  const base = options.baseUrl.replace(/\/+$/, '');

  async function range(prefix: string): Promise<Set<string>> {
    const cached = ranges.get(prefix);
    if (cached && now() - cached.fetchedAt < cacheMs) return cached.suffixes;
    const response = await fetch(`${base}/range/${prefix}`, {
      headers: { 'add-padding': 'true', 'user-agent': 'tessera' },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok) throw new Error(`range API answered ${response.status}`);
    const suffixes = new Set<string>();
    for (const line of (await response.text()).split('\n')) {
      const [suffix, count] = line.trim().split(':');
      // Padding lines have a count of 0.
      if (suffix && /^[0-9A-F]{35}$/i.test(suffix) && Number(count) > 0) suffixes.add(suffix.toUpperCase());
    }
    if (ranges.size >= maxCachedRanges) ranges.delete(ranges.keys().next().value as string);
    ranges.set(prefix, { suffixes, fetchedAt: now() });
    return suffixes;
  }

  return {
    async isBreached(password) {
      if (await options.offline.isBreached(password)) return true;
      const digest = createHash('sha1').update(password, 'utf8').digest('hex').toUpperCase();
      try {
        return (await range(digest.slice(0, 5))).has(digest.slice(5));
      } catch (error) {
        options.onError?.(error);
        if (options.onFailure === 'closed') throw new BreachCheckUnavailable(error);
        return false;
      }
    },
  };
}
