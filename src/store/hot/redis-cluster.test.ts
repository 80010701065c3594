import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../clock.js';
import { buildApp } from '../../server/app.js';
import { createTessera } from '../../app/create-tessera.js';
import { testConfig } from '../../test-support/config.js';
import { databaseUrl, postgresBackend, type TestDatabase } from '../../test-support/databases.js';
import { keysPerNode, startOwnRedisCluster, type OwnRedisCluster } from '../../test-support/redis-cluster.js';
import { openHotState } from '../../app/storage.js';

const password = 'correct horse battery staple';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('Redis Cluster hot state', { skip: databaseUrl ? false : 'DATABASE_URL not set' }, () => {
  let cluster: OwnRedisCluster;
  let database: TestDatabase;
  before(async () => {
    cluster = await startOwnRedisCluster();
    database = await postgresBackend(databaseUrl!).open();
  });
  after(async () => {
    await cluster.stop();
    await database.cleanup();
  });

  /** An instance whose REDIS_URL is one seed node of the cluster. */
  async function instance(seed: string) {
    const config = testConfig({ REDIS_URL: seed, TESSERA_REDIS_CLUSTER: 'true', TESSERA_RATE_LIMIT_REFRESH: '3/1m' });
    const hotState = await openHotState(config);
    const tessera = await createTessera(config, { db: database.reopen!(), hotState, clock: new ManualClock(Date.now()) });
    const app = await buildApp(tessera);
    return { tessera, app, close: async () => { await app.close(); await tessera.close(); } };
  }

  it('fans revocations out and keeps rate-limit counters across the nodes', async () => {
    const a = await instance(cluster.urls[0]!);
    const b = await instance(cluster.urls[2]!);
    try {
      assert.equal((await a.app.inject({ url: '/readyz' })).statusCode, 200);
      await a.tessera.users.create({ username: 'clustered', password });
      const login = async () =>
        (await a.app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'clustered', password } })).json() as {
          access_token: string;
          refresh_token: string;
        };

      // Counters for many sessions land on different nodes (hash-tagged per session).
      for (let i = 0; i < 8; i += 1) {
        let pair = await login();
        const statuses: number[] = [];
        for (let n = 0; n < 4; n += 1) {
          const response = await (n % 2 === 0 ? a : b).app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: pair.refresh_token } });
          statuses.push(response.statusCode);
          if (response.statusCode === 200) pair = response.json();
        }
        assert.deepEqual(statuses, [200, 200, 200, 429], 'one limit per session, shared by both instances');
      }
      const perNode = await keysPerNode(cluster);
      assert.ok(perNode.filter((count) => count > 0).length >= 2, `counters spread over nodes: ${perNode.join(',')}`);

      const tokens = await login();
      assert.equal((await b.app.inject({ url: '/auth/verify', headers: bearer(tokens.access_token) })).statusCode, 200);
      const revokedAt = Date.now();
      assert.equal((await a.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(tokens.access_token) })).statusCode, 204);
      let status = 200;
      while (status === 200 && Date.now() - revokedAt < 1000) {
        status = (await b.app.inject({ url: '/auth/verify', headers: bearer(tokens.access_token) })).statusCode;
        if (status === 200) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(status, 401, 'the other instance refuses it within 1 s');
    } finally {
      await b.close();
      await a.close();
    }
  });
});
