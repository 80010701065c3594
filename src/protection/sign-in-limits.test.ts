import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { createUser, startTestApp, strongPassword, type TestApp } from '../test-support/app.js';
import { testBackends } from '../test-support/databases.js';

/*
 * The per-identifier-and-network limit counts failures only (issue 11, item 9), as Keycloak and
 * django-axes do: an owner who signs in often is never refused, a guesser still is. The
 * per-network limit counts every attempt. Lockout is raised out of the way, so a 429 here can
 * only come from the limits.
 */
const limits = {
  TESSERA_RATE_LIMIT_LOGIN_ACCOUNT: '5/1m',
  TESSERA_RATE_LIMIT_LOGIN_IP: '20/1m',
  TESSERA_LOCKOUT_THRESHOLD: '1000',
};

for (const backend of testBackends()) {
  describe(`sign-in limits count what they should (${backend.name})`, () => {
    let t: TestApp;
    let address = 0;
    before(async () => {
      t = await startTestApp(backend, { env: limits });
    });
    after(() => t.close());

    const nextIp = () => `198.51.100.${(address += 1) % 250}`;
    const attempt = (username: string, password: string, ip: string): Promise<LightMyRequestResponse> =>
      t.app.inject({ method: 'POST', url: '/auth/login', payload: { username, password }, remoteAddress: ip });
    const wrong = 'not the right password at all';

    it('seven good sign-ins in a minute from one address all succeed', async () => {
      await createUser(t, 'frequent');
      const ip = nextIp();
      const statuses: number[] = [];
      for (let i = 0; i < 7; i += 1) statuses.push((await attempt('frequent', strongPassword, ip)).statusCode);
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200, 200]);
    });

    for (const [label, username] of [
      ['an account', 'guessed'],
      ['a name that is no account', 'nobody-called-this'],
    ] as const) {
      it(`the 6th failure in a minute for ${label} is refused with rate_limited, the right password too`, async () => {
        if (username === 'guessed') await createUser(t, username);
        const ip = nextIp();
        for (let i = 0; i < 5; i += 1) assert.equal((await attempt(username, wrong, ip)).statusCode, 401, `failure ${i + 1}`);
        for (const password of [wrong, strongPassword]) {
          const refused = await attempt(username, password, ip);
          assert.equal(refused.statusCode, 429, refused.body);
          assert.equal(refused.json().error, 'rate_limited');
        }
      });
    }

    it('good sign-ins leave the failures counted: four failures, good sign-ins, then the 6th failure is refused', async () => {
      await createUser(t, 'mixed');
      const ip = nextIp();
      for (let i = 0; i < 4; i += 1) assert.equal((await attempt('mixed', wrong, ip)).statusCode, 401);
      for (let i = 0; i < 3; i += 1) assert.equal((await attempt('mixed', strongPassword, ip)).statusCode, 200);
      assert.equal((await attempt('mixed', wrong, ip)).statusCode, 401, 'the 5th failure');
      assert.equal((await attempt('mixed', wrong, ip)).statusCode, 429, 'the 6th failure');
    });

    it('the per-network limit still counts good sign-ins: the 21st attempt from one address is refused', async () => {
      const ip = nextIp();
      for (let i = 0; i < 4; i += 1) await createUser(t, `network-${i}`);
      const statuses: number[] = [];
      for (let i = 0; i < 21; i += 1) statuses.push((await attempt(`network-${i % 4}`, strongPassword, ip)).statusCode);
      assert.deepEqual(statuses.slice(0, 20), Array<number>(20).fill(200));
      assert.equal(statuses[20], 429);
    });
  });
}
