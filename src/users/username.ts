/**
 * Canonical usernames: NFKC folds compatibility look-alikes (fullwidth "ａｄｍｉｎ" becomes
 * "admin") and lower-casing folds case, so two spellings of one name cannot coexist.
 */
export function canonicalUsername(input: string): string {
  return input.normalize('NFKC').toLowerCase().normalize('NFKC');
}

/** Letters and digits of any script, plus `.`, `_` and `-`; starts with a letter or digit. */
const usernamePattern = /^[\p{L}\p{N}][\p{L}\p{N}\p{M}._-]{0,63}$/u;

export function isValidUsername(canonical: string): boolean {
  return usernamePattern.test(canonical);
}

export function canonicalEmail(input: string): string {
  return input.normalize('NFKC').trim().toLowerCase();
}

const emailPattern = /^[^\s@\p{C}]{1,64}@[^\s@\p{C}]+\.[^\s@\p{C}]+$/u;

export function isValidEmail(canonical: string): boolean {
  return canonical.length <= 254 && emailPattern.test(canonical);
}
