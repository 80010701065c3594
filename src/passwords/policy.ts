import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary as commonDictionary } from '@zxcvbn-ts/language-common';
import { dictionary as englishDictionary, translations } from '@zxcvbn-ts/language-en';
import { AuthError } from '../errors/auth-error.js';
import { BreachCheckUnavailable, type BreachChecker } from './breach.js';
import type { PasswordHasher } from './hasher.js';
import { assertPasswordInput } from './rules.js';

/** Machine-readable reasons of a `weak_password` answer. */
export type WeakPasswordReason = 'too_short' | 'too_weak' | 'contains_username' | 'contains_email';

export interface PasswordCandidate {
  password: string;
  /** The account's username (canonical); the password may not contain it. */
  username?: string | null;
  /** The account's e-mail; the password may not contain its local part. */
  email?: string | null;
  /** Hashes of the account's current and recent passwords (history), newest first. */
  previousHashes?: readonly string[];
}

export interface PasswordPolicyOptions {
  minLength: number;
  /** zxcvbn score (0–4) a password needs; default 3. */
  minScore: number;
  breaches: BreachChecker;
  hasher: PasswordHasher;
}

export interface PasswordPolicy {
  /**
   * Refuses a new password: 400 `weak_password` with `reasons`, `password_breached`, or
   * `password_reused` (one of `previousHashes`). The one policy for register, admin create,
   * change and reset.
   */
  assertAcceptable(candidate: PasswordCandidate): Promise<void>;
}

/**
 * zxcvbn runs on the event loop and its cost grows steeply with length and with l33t-able
 * characters (measured here: 128 characters took 665 ms; 32 adversarial characters 135 ms). Reading
 * at most 32 characters with at most 8 l33t substitutions keeps every check under ~20 ms; the part
 * beyond is still covered by the length, identity and breach rules.
 */
const strengthWindow = 32;
const l33tMaxSubstitutions = 8;

export function createPasswordPolicy(options: PasswordPolicyOptions): PasswordPolicy {
  // Ranking the dictionaries takes ~0.5 s of CPU: built on the first new password, not on every start.
  let zxcvbn: ZxcvbnFactory | undefined;
  const strength = () =>
    (zxcvbn ??= new ZxcvbnFactory({
      dictionary: { ...commonDictionary, ...englishDictionary },
      graphs: adjacencyGraphs,
      translations,
      maxLength: strengthWindow,
      l33tMaxSubstitutions,
    }));

  function containsIdentity(password: string, identity: string | null | undefined): boolean {
    // Names of one or two characters would forbid half the alphabet.
    return typeof identity === 'string' && identity.length >= 3 && password.toLowerCase().includes(identity.toLowerCase());
  }

  return {
    async assertAcceptable({ password, username, email, previousHashes = [] }) {
      assertPasswordInput(password);
      const reasons: WeakPasswordReason[] = [];
      if ([...password].length < options.minLength) reasons.push('too_short');
      const emailLocal = email?.split('@')[0];
      if (containsIdentity(password, username)) reasons.push('contains_username');
      if (containsIdentity(password, emailLocal)) reasons.push('contains_email');
      const userInputs = [username, emailLocal].filter((input): input is string => typeof input === 'string' && input !== '');
      if (strength().check(password.slice(0, strengthWindow), userInputs).score < options.minScore) reasons.push('too_weak');
      if (reasons.length > 0) {
        const sentences: Record<WeakPasswordReason, string> = {
          too_short: `be at least ${options.minLength} characters long`,
          too_weak: 'be harder to guess',
          contains_username: 'not contain the username',
          contains_email: 'not contain the e-mail address',
        };
        throw new AuthError('weak_password', {
          description: `The password must ${reasons.map((reason) => sentences[reason]).join(', and ')}.`,
          extra: { reasons },
        });
      }
      let breached: boolean;
      try {
        breached = await options.breaches.isBreached(password);
      } catch (error) {
        if (error instanceof BreachCheckUnavailable) {
          throw new AuthError('service_unavailable', { description: 'The password could not be checked; try again later.', cause: error });
        }
        throw error;
      }
      if (breached) throw new AuthError('password_breached');
      for (const hash of previousHashes) {
        if (await options.hasher.verifyUnpadded(hash, password)) throw new AuthError('password_reused');
      }
    },
  };
}
