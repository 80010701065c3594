import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { networkOf } from '../protection/network.js';
import { createLogger } from '../server/logger.js';
import { createUser, startTestApp, type TestApp } from '../test-support/app.js';
import { testBackends } from '../test-support/databases.js';
import { startTestSmtp, tokenIn, type TestSmtp } from '../test-support/smtp.js';
import { resetQuotaKeys } from './password-reset.js';

/*
 * Issue 10, findings 7 and 8 (the reset part): the reset quota counts per account name as typed
 * and per requesting network (IPv4 address, IPv6 /64), so someone who knows a username uses up
 * only their own network's quota for it, never the real user's; and one network is capped across
 * all accounts. Defaults: 3 an hour per account and network, 20 an hour per network.
 */

interface Answer {
  status: number;
  body: string;
  retryAfter: string | undefined;
}

for (const backend of testBackends()) {
  describe(`password-reset quota per account and network (${backend.name})`, () => {
    let smtp: TestSmtp;
    let t: TestApp;
    const logged: Record<string, unknown>[] = [];
    before(async () => {
      smtp = await startTestSmtp();
      const sink = new Writable({
        write(chunk: Buffer, _encoding, done) {
          for (const line of chunk.toString().split('\n').filter(Boolean)) logged.push(JSON.parse(line) as Record<string, unknown>);
          done();
        },
      });
      t = await startTestApp(backend, { env: { TESSERA_SMTP_URL: smtp.url }, logger: createLogger('info', sink) });
    });
    after(async () => {
      await t.close();
      await smtp.stop();
    });

    async function requestReset(body: Record<string, string>, remoteAddress: string): Promise<Answer> {
      const response = await t.app.inject({ method: 'POST', url: '/auth/password-reset', payload: body, remoteAddress });
      await t.tessera.passwordReset.settled();
      const retryAfter = response.headers['retry-after'];
      return { status: response.statusCode, body: response.body, retryAfter: retryAfter === undefined ? undefined : String(retryAfter) };
    }
    const statuses = async (body: Record<string, string>, addresses: string[]) => {
      const answers: number[] = [];
      for (const address of addresses) answers.push((await requestReset(body, address)).status);
      return answers;
    };
    const mailsTo = (address: string) => smtp.mails.filter((mail) => mail.to.includes(address)).length;

    it('lets the real user reset from their network after another network used up its quota', async () => {
      await createUser(t, 'targeted', { email: 'targeted@example.com' });
      const attacker = '203.0.113.7';
      assert.deepEqual(await statuses({ username: 'targeted' }, [attacker, attacker, attacker, attacker]), [202, 202, 202, 429]);
      const mailed = mailsTo('targeted@example.com');
      const user = await requestReset({ username: 'targeted' }, '198.51.100.9');
      assert.equal(user.status, 202, 'another network still has its quota');
      assert.equal(mailsTo('targeted@example.com'), mailed + 1, 'and its request is mailed');
      assert.equal((await requestReset({ email: 'targeted@example.com' }, attacker)).status, 202, 'the e-mail is another name');
    });

    it('counts IPv6 addresses of one /64 as one network', async () => {
      await createUser(t, 'rotated', { email: 'rotated@example.com' });
      const rotating = ['2001:db8:1:1::1', '2001:db8:1:1::2', '2001:db8:1:1:ffff::3', '2001:db8:1:1:abcd:1:2:3'];
      assert.deepEqual(await statuses({ username: 'rotated' }, rotating), [202, 202, 202, 429]);
      assert.deepEqual(await statuses({ username: 'rotated' }, ['2001:db8:1:2::1']), [202], 'the next /64 is another network');
    });

    it('answers known and unknown names with the same statuses, bodies and Retry-After', async () => {
      await createUser(t, 'quota-known', { email: 'quota-known@example.com' });
      const pairs: [Record<string, string>, Record<string, string>][] = [
        [{ username: 'quota-known' }, { username: 'quota-nobody' }],
        [{ email: 'QUOTA-KNOWN@example.com' }, { email: 'quota-nobody@example.com' }],
      ];
      for (const [index, [known, unknown]] of pairs.entries()) {
        const network = `192.0.2.${10 + index}`;
        const knownAnswers: Answer[] = [];
        const unknownAnswers: Answer[] = [];
        // Interleaved, so both sequences see the limiter's (real-time) window at the same moments.
        for (let i = 0; i < 5; i += 1) {
          knownAnswers.push(await requestReset(known, network));
          unknownAnswers.push(await requestReset(unknown, network));
        }
        const shape = (answers: Answer[]) => answers.map(({ status, body, retryAfter }) => ({ status, body, limited: retryAfter !== undefined }));
        assert.deepEqual(shape(knownAnswers), shape(unknownAnswers), JSON.stringify(known));
        assert.deepEqual(knownAnswers.map((answer) => answer.status), [202, 202, 202, 429, 429]);
        for (const [i, answer] of knownAnswers.entries()) {
          if (answer.retryAfter === undefined) continue;
          // Whole seconds of a window that started a few milliseconds apart: at most one apart.
          assert.ok(Math.abs(Number(answer.retryAfter) - Number(unknownAnswers[i]!.retryAfter)) <= 1, `${answer.retryAfter} vs ${unknownAnswers[i]!.retryAfter}`);
          assert.ok(Number(answer.retryAfter) > 3500, 'the hour-long window');
        }
      }
    });

    it('mails one account at most 5 times an hour, however many networks ask, and logs what it drops', async () => {
      // Issue 10 review M1: one request from each of ten networks passes both request quotas.
      const userId = await createUser(t, 'flooded', { email: 'flooded@example.com' });
      const networks = Array.from({ length: 10 }, (_, i) => `2001:db8:f100:${i}::1`);
      assert.deepEqual(await statuses({ username: 'flooded' }, networks), Array<number>(10).fill(202), 'the answer never changes');
      assert.equal(mailsTo('flooded@example.com'), 5, 'the account cap drops the rest');
      const suppressed = logged.filter((line) => line.msg === 'password reset mail suppressed' && line.userId === userId);
      assert.equal(suppressed.length, 5, 'each dropped mail is logged');
      for (const line of suppressed) assert.equal(line.level, 40, 'as a warning');
      const tokens = smtp.mails.filter((mail) => mail.to.includes('flooded@example.com')).map((mail) => tokenIn(mail)!);
      const text = JSON.stringify(suppressed);
      for (const token of tokens) assert.ok(!text.includes(token.split('.')[1]!), 'no reset secret is logged');

      await createUser(t, 'bystander-of-flood', { email: 'bystander-of-flood@example.com' });
      assert.equal((await requestReset({ username: 'bystander-of-flood' }, networks[0]!)).status, 202);
      assert.equal(mailsTo('bystander-of-flood@example.com'), 1, 'other accounts keep their own cap');
    });

    it('caps one network at 20 requests an hour across accounts', async () => {
      const network = '198.51.100.200';
      const names = Array.from({ length: 21 }, (_, i) => `sprayed-${i}`);
      const answers: number[] = [];
      for (const username of names) answers.push((await requestReset({ username }, network)).status);
      assert.deepEqual(answers, [...Array<number>(20).fill(202), 429]);
      assert.equal((await requestReset({ username: 'sprayed-0' }, '198.51.100.201')).status, 202, 'other networks are not affected');
    });
  });
}

