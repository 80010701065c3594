import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import type { SecurityEvent } from '../events/bus.js';
import { createUser, startTestApp, strongPassword, type TestApp } from '../test-support/app.js';
import { testBackends } from '../test-support/databases.js';

const minute = 60_000;
/** The SPEC defaults, which the other suites relax. */
const realLimits = {
  TESSERA_RATE_LIMIT_LOGIN_IP: '20/1m',
  TESSERA_RATE_LIMIT_LOGIN_ACCOUNT: '5/1m',
  TESSERA_LOCKOUT_THRESHOLD: '5',
};

for (const backend of testBackends()) {
  describe(`brute force, spraying and lockout over HTTP (${backend.name})`, () => {
    let t: TestApp;
    const events: SecurityEvent[] = [];
    let address = 0;
    before(async () => {
      t = await startTestApp(backend, { env: realLimits });
      t.tessera.events.subscribe((event) => events.push(event));
    });
    after(() => t.close());

    /** Each scenario gets its own client addresses, so per-IP limits of one do not touch another. */
    const nextIp = () => `198.51.100.${(address += 1) % 250}`;
    const attempt = (username: string, password: string, ip: string): Promise<LightMyRequestResponse> =>
      t.app.inject({ method: 'POST', url: '/auth/login', payload: { username, password }, remoteAddress: ip });
    const wrong = 'not the right password at all';

    it('locks an account after 5 failures from many addresses, refuses even the right password, and unlocks on time', async () => {
      await createUser(t, 'victim');
      for (let i = 0; i < 5; i += 1) assert.equal((await attempt('victim', wrong, nextIp())).statusCode, 401, `failure ${i + 1}`);
      const locked = await attempt('victim', strongPassword, nextIp());
      assert.equal(locked.statusCode, 429);
      assert.equal(locked.json().error, 'too_many_attempts');
      assert.equal(locked.headers['retry-after'], String(15 * 60));
      assert.ok(events.some((e) => e.type === 'user.locked'));
      t.clock.advance(15 * minute - 1000);
      assert.equal((await attempt('victim', strongPassword, nextIp())).statusCode, 429, 'still locked a second before');
      t.clock.advance(1000);
      assert.equal((await attempt('victim', strongPassword, nextIp())).statusCode, 200, 'unlocked on time');
    });

    it('doubles the lock on a repeat and answers an unknown name exactly like a real one', async () => {
      await createUser(t, 'repeat');
      const outcomes = async (username: string) => {
        const bodies: string[] = [];
        for (let round = 0; round < 2; round += 1) {
          for (let i = 0; i < 5; i += 1) bodies.push(`${(await attempt(username, wrong, nextIp())).statusCode}`);
          const locked = await attempt(username, wrong, nextIp());
          bodies.push(`${locked.statusCode} ${locked.body} ${locked.headers['retry-after']}`);
          t.clock.advance(Number(locked.headers['retry-after']) * 1000);
        }
        return bodies;
      };
      const real = await outcomes('repeat');
      assert.equal(real[5], `429 ${JSON.stringify({ error: 'too_many_attempts', error_description: 'Too many failed sign-in attempts; retry later.' })} 900`);
      assert.ok(real[11]!.endsWith(' 1800'), 'the second lock lasts 30 minutes');
      const unknown = await outcomes('nobody-by-that-name');
      assert.deepEqual(unknown, real, 'same statuses, bodies and Retry-After for a name that does not exist');
    });

    it('resets the count after a success', async () => {
      await createUser(t, 'forgetful');
      for (let i = 0; i < 4; i += 1) await attempt('forgetful', wrong, nextIp());
      assert.equal((await attempt('forgetful', strongPassword, nextIp())).statusCode, 200);
      for (let i = 0; i < 4; i += 1) assert.equal((await attempt('forgetful', wrong, nextIp())).statusCode, 401);
      assert.equal((await attempt('forgetful', strongPassword, nextIp())).statusCode, 200, 'four more failures do not lock');
    });

    it('limits one address to 20 sign-ins a minute across names (password spraying over 25 accounts)', async () => {
      const ip = nextIp();
      for (let i = 0; i < 25; i += 1) await createUser(t, `sprayed-${i}`);
      const statuses: number[] = [];
      let limited: LightMyRequestResponse | undefined;
      for (let i = 0; i < 25; i += 1) {
        const response = await attempt(`sprayed-${i}`, 'Summer2024!Summer', ip);
        statuses.push(response.statusCode);
        if (response.statusCode === 429) limited = response;
      }
      assert.deepEqual(statuses, [...Array(20).fill(401), ...Array(5).fill(429)]);
      assert.equal(limited?.json().error, 'rate_limited');
      assert.ok(Number(limited?.headers['retry-after']) >= 1);
      const locked = await Promise.all(Array.from({ length: 25 }, (_, i) => attempt(`sprayed-${i}`, strongPassword, nextIp())));
      assert.ok(locked.every((r) => r.statusCode === 200), 'spraying locked nobody out');
    });

    it('limits one name from one address to 5 attempts a minute', async () => {
      await createUser(t, 'hammered');
      const ip = nextIp();
      const statuses: number[] = [];
      for (let i = 0; i < 6; i += 1) statuses.push((await attempt('hammered', wrong, ip)).statusCode);
      assert.deepEqual(statuses.slice(5), [429]);
    });

    it('never blocks refreshing an existing session of a locked account', async () => {
      await createUser(t, 'still-working');
      const session = (await attempt('still-working', strongPassword, nextIp())).json();
      for (let i = 0; i < 5; i += 1) await attempt('still-working', wrong, nextIp());
      assert.equal((await attempt('still-working', strongPassword, nextIp())).statusCode, 429);
      const refreshed = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: session.refresh_token } });
      assert.equal(refreshed.statusCode, 200);
      const me = await t.app.inject({ url: '/auth/me', headers: { authorization: `Bearer ${refreshed.json().access_token}` } });
      assert.equal(me.statusCode, 200);
    });

    it('is lifted by an admin unlock', async () => {
      const id = await createUser(t, 'helpdesk-case');
      for (let i = 0; i < 5; i += 1) await attempt('helpdesk-case', wrong, nextIp());
      assert.equal((await attempt('helpdesk-case', strongPassword, nextIp())).statusCode, 429);
      await t.tessera.protection.unlock(id);
      assert.equal((await attempt('helpdesk-case', strongPassword, nextIp())).statusCode, 200);
    });

    it('counts every address of one IPv6 /64 as one client, for the per-address and per-name-and-address limits', async () => {
      const rotating = (prefix: string) => {
        let host = 0;
        return () => `${prefix}:${(host += 1).toString(16)}:${((host * 7919) % 0x10000).toString(16)}`;
      };
      const sprayer = rotating('2001:db8:77:1:0:0');
      const statuses: number[] = [];
      for (let i = 0; i < 21; i += 1) statuses.push((await attempt(`rotated-spray-${i}`, wrong, sprayer())).statusCode);
      assert.deepEqual(statuses, [...Array(20).fill(401), 429], 'twenty a minute from the whole /64');

      await createUser(t, 'rotated-target');
      const guesser = rotating('2001:db8:78:1:0:0');
      for (let i = 0; i < 5; i += 1) assert.equal((await attempt('rotated-target', wrong, guesser())).statusCode, 401);
      const sixth = await attempt('rotated-target', wrong, guesser());
      assert.equal(sixth.statusCode, 429);
      assert.equal(sixth.json().error, 'rate_limited', 'the name-and-network limit, before the lock is even consulted');
    });

    it('ignores a spoofed X-Forwarded-For from an untrusted peer', async () => {
      await createUser(t, 'spoof-target');
      const ip = nextIp();
      const statuses: number[] = [];
      for (let i = 0; i < 6; i += 1) {
        const response = await t.app.inject({
          method: 'POST',
          url: '/auth/login',
          payload: { username: 'spoof-target', password: wrong },
          remoteAddress: ip,
          headers: { 'x-forwarded-for': `203.0.113.${i}` },
        });
        statuses.push(response.statusCode);
      }
      assert.equal(statuses[5], 429, 'all six counted against the real peer address');
    });
  });
}

