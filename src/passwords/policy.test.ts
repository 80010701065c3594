import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuthError } from '../errors/auth-error.js';
import { createOfflineBreachChecker } from './breach.js';
import { createPasswordHasher } from './hasher.js';
import { createPasswordPolicy, type PasswordCandidate } from './policy.js';

const hasher = createPasswordHasher();
const policy = createPasswordPolicy({ minLength: 12, minScore: 3, breaches: createOfflineBreachChecker(), hasher });

async function outcome(candidate: PasswordCandidate): Promise<string> {
  try {
    await policy.assertAcceptable(candidate);
    return 'ok';
  } catch (error) {
    assert.ok(error instanceof AuthError, String(error));
    const reasons = (error.extra as { reasons?: string[] }).reasons;
    return reasons ? `${error.code}:${reasons.join(',')}` : error.code;
  }
}

describe('password policy', () => {
  const cases: [string, PasswordCandidate, string][] = [
    ['a long passphrase', { password: 'correct horse battery staple' }, 'ok'],
    ['mixed characters', { password: 'Tr0ub4dor&3xyzq' }, 'ok'],
    ['eleven characters', { password: 'Gx7#kq2!Lm9' }, 'weak_password:too_short'],
    ['twelve code points of emoji are long enough but weak', { password: '😀'.repeat(12) }, 'weak_password:too_weak'],
    ['a repeated character', { password: 'aaaaaaaaaaaaaaaa' }, 'weak_password:too_weak'],
    ['a keyboard walk', { password: 'qwertyuiop12' }, 'weak_password:too_weak'],
    ['a common word with digits', { password: 'password1234' }, 'weak_password:too_weak'],
    ['contains the username', { password: 'xX-margaret-Xx-2024!', username: 'margaret' }, 'weak_password:contains_username'],
    ['contains the username in another case', { password: 'zq8MARGARET$$kl', username: 'margaret' }, 'weak_password:contains_username'],
    ['contains the e-mail local part', { password: 'k9!jdoe.work#77', email: 'jdoe.work@example.com' }, 'weak_password:contains_email'],
    ['a short username is not a reason', { password: 'correct horse battery staple', username: 'al' }, 'ok'],
    ['too short and weak at once', { password: 'abc', username: 'someone' }, 'weak_password:too_short,too_weak'],
  ];
  for (const [why, candidate, expected] of cases) {
    it(`${why} → ${expected}`, async () => assert.equal(await outcome(candidate), expected));
  }

  it('refuses passwords from the offline breach list, whatever their strength score', async () => {
    const strict = createPasswordPolicy({ minLength: 8, minScore: 0, breaches: createOfflineBreachChecker(), hasher });
    for (const password of ['password', 'iloveyou', 'PASSWORD', 'baseball', 'trustno1']) {
      await assert.rejects(strict.assertAcceptable({ password }), (error: unknown) => (error as AuthError).code === 'password_breached', password);
    }
    await strict.assertAcceptable({ password: 'vq3;Zr8.pL0x' });
  });

  it('refuses one of the previous passwords (compared with their stored hashes)', async () => {
    const previousHashes = await Promise.all(['first passphrase 111', 'second passphrase 222'].map((p) => hasher.hash(p)));
    assert.equal(await outcome({ password: 'second passphrase 222', previousHashes }), 'password_reused');
    assert.equal(await outcome({ password: 'third passphrase 333', previousHashes }), 'ok');
  });

  it('refuses over 1024 bytes and NUL before any other check', async () => {
    assert.equal(await outcome({ password: 'x'.repeat(1025) }), 'invalid_request');
    assert.equal(await outcome({ password: 'correct horse\u0000battery' }), 'invalid_request');
  });
});