describe('password-reset quota keys', () => {
  // Issue 10 review L1: unkeyed digests of names could be reversed by dictionary from Redis.
  it('are HMACs under a key derived from TESSERA_SECRET, never plain digests of the name', () => {
    const secrets = ['a-test-secret-of-at-least-32-characters-1', 'a-test-secret-of-at-least-32-characters-2'];
    const cases: [{ username: string } | { email: string }, string, string][] = [
      [{ username: 'alice' }, '192.0.2.1', 'username:alice'],
      [{ email: 'Alice@Example.com' }, '2001:db8::1', 'email:alice@example.com'],
    ];
    for (const [account, ip, name] of cases) {
      const [first, second] = secrets.map((secret) => resetQuotaKeys(secret)(account, ip));
      assert.notDeepEqual(first, second, `${name}: the secret changes the keys`);
      assert.deepEqual(resetQuotaKeys(secrets[0]!)(account, ip), first, `${name}: stable under one secret`);
      const network = networkOf(ip);
      const unkeyed = [`reset:${name}\n${network}`, `reset-network:${network}`].map((subject) => createHash('sha256').update(subject).digest('base64url'));
      for (const key of Object.values(first!)) assert.ok(!unkeyed.includes(key), `${name}: ${key} is not an unkeyed digest`);
    }
  });
});
