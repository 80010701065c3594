import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createUser, login, signIn, startTestApp, strongPassword } from '../../test-support/app.js';
import { testBackends } from '../../test-support/databases.js';
import { assertApiError, get } from '../../test-support/tokens.js';

interface StatsBody {
  users: number;
  active_sessions: number;
  revocations_in_force: number;
  last_24h: { logins_succeeded: number; logins_failed: number; rate_limited: number; tokens_revoked: number };
  open_incidents: number;
  stores: { database: { kind: string; up: boolean }; hot_state: { kind: string; up: boolean } };
}

for (const backend of testBackends()) {
  describe(`GET /admin/stats (${backend.name})`, () => {
    it('counts users, sessions, revocations, the last 24 hours and open incidents, for admins only', async () => {
      const t = await startTestApp(backend, { env: { TESSERA_RATE_LIMIT_LOGIN_IP: '3/1m' } });
      try {
        await createUser(t, 'stats-admin', { roles: ['admin'] });
        await createUser(t, 'counted');
        const admin = (await signIn(t, 'stats-admin')).access_token;
        const user = await signIn(t, 'counted');
        assert.equal((await login(t, { username: 'counted', password: 'wrong password here' })).statusCode, 401);
        assert.equal((await login(t, { username: 'counted', password: strongPassword })).statusCode, 429, 'the fourth sign-in from this address in a minute');
        const logout = await t.app.inject({ method: 'POST', url: '/auth/revoke', payload: { token: user.access_token } });
        assert.equal(logout.statusCode, 200);
        await t.tessera.stats.settled();

        const read = async (token = admin) => {
          const response = await get(t, '/admin/stats', { token });
          assert.equal(response.statusCode, 200, response.body);
          return response.json() as StatsBody;
        };
        const stats = await read();
        assert.equal(stats.users, 2);
        assert.equal(stats.active_sessions, 2);
        assert.ok(stats.revocations_in_force >= 1);
        assert.deepEqual(stats.last_24h, { logins_succeeded: 2, logins_failed: 1, rate_limited: 1, tokens_revoked: 1 });
        assert.equal(stats.open_incidents, 0);
        assert.deepEqual(stats.stores, {
          database: { kind: backend.name === 'postgres' ? 'postgres' : 'pglite', up: true },
          hot_state: { kind: t.hotStatePrefix ? 'redis' : 'memory', up: true },
        });

        assertApiError(await get(t, '/admin/stats', { token: user.access_token }), 401, 'invalid_token');
        assertApiError(await get(t, '/admin/stats'), 401, 'invalid_token');

        // A day later the hourly counts have left the window (only the two sign-ins below remain).
        t.clock.advance(25 * 3_600_000);
        // From another address: rate limits count real time, not the test clock.
        const signInFrom = async (username: string) => {
          const response = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { username, password: strongPassword }, remoteAddress: '198.51.100.44' });
          assert.equal(response.statusCode, 200, response.body);
          return (response.json() as { access_token: string }).access_token;
        };
        const adminAgain = await signInFrom('stats-admin');
        const other = await signInFrom('counted');
        assertApiError(await get(t, '/admin/stats', { token: other }), 403, 'forbidden');
        await t.tessera.stats.settled();
        const later = await read(adminAgain);
        assert.deepEqual(later.last_24h, { logins_succeeded: 2, logins_failed: 0, rate_limited: 0, tokens_revoked: 0 });
        assert.equal(later.users, 2);
      } finally {
        await t.close();
      }
    });
  });
}