for (const backend of testBackends()) {
  describe(`per-IP and sign-up limits over HTTP (${backend.name})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(backend, {
        env: { TESSERA_RATE_LIMIT_IP: '30/1h', TESSERA_RATE_LIMIT_SIGNUP: '3/1h', TESSERA_SIGNUP: 'open' },
      });
    });
    after(() => t.close());

    it('limits one address to TESSERA_RATE_LIMIT_IP requests, but never health, keys or verification', async () => {
      await createUser(t, 'busy-caller');
      const token = (await t.app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'busy-caller', password: strongPassword }, remoteAddress: '192.0.2.77' })).json().access_token as string;
      for (let i = 0; i < 60; i += 1) {
        for (const url of ['/healthz', '/readyz', '/.well-known/jwks.json']) {
          assert.equal((await t.app.inject({ url, remoteAddress: '192.0.2.77' })).statusCode, 200, url);
        }
        const verified = await t.app.inject({ url: '/auth/verify', headers: { authorization: `Bearer ${token}` }, remoteAddress: '192.0.2.77' });
        assert.equal(verified.statusCode, 200);
      }
      const statuses: number[] = [];
      for (let i = 0; i < 30; i += 1) {
        statuses.push((await t.app.inject({ url: '/auth/me', headers: { authorization: `Bearer ${token}` }, remoteAddress: '192.0.2.77' })).statusCode);
      }
      assert.deepEqual(statuses, [...Array(29).fill(200), 429], 'the sign-in was the first of the 30');
      const limited = await t.app.inject({ url: '/auth/sessions', headers: { authorization: `Bearer ${token}` }, remoteAddress: '192.0.2.77' });
      assert.equal(limited.json().error, 'rate_limited');
      assert.ok(Number(limited.headers['retry-after']) > 0);
      assert.equal((await t.app.inject({ url: '/auth/me', headers: { authorization: `Bearer ${token}` }, remoteAddress: '192.0.2.78' })).statusCode, 200, 'another address is not affected');
    });

    it('limits sign-ups per address', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i += 1) {
        const response = await t.app.inject({
          method: 'POST',
          url: '/auth/register',
          payload: { username: `joiner-${i}`, password: strongPassword },
          remoteAddress: '192.0.2.90',
        });
        statuses.push(response.statusCode);
      }
      assert.deepEqual(statuses, [201, 201, 201, 429]);
      assert.equal(await t.stores.users.findByUsername('joiner-3'), undefined);
    });
  });
}
