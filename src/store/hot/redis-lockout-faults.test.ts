import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../clock.js';
import { buildApp } from '../../server/app.js';
import { createTessera } from '../../app/create-tessera.js';
import { testConfig } from '../../test-support/config.js';
import { databaseUrl, postgresBackend, type TestDatabase } from '../../test-support/databases.js';
import { startOwnRedis, type OwnRedis } from '../../test-support/redis-server.js';
import { createRedisHotState } from './redis-hot-state.js';

/*
 * Issue 10 finding 12: a lock this instance saw (or set) while Redis answered still holds while
 * Redis is down, instead of the per-instance fallback starting from nothing. Review M2: nor does an
 * outage make a distrusted device token trusted again; while the marks cannot be read, nothing is
 * trusted (docs/adr/006).
 */

const minute = 60_000;
const password = 'correct horse battery staple';

describe('Redis faults: locks', { skip: databaseUrl ? false : 'DATABASE_URL not set' }, () => {
  let redis: OwnRedis;
  let database: TestDatabase;
  before(async () => {
    redis = await startOwnRedis();
    database = await postgresBackend(databaseUrl!).open();
  });
  after(async () => {
    await redis.stop();
    await database.cleanup();
  });

  it('keeps refusing an account locked before Redis went down, until the lock ends', async () => {
    const clock = new ManualClock(Date.now());
    const hotState = await createRedisHotState({ url: redis.url, prefix: 'lock-fault-test' });
    const tessera = await createTessera(testConfig({ TESSERA_LOCKOUT_THRESHOLD: '5' }), { db: database.reopen!(), hotState, clock });
    const app = await buildApp(tessera);
    try {
      await tessera.users.create({ username: 'locked-before', password });
      await tessera.users.create({ username: 'never-locked', password });
      const login = (username: string, secret: string) => app.inject({ method: 'POST', url: '/auth/login', payload: { username, password: secret } });
      for (let i = 0; i < 5; i += 1) assert.equal((await login('locked-before', 'a wrong password!!')).statusCode, 401);
      assert.equal((await login('locked-before', password)).statusCode, 429);

      await redis.stop();
      const refused = await login('locked-before', password);
      assert.equal(refused.statusCode, 429, 'the lock holds while Redis is down');
      assert.equal(refused.json().error, 'too_many_attempts');
      assert.equal(refused.headers['retry-after'], String(15 * 60));
      assert.equal((await login('never-locked', password)).statusCode, 200, 'everyone else still signs in');

      clock.advance(15 * minute);
      assert.equal((await login('locked-before', password)).statusCode, 200, 'and ends on time');
    } finally {
      await app.close();
      await tessera.close();
      await redis.start();
    }
  });

  it('honours no device token while Redis is down, a distrusted one least of all', async () => {
    const clock = new ManualClock(Date.now());
    const hotState = await createRedisHotState({ url: redis.url, prefix: 'distrust-fault-test' });
    const env = { TESSERA_LOCKOUT_THRESHOLD: '5', TESSERA_RATE_LIMIT_LOGIN_ACCOUNT: '1000/1m', TESSERA_RATE_LIMIT_LOGIN_IP: '1000/1m' };
    const tessera = await createTessera(testConfig(env), { db: database.reopen!(), hotState, clock });
    const app = await buildApp(tessera);
    try {
      await tessera.users.create({ username: 'thief-target', password });
      await tessera.users.create({ username: 'honest-owner', password });
      const login = (body: Record<string, string>, remoteAddress: string) => app.inject({ method: 'POST', url: '/auth/login', payload: body, remoteAddress });
      const deviceToken = async (username: string) => {
        const response = await login({ username, password }, '198.51.100.70');
        assert.equal(response.statusCode, 200, response.body);
        return response.json().device_token as string;
      };
      const stolen = await deviceToken('thief-target');
      const honest = await deviceToken('honest-owner');
      // The thief's five guesses lock the device's lane and mark the token distrusted.
      for (let i = 0; i < 5; i += 1) {
        assert.equal((await login({ username: 'thief-target', password: 'a wrong password!!', device_token: stolen }, '192.0.2.70')).statusCode, 401);
      }
      clock.advance(15 * minute);
      for (const username of ['thief-target', 'honest-owner']) {
        for (let i = 0; i < 5; i += 1) assert.equal((await login({ username, password: 'a wrong password!!' }, `203.0.113.${i + 1}`)).statusCode, 401);
      }
      assert.equal((await login({ username: 'thief-target', password, device_token: stolen }, '192.0.2.71')).statusCode, 429, 'distrusted: a stranger');
      assert.equal((await login({ username: 'honest-owner', password, device_token: honest }, '192.0.2.72')).statusCode, 200, 'trusted while Redis answers');

      await redis.stop();
      const cases: [string, string, string][] = [
        ['a distrusted token', 'thief-target', stolen],
        ['a trusted token', 'honest-owner', honest],
      ];
      for (const [name, username, token] of cases) {
        const refused = await login({ username, password, device_token: token }, '192.0.2.73');
        assert.equal(refused.statusCode, 429, `${name} is not honoured while Redis is down`);
        assert.equal(refused.json().error, 'too_many_attempts', name);
      }
    } finally {
      await app.close();
      await tessera.close();
      await redis.start();
    }
  });

  it('keeps a session’s lock on password changes while Redis is down, after an unlock moved its epoch', async () => {
    const clock = new ManualClock(Date.now());
    const hotState = await createRedisHotState({ url: redis.url, prefix: 'epoch-fault-test' });
    const tessera = await createTessera(testConfig({ TESSERA_LOCKOUT_THRESHOLD: '5' }), { db: database.reopen!(), hotState, clock });
    const app = await buildApp(tessera);
    try {
      const user = await tessera.users.create({ username: 'changer', password });
      await tessera.protection.unlock(user.id);
      const signedIn = await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'changer', password } });
      const authorization = `Bearer ${signedIn.json().access_token as string}`;
      const change = (current: string) =>
        app.inject({ method: 'POST', url: '/auth/password', headers: { authorization }, payload: { current_password: current, new_password: 'a brand new passphrase 77' } });
      for (let i = 0; i < 5; i += 1) assert.equal((await change('a wrong password!!')).statusCode, 401);
      assert.equal((await change(password)).statusCode, 429);

      await redis.stop();
      const refused = await change(password);
      assert.equal(refused.statusCode, 429, 'the session lane keeps its key, and so its lock');
      assert.equal(refused.json().error, 'too_many_attempts');
    } finally {
      await app.close();
      await tessera.close();
      await redis.start();
    }
  });
});
