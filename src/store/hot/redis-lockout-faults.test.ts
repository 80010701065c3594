import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../clock.js';
import { buildApp } from '../../server/app.js';
import { createTessera } from '../../service.js';
import { testConfig } from '../../test-support/config.js';
import { databaseUrl, postgresBackend, type TestDatabase } from '../../test-support/databases.js';
import { startOwnRedis, type OwnRedis } from '../../test-support/redis-server.js';
import { createRedisHotState } from './redis-hot-state.js';

/*
 * Issue 10 finding 12: a lock this instance saw (or set) while Redis answered still holds while
 * Redis is down, instead of the per-instance fallback starting from nothing.
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
});
