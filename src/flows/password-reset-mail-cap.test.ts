import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { knownNetworkMs } from '../protection/login-protection.js';
import { createUser, startTestApp, strongPassword, type TestApp } from '../test-support/app.js';
import { testBackends } from '../test-support/databases.js';
import { startTestSmtp, type TestSmtp } from '../test-support/smtp.js';

/*
 * Issue 10 review, finding 8: the per-account reset-mail cap (5 an hour) was one bucket for every
 * network, so two strangers' networks (3 requests each) could use it up and the owner's own reset
 * then sent nothing. A network the account signed in from now has a cap of its own for the
 * account; strangers still share the account's cap.
 */

interface Answer {
  status: number;
  body: string;
}

for (const backend of testBackends()) {
  describe(`password-reset mail cap for networks the account signed in from (${backend.name})`, () => {
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

    async function requestReset(body: Record<string, string>, remoteAddress: string): Promise<Answer> {
      const response = await t.app.inject({ method: 'POST', url: '/auth/password-reset', payload: body, remoteAddress });
      await t.tessera.passwordReset.settled();
      return { status: response.statusCode, body: response.body };
    }
    async function signInFrom(username: string, remoteAddress: string): Promise<void> {
      const response = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { username, password: strongPassword }, remoteAddress });
      assert.equal(response.statusCode, 200, response.body);
    }
    const mailsTo = (address: string) => smtp.mails.filter((mail) => mail.to.includes(address)).length;
    const attackers = ['203.0.113.20', '2001:db8:a77a:1::1'];
    const home = '198.51.100.30';
    const stranger = '192.0.2.40';

    it('still mails the owner at their home network after strangers used up the shared cap', async () => {
      await createUser(t, 'besieged', { email: 'besieged@example.com' });
      await signInFrom('besieged', home);
      const cases: [string, Record<string, string>, string | undefined][] = [
        ['known name', { username: 'besieged' }, 'besieged@example.com'],
        ['unknown name', { username: 'besieged-nobody' }, undefined],
      ];
      const answers = new Map<string, Answer[]>();
      for (const [label, body, address] of cases) {
        const seen: Answer[] = [];
        for (const attacker of attackers) for (let i = 0; i < 3; i += 1) seen.push(await requestReset(body, attacker));
        if (address) assert.equal(mailsTo(address), 5, `${label}: two networks use up the shared cap`);
        seen.push(await requestReset(body, stranger));
        if (address) assert.equal(mailsTo(address), 5, `${label}: a stranger network shares the used-up cap`);
        seen.push(await requestReset(body, home));
        if (address) assert.equal(mailsTo(address), 6, `${label}: the owner's home network has a cap of its own`);
        answers.set(label, seen);
      }
      const known = answers.get('known name')!;
      assert.deepEqual(known, answers.get('unknown name'), 'known and unknown names answer alike');
      assert.deepEqual(known.map((answer) => answer.status), Array<number>(8).fill(202));
    });

    it('gives the home network up to the cap and no more, and forgets it once it is no longer remembered', async () => {
      await createUser(t, 'homebody', { email: 'homebody@example.com' });
      await signInFrom('homebody', home);
      // Two names of the account, 3 requests each (the per-name-and-network quota), all from home.
      for (let i = 0; i < 3; i += 1) await requestReset({ email: 'homebody@example.com' }, home);
      for (let i = 0; i < 3; i += 1) await requestReset({ username: 'homebody' }, home);
      assert.equal(mailsTo('homebody@example.com'), 5, 'the home cap is the same size as the shared one');
      assert.equal((await requestReset({ username: 'homebody' }, stranger)).status, 202);
      assert.equal(mailsTo('homebody@example.com'), 6, 'strangers still have the shared cap, untouched by home');

      await createUser(t, 'traveller', { email: 'traveller@example.com' });
      await signInFrom('traveller', home);
      for (const attacker of attackers) for (let i = 0; i < 3; i += 1) await requestReset({ username: 'traveller' }, attacker);
      assert.equal(mailsTo('traveller@example.com'), 5);
      t.clock.advance(knownNetworkMs + 1);
      assert.equal((await requestReset({ username: 'traveller' }, home)).status, 202);
      assert.equal(mailsTo('traveller@example.com'), 5, 'a network no longer remembered shares the cap');
    });
  });
}
