import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, signIn, startTestApp, strongPassword, type TestApp } from '../test-support/app.js';
import { testBackends } from '../test-support/databases.js';
import { startTestSmtp, tokenIn, type TestSmtp } from '../test-support/smtp.js';

/*
 * Issue 10, finding 4: any password change or reset ends every unused reset token of the user,
 * in the transaction of the change; and a confirmation that does not commit leaves its token usable.
 */

const newPassword = 'a fresh reset passphrase 31';

for (const backend of testBackends()) {
  describe(`reset tokens end with the password (${backend.name})`, () => {
    let smtp: TestSmtp;
    let t: TestApp;
    before(async () => {
      smtp = await startTestSmtp();
      t = await startTestApp(backend, { env: { TESSERA_SMTP_URL: smtp.url } });
    });
    after(async () => {
      await t.close();
      await smtp.stop();
    });

    const confirm = (token: string, password: string) =>
      t.app.inject({ method: 'POST', url: '/auth/password-reset/confirm', payload: { token, new_password: password } });

    /** Asks for `count` resets of `username` and returns the mailed tokens, oldest first. */
    async function resetTokens(username: string, count: number): Promise<string[]> {
      const address = `${username}@example.com`;
      const before = smtp.mails.filter((mail) => mail.to.includes(address)).length;
      for (let i = 0; i < count; i += 1) {
        const response = await t.app.inject({ method: 'POST', url: '/auth/password-reset', payload: { username } });
        assert.equal(response.statusCode, 202);
        await t.tessera.passwordReset.settled();
      }
      const tokens = smtp.mails.filter((mail) => mail.to.includes(address)).slice(before).map((mail) => tokenIn(mail));
      assert.equal(tokens.length, count, `${count} mails went to ${address}`);
      return tokens.map((token) => token ?? assert.fail('the mail carries a token'));
    }

    function assertInvalidToken(response: { statusCode: number; json(): unknown }, message: string): void {
      assert.equal(response.statusCode, 400, message);
      assert.equal((response.json() as { error: string }).error, 'invalid_token', message);
    }

    it('ends the other reset tokens when one of them is used', async () => {
      await createUser(t, 'two-tokens', { email: 'two-tokens@example.com' });
      const [first, second] = (await resetTokens('two-tokens', 2)) as [string, string];
      assert.equal((await confirm(first, newPassword)).statusCode, 204);
      assertInvalidToken(await confirm(second, 'yet another passphrase 42'), 'the second token ended with the reset');
      assert.equal((await signIn(t, 'two-tokens', newPassword)).user.username, 'two-tokens');
    });

    it('revokes every API key of the user: whoever knew the old password could have minted some', async () => {
      await createUser(t, 'key-holder', { email: 'key-holder@example.com', permissions: ['docs:read'] });
      const session = await signIn(t, 'key-holder');
      const keys: string[] = [];
      for (const name of ['one', 'two']) {
        const made = await t.app.inject({ method: 'POST', url: '/auth/api-keys', headers: { authorization: `Bearer ${session.access_token}` }, payload: { name, permissions: ['docs:read'], current_password: strongPassword } });
        assert.equal(made.statusCode, 201, made.body);
        keys.push((made.json() as { api_key: string }).api_key);
      }
      const verify = (key: string) => t.app.inject({ url: '/auth/verify', headers: { 'x-api-key': key } });
      assert.equal((await verify(keys[0]!)).statusCode, 200);
      const [token] = (await resetTokens('key-holder', 1)) as [string];
      assert.equal((await confirm(token, newPassword)).statusCode, 204);
      for (const key of keys) assert.equal((await verify(key)).statusCode, 401, 'the key ended with the reset');
      await t.tessera.auditChain.flush();
      const revoked = await t.db.query<{ details: { reason?: string } }>(`SELECT details FROM audit_log WHERE type = 'api_key.revoked' ORDER BY seq`);
      assert.deepEqual(revoked.map((row) => row.details.reason), ['password_reset', 'password_reset']);
    });

    it('ends every reset token when the password is changed', async () => {
      await createUser(t, 'changed-instead', { email: 'changed-instead@example.com' });
      const [token] = (await resetTokens('changed-instead', 1)) as [string];
      const session = await signIn(t, 'changed-instead');
      const changed = await t.app.inject({
        method: 'POST',
        url: '/auth/password',
        headers: { authorization: `Bearer ${session.access_token}` },
        payload: { current_password: strongPassword, new_password: 'a changed passphrase 55' },
      });
      assert.equal(changed.statusCode, 204);
      assertInvalidToken(await confirm(token, newPassword), 'the token ended with the password change');
      assert.equal((await signIn(t, 'changed-instead', 'a changed passphrase 55')).user.username, 'changed-instead');
    });

    it('lets exactly one of two concurrent resets with two tokens win', async () => {
      await createUser(t, 'raced', { email: 'raced@example.com' });
      const [first, second] = (await resetTokens('raced', 2)) as [string, string];
      const answers = await Promise.all([confirm(first, 'the first racing passphrase 61'), confirm(second, 'the second racing passphrase 62')]);
      assert.deepEqual(answers.map((answer) => answer.statusCode).sort(), [204, 400], answers.map((answer) => answer.body).join(' '));
      const winner = answers[0]!.statusCode === 204 ? 'the first racing passphrase 61' : 'the second racing passphrase 62';
      assert.equal((await signIn(t, 'raced', winner)).user.username, 'raced', 'the password is the winner’s');
    });

    it('keeps the token usable when the reset cannot commit', async () => {
      await createUser(t, 'uncommitted', { email: 'uncommitted@example.com' });
      const [token, other] = (await resetTokens('uncommitted', 2)) as [string, string];
      // The audit record is written in the reset's transaction: refusing it makes the commit fail.
      await t.db.exec(`
        CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'audit storage unavailable'; END $$;
        CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_pending FOR EACH ROW EXECUTE FUNCTION refuse_audit();`);
      try {
        const failed = await confirm(token, newPassword);
        assert.equal(failed.statusCode, 503, failed.body);
      } finally {
        await t.db.exec('DROP TRIGGER refuse_audit ON audit_pending; DROP FUNCTION refuse_audit();');
      }
      assert.equal((await signIn(t, 'uncommitted')).user.username, 'uncommitted', 'the old password still holds');
      assert.equal((await confirm(token, newPassword)).statusCode, 204, 'the token was not used up');
      assertInvalidToken(await confirm(other, 'yet another passphrase 43'), 'the committed reset ended the other token');
    });

    it('mints no reset token whose mail cannot be queued, and mails a working one once it can', async () => {
      const userId = await createUser(t, 'unqueued', { email: 'unqueued@example.com' });
      const tokensOfUser = async () =>
        Number((await t.db.query<{ n: string }>('SELECT count(*)::text AS n FROM password_reset_tokens WHERE user_id = $1', [userId]))[0]!.n);
      // The mail joins the transaction that mints its token: refusing the mail's row refuses the token.
      await t.db.exec(`
        CREATE FUNCTION refuse_mail() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'outbox unavailable'; END $$;
        CREATE TRIGGER refuse_mail BEFORE INSERT ON outbox FOR EACH ROW WHEN (NEW.kind = 'password_reset') EXECUTE FUNCTION refuse_mail();`);
      try {
        const response = await t.app.inject({ method: 'POST', url: '/auth/password-reset', payload: { username: 'unqueued' } });
        assert.equal(response.statusCode, 202);
        await t.tessera.passwordReset.settled();
        assert.equal(await tokensOfUser(), 0, 'no token without its mail');
      } finally {
        await t.db.exec('DROP TRIGGER refuse_mail ON outbox; DROP FUNCTION refuse_mail();');
      }
      // The request stays in the outbox and is retried (first retry after 10 s).
      t.clock.advance(11_000);
      await t.tessera.passwordReset.deliver();
      const mails = smtp.mails.filter((mail) => mail.to.includes('unqueued@example.com'));
      assert.equal(mails.length, 1, 'one mail once the outbox takes it');
      assert.equal(await tokensOfUser(), 1, 'one token, the mailed one');
      assert.equal((await confirm(tokenIn(mails[0]!) ?? assert.fail('the mail carries a token'), newPassword)).statusCode, 204);
    });
  });
}
