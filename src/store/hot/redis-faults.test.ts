import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { databaseUrl, postgresBackend, type TestDatabase } from '../../test-support/databases.js';
import { startOwnRedis, type OwnRedis } from '../../test-support/redis-server.js';
import { createTessera } from '../../app/create-tessera.js';
import { buildApp } from '../../server/app.js';
import { testConfig } from '../../test-support/config.js';
import { createRedisHotState } from './redis-hot-state.js';
import { ManualClock } from '../../clock.js';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** An app on the shared PostgreSQL schema whose hot state is the test's own redis-server. */
async function appOn(database: TestDatabase, redisUrl: string, env: Record<string, string> = {}) {
  const hotState = await createRedisHotState({ url: redisUrl, prefix: 'fault-test' });
  const tessera = await createTessera(testConfig(env), { db: database.reopen!(), hotState, clock: new ManualClock(Date.now()) });
  const app = await buildApp(tessera);
  return { tessera, app, close: async () => { await app.close(); await tessera.close(); } };
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}

describe('Redis faults', { skip: databaseUrl ? false : 'DATABASE_URL not set' }, () => {
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

  it('keeps signing in, refreshing and revoking while Redis is down, and reports not ready', async () => {
    const a = await appOn(database, redis.url, { TESSERA_RATE_LIMIT_REFRESH: '3/1m' });
    try {
      await a.tessera.users.create({ username: 'redis-down', password: 'correct horse battery staple' });
      const login = () => a.app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'redis-down', password: 'correct horse battery staple' } });
      const first = (await login()).json();
      await redis.stop();

      const ready = await a.app.inject({ url: '/readyz' });
      assert.equal(ready.statusCode, 503);
      assert.equal(ready.json().error_description, 'Redis is not reachable.');
      assert.equal((await login()).statusCode, 200, 'sign-in needs no Redis');
      let tokens = first;
      const statuses: number[] = [];
      for (let i = 0; i < 4; i += 1) {
        const response = await a.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: tokens.refresh_token } });
        statuses.push(response.statusCode);
        if (response.statusCode === 200) tokens = response.json();
      }
      assert.deepEqual(statuses, [200, 200, 200, 429], 'the refresh limit holds in memory while Redis is away');
      assert.equal((await a.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(tokens.access_token) })).statusCode, 204);
      assert.equal((await a.app.inject({ url: '/auth/verify', headers: bearer(tokens.access_token) })).statusCode, 401);

      await redis.start();
      assert.ok(await until(async () => (await a.app.inject({ url: '/readyz' })).statusCode === 200, 10_000), 'ready again');
    } finally {
      await a.close();
    }
  });

  it('delivers a revocation made while Redis was down once it returns (resync on reconnect)', async () => {
    const a = await appOn(database, redis.url);
    const b = await appOn(database, redis.url);
    try {
      await a.tessera.users.create({ username: 'redis-gap', password: 'correct horse battery staple' });
      const tokens = (await a.app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'redis-gap', password: 'correct horse battery staple' } })).json();
      const verifyOnB = async () => (await b.app.inject({ url: '/auth/verify', headers: bearer(tokens.access_token) })).statusCode;
      assert.equal(await verifyOnB(), 200);
      await redis.stop();
      assert.equal((await a.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(tokens.access_token) })).statusCode, 204);
      assert.equal(await verifyOnB(), 200, 'b has not heard yet: no fan-out while Redis is down');
      await redis.start();
      assert.ok(await until(async () => (await verifyOnB()) === 401, 10_000), 'b refuses the token after reconnecting');
    } finally {
      await b.close();
      await a.close();
    }
  });
});
