import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AuthError } from '../errors/auth-error.js';
import { createPasswordHasher, type PasswordHasher } from '../passwords/hasher.js';
import { createUser, signIn, startTestApp, strongPassword, type TestApp } from '../test-support/app.js';
import { pgliteBackend } from '../test-support/databases.js';
import { createLogin } from './login.js';

/** The real hasher, counting the argon2 work each sign-in does. */
function countingHasher(): PasswordHasher & { calls: string[] } {
  const real = createPasswordHasher();
  const calls: string[] = [];
  return {
    calls,
    hash: real.hash,
    needsRehash: real.needsRehash,
    warmUp: real.warmUp,
    verifyUnpadded: real.verifyUnpadded,
    async verify(hash, password) {
      calls.push('verify');
      return real.verify(hash, password);
    },
    async verifyDummy(password) {
      calls.push('verifyDummy');
      return real.verifyDummy(password);
    },
  };
}

describe('login steps', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp(pgliteBackend, { env: { TESSERA_MAX_SESSIONS_PER_USER: '2' } });
  });
  after(() => t.close());

  it('does exactly one password verification whether the user exists, is disabled, or not', async () => {
    const hasher = countingHasher();
    const { sessions, tokens, clock, events, protection } = t.tessera;
    const { stores } = t;
    const login = createLogin({ stores, hasher, sessions, tokens, clock, events, protection });
    const disabledId = await createUser(t, 'disabled-user');
    await stores.users.setDisabled(disabledId, true, new Date());
    await createUser(t, 'enabled-user');

    const attempts: [string, string, string][] = [
      ['no-such-user', 'any password at all', 'verifyDummy'],
      ['enabled-user', 'a wrong password!!', 'verify'],
      ['disabled-user', strongPassword, 'verify'],
    ];
    for (const [username, password, expected] of attempts) {
      hasher.calls.length = 0;
      await assert.rejects(
        login({ username, password, ip: '127.0.0.1', userAgent: null, device: undefined }),
        (error: unknown) => error instanceof AuthError && error.code === 'invalid_credentials',
      );
      assert.deepEqual(hasher.calls, [expected], username);
    }
  });

  it('ends the oldest sessions beyond TESSERA_MAX_SESSIONS_PER_USER', async () => {
    await createUser(t, 'many-devices');
    const first = await signIn(t, 'many-devices');
    t.clock.advance(1000);
    const second = await signIn(t, 'many-devices');
    t.clock.advance(1000);
    const third = await signIn(t, 'many-devices');
    const me = (token: string) => t.app.inject({ url: '/auth/me', headers: { authorization: `Bearer ${token}` } });
    assert.equal((await me(first.access_token)).statusCode, 401, 'the oldest session was ended');
    assert.equal((await me(second.access_token)).statusCode, 200);
    assert.equal((await me(third.access_token)).statusCode, 200);
    const ended = await t.stores.sessions.findById(first.session_id);
    assert.equal(ended?.revokeReason, 'session_limit');
    const refresh = await t.stores.refreshTokens.findById(first.refresh_token.split('.')[0]!);
    assert.ok(refresh?.revokedAt, 'its refresh token was revoked with it');
  });
});
