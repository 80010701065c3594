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
