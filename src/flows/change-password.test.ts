import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SecurityEvent } from '../events/bus.js';
import { createUser, login, signIn, startTestApp, strongPassword, type TestApp } from '../test-support/app.js';
import { testBackends } from '../test-support/databases.js';

for (const backend of testBackends()) {
  describe(`POST /auth/password (${backend.name})`, () => {
    let t: TestApp;
    const events: SecurityEvent[] = [];
    before(async () => {
      t = await startTestApp(backend, { env: { TESSERA_LOCKOUT_THRESHOLD: '5' } });
      t.tessera.events.subscribe((event) => events.push(event));
    });
    after(() => t.close());

    const change = (token: string | undefined, body: Record<string, unknown>) =>
      t.app.inject({
        method: 'POST',
        url: '/auth/password',
        payload: body,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });

    it('changes the password, keeps this session and ends every other one', async () => {
      await createUser(t, 'changer');
      const here = await signIn(t, 'changer');
      const elsewhere = await signIn(t, 'changer');
      const response = await change(here.access_token, { current_password: strongPassword, new_password: 'a brand new passphrase 7' });
      assert.equal(response.statusCode, 204);
      assert.equal((await login(t, { username: 'changer', password: strongPassword })).statusCode, 401);
      assert.equal((await login(t, { username: 'changer', password: 'a brand new passphrase 7' })).statusCode, 200);
      const me = (token: string) => t.app.inject({ url: '/auth/me', headers: { authorization: `Bearer ${token}` } });
      assert.equal((await me(here.access_token)).statusCode, 200, 'the session that changed it stays');
      assert.equal((await me(elsewhere.access_token)).statusCode, 401, 'other sessions end');
      const refresh = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: elsewhere.refresh_token } });
      assert.equal(refresh.statusCode, 401);
      assert.ok(events.some((e) => e.type === 'password.changed'));
      const ended = events.filter((e) => e.type === 'session.revoked' && e.payload.reason === 'password_changed');
      assert.deepEqual(ended.map((e) => e.type === 'session.revoked' && e.payload.sessionId), [elsewhere.session_id]);
    });

    it('refuses the last five passwords and allows the sixth-oldest', async () => {
      const passwords = ['history pass one 11', 'history pass two 22', 'history pass three 33', 'history pass four 44', 'history pass five 55'];
      await createUser(t, 'historian', { password: 'history pass zero 00' });
      let token = (await signIn(t, 'historian', 'history pass zero 00')).access_token;
      let current = 'history pass zero 00';
      for (const next of passwords) {
        assert.equal((await change(token, { current_password: current, new_password: next })).statusCode, 204, next);
        current = next;
        token = (await signIn(t, 'historian', current)).access_token;
      }
      for (const recent of [...passwords].reverse()) {
        const refused = await change(token, { current_password: current, new_password: recent });
        assert.equal(refused.statusCode, 400, recent);
        assert.equal(refused.json().error, 'password_reused');
      }
      assert.equal((await change(token, { current_password: current, new_password: 'history pass zero 00' })).statusCode, 204);
    });

    it('refuses a new password that fails the policy, with its reasons', async () => {
      await createUser(t, 'policy-checked', { email: 'policy.checked@example.com' });
      const token = (await signIn(t, 'policy-checked')).access_token;
      const cases: [string, string, string[] | undefined][] = [
        ['short', 'weak_password', ['too_short', 'too_weak']],
        ['policy-checked and more 9', 'weak_password', ['contains_username']],
        ['password1234', 'weak_password', ['too_weak']],
      ];
      for (const [password, error, reasons] of cases) {
        const response = await change(token, { current_password: strongPassword, new_password: password });
        assert.equal(response.statusCode, 400, password);
        assert.equal(response.json().error, error);
        if (reasons) assert.deepEqual(response.json().reasons, reasons);
      }
    });

    it('answers a wrong current password with 401, and locks after five', async () => {
      await createUser(t, 'guessed');
      const token = (await signIn(t, 'guessed')).access_token;
      for (let i = 0; i < 5; i += 1) {
        const response = await change(token, { current_password: `wrong guess number ${i}`, new_password: 'a brand new passphrase 8' });
        assert.equal(response.statusCode, 401);
        assert.equal(response.json().error, 'invalid_credentials');
      }
      const locked = await change(token, { current_password: strongPassword, new_password: 'a brand new passphrase 8' });
      assert.equal(locked.statusCode, 429);
      assert.equal(locked.json().error, 'too_many_attempts');
    });

    it('needs a bearer token and a well-formed body', async () => {
      assert.equal((await change(undefined, { current_password: strongPassword, new_password: 'x'.repeat(20) })).statusCode, 401);
      await createUser(t, 'malformed');
      const token = (await signIn(t, 'malformed')).access_token;
      for (const body of [{}, { current_password: strongPassword }, { current_password: 1, new_password: 'a brand new passphrase 9' }, { current_password: strongPassword, new_password: 'a brand new passphrase 9', extra: true }]) {
        const response = await change(token, body);
        assert.equal(response.statusCode, 400, JSON.stringify(body));
        assert.equal(response.json().error, 'invalid_request');
      }
    });
  });
}
