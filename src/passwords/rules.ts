import { AuthError } from '../errors/auth-error.js';

/** Longer passwords are refused before hashing: hashing megabytes is a denial-of-service lever. */
export const maxPasswordBytes = 1024;

/** Input checks every password goes through (sign-in included), before any hashing. */
export function assertPasswordInput(password: string): void {
  if (Buffer.byteLength(password, 'utf8') > maxPasswordBytes) {
    throw new AuthError('invalid_request', { description: `The password is longer than ${maxPasswordBytes} bytes.` });
  }
  if (password.includes('\u0000')) {
    throw new AuthError('invalid_request', { description: 'The password contains a NUL character.' });
  }
  // A lone surrogate has no UTF-8 encoding: two different passwords would hash alike.
  if (/\p{Cs}/u.test(password)) {
    throw new AuthError('invalid_request', { description: 'The password is not valid Unicode text.' });
  }
}

/**
 * The password policy for new passwords. Until the full policy (strength, breach and history
 * checks) arrives, the length rule: at least `minLength` characters (code points).
 */
export function assertPasswordPolicy(password: string, minLength: number): void {
  assertPasswordInput(password);
  const reasons: string[] = [];
  if ([...password].length < minLength) reasons.push('too_short');
  if (reasons.length > 0) {
    throw new AuthError('weak_password', {
      description: `The password must be at least ${minLength} characters long.`,
      extra: { reasons },
    });
  }
}
