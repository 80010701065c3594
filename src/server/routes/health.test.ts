import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { buildApp } from '../../server/app.js';
import { createTessera } from '../../app/create-tessera.js';
import { startTestApp } from '../../test-support/app.js';
import { testConfig } from '../../test-support/config.js';
import { databaseUrl, pgliteBackend, uniqueSchema, withAdminPool } from '../../test-support/databases.js';
import { startTcpProxy } from '../../test-support/tcp-proxy.js';
import { openPostgresDb } from '../../store/sql/postgres-db.js';

describe('health and readiness', () => {
  it('answers /healthz and /readyz, and /readyz is 503 once the embedded database is gone', async () => {
    const t = await startTestApp(pgliteBackend);
    try {
      assert.deepEqual((await t.app.inject({ url: '/healthz' })).json(), { status: 'ok' });
      assert.deepEqual((await t.app.inject({ url: '/readyz' })).json(), { status: 'ready' });
      await t.tessera.close();
      const down = await t.app.inject({ url: '/readyz' });
      assert.equal(down.statusCode, 503);
      assert.deepEqual(down.json(), { error: 'service_unavailable', error_description: 'The database is not reachable.' });
      assert.equal((await t.app.inject({ url: '/healthz' })).statusCode, 200, 'the process is still up');
    } finally {
      await t.close();
    }
  });

  it('is 503 while PostgreSQL is unreachable and ready again when it returns', { skip: databaseUrl ? false : 'DATABASE_URL not set' }, async () => {
    const url = new URL(databaseUrl!);
    const proxy = await startTcpProxy(url.hostname, Number(url.port || 5432));
    const schema = uniqueSchema();
    await withAdminPool(databaseUrl!, (pool) => pool.query(`CREATE SCHEMA ${schema}`));
    const proxied = new URL(databaseUrl!);
    proxied.port = String(proxy.port);
    const db = openPostgresDb({ connectionString: proxied.toString(), schema, onError: () => undefined });
    const tessera = await createTessera(testConfig(), { db });
    const app = await buildApp(tessera);
    after(async () => {
      await app.close();
      await tessera.close();
      await proxy.close();
      await withAdminPool(databaseUrl!, (pool) => pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
    });

    assert.equal((await app.inject({ url: '/readyz' })).statusCode, 200);
    await proxy.cut();
    const down = await app.inject({ url: '/readyz' });
    assert.equal(down.statusCode, 503);
    assert.equal(down.json().error, 'service_unavailable');
    const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'x', password: 'y'.repeat(12) } });
    assert.equal(login.statusCode, 503, 'a database outage is a clean 503');
    assert.equal(login.json().error, 'service_unavailable');
    assert.deepEqual(Object.keys(login.json()).sort(), ['error', 'error_description']);
    await proxy.restore();
    assert.equal((await app.inject({ url: '/readyz' })).statusCode, 200);
  });
});
