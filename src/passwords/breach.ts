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
  const known = new Set<string>();
  for (const password of dictionary['passwords-common'] as string[]) known.add(password.toLowerCase());
  return {
    async isBreached(password) {
      return known.has(password) || known.has(password.toLowerCase());
    },
  };
}
