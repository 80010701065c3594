import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import { adminOf, guardAdminPrefix, registerAdminApi } from '../plugins/auth-context.js';
import { registerErrorHandling } from '../plugins/errors.js';
import { createUser, signIn, startTestApp, type TestApp } from '../../test-support/app.js';
import { testBackends } from '../../test-support/databases.js';
import { assertApiError } from '../../test-support/tokens.js';

/*
 * One admin gate (SPEC §3 "Administration"): every route under /admin is registered in one
 * scope whose onRequest hook refuses anyone but an admin by stored roles, so a route cannot
 * forget the check, and a route under /admin registered anywhere else fails at start-up.
 */

/** Method and full path of every route `printRoutes({ commonPrefix: false })` shows (a tree). */
function listRoutes(tree: string): { method: string; url: string }[] {
  const routes: { method: string; url: string }[] = [];
  const parents: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^([│ ]*)[├└]── (\S+)(?: \(([^)]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    parents.length = depth;
    const url = `${parents.join('')}${match[2]!}`;
    parents.push(match[2]!);
    for (const method of match[3]?.split(', ') ?? []) routes.push({ method, url });
  }
  return routes;
}

for (const backend of testBackends()) {
  describe(`the admin gate (${backend.name})`, () => {
    let t: TestApp;
    let admin: string;
    let member: string;
    let adminId: string;
    let memberId: string;

    before(async () => {
      t = await startTestApp(backend);
      adminId = await createUser(t, 'gate-admin', { roles: ['admin'] });
      memberId = await createUser(t, 'gate-member', { roles: ['viewer'] });
      admin = (await signIn(t, 'gate-admin')).access_token;
      member = (await signIn(t, 'gate-member')).access_token;
    });
    after(() => t?.close());

    it('answers 401 without a bearer and 403 to a non-admin on every /admin route the app serves', async () => {
      const routes = listRoutes(t.app.printRoutes({ commonPrefix: false })).filter((route) => route.url.startsWith('/admin/'));
      // The listing is not blind: it finds the admin routes this codebase has.
      for (const known of ['GET /admin/incidents', 'PATCH /admin/incidents/:id', 'GET /admin/stats', 'GET /admin/audit', 'GET /admin/audit/export', 'GET /admin/audit/verify', 'GET /admin/events']) {
        assert.ok(routes.some((route) => `${route.method} ${route.url}` === known), `${known} in ${JSON.stringify(routes)}`);
      }
      for (const [index, { method, url }] of routes.entries()) {
        const path = url.replace(/:[a-z]+/gi, '00000000-0000-4000-8000-000000000000');
        const label = `${method} ${url}`;
        // Each route's refusals from a network of their own: access.denied records are sampled
        // per network (ten per ten minutes), and there are more admin routes than that.
        const remoteAddress = `10.${index}.0.9`;
        if (method === 'HEAD') {
          // No body to read the error from; refused all the same.
          assert.equal((await t.app.inject({ method, url: path, remoteAddress })).statusCode, 401, label);
          continue;
        }
        const anonymous = await t.app.inject({ method: method as 'GET', url: path, remoteAddress });
        assertApiError(anonymous, 401, 'invalid_token', `${label} without a bearer`);
        assert.match(String(anonymous.headers['www-authenticate']), /^Bearer realm=/, label);
        // No body and no query: the gate answers before validation, so a non-admin learns nothing of the schema.
        assertApiError(await t.app.inject({ method: method as 'GET', url: path, remoteAddress, headers: { authorization: `Bearer ${member}` } }), 403, 'forbidden', `${label} as a non-admin`);
      }
      await t.tessera.auditChain.flush();
      const denied = await t.stores.audit.list({ type: 'access.denied', userId: memberId }, { limit: 100 });
      assert.deepEqual(
        new Set(denied.map((record) => record.details.endpoint)),
        new Set(routes.filter((route) => route.method !== 'HEAD').map((route) => route.url)),
        'each refusal is recorded with its endpoint',
      );
    });

    it('refuses a route added through the admin plugin without a check of its own to anyone but an admin', async () => {
      const app = Fastify();
      registerErrorHandling(app);
      let reached = 0;
      await registerAdminApi(app, { authenticate: t.tessera.authenticate, events: t.tessera.events }, async (scope) => {
        scope.get('/throwaway', async (request) => {
          reached += 1;
          return { admin: adminOf(request).user.id };
        });
      });
      await app.ready();
      try {
        assertApiError(await app.inject({ method: 'GET', url: '/admin/throwaway' }), 401, 'invalid_token', 'no bearer');
        assertApiError(await app.inject({ method: 'GET', url: '/admin/throwaway', headers: { authorization: 'Bearer garbage' } }), 401, 'invalid_token', 'bad bearer');
        assertApiError(await app.inject({ method: 'GET', url: '/admin/throwaway', headers: { authorization: `Bearer ${member}` } }), 403, 'forbidden', 'non-admin');
        assert.equal(reached, 0, 'the handler never ran for a refused caller');
        const allowed = await app.inject({ method: 'GET', url: '/admin/throwaway', headers: { authorization: `Bearer ${admin}` } });
        assert.equal(allowed.statusCode, 200, allowed.body);
        assert.deepEqual(allowed.json(), { admin: adminId });
      } finally {
        await app.close();
      }
    });

    it('applies a demotion at once: the stored roles count, not the token', async () => {
      const id = await createUser(t, 'gate-demoted', { roles: ['admin'] });
      const token = (await signIn(t, 'gate-demoted')).access_token;
      const stats = () => t.app.inject({ method: 'GET', url: '/admin/stats', headers: { authorization: `Bearer ${token}` } });
      assert.equal((await stats()).statusCode, 200);
      await t.db.query(`UPDATE users SET roles = '{}' WHERE id = $1`, [id]);
      assertApiError(await stats(), 403, 'forbidden', 'demoted');
    });
  });
}

describe('routes under /admin outside the admin plugin', () => {
  it('fail at start-up instead of being served without the gate', async () => {
    for (const url of ['/admin/sneaky', '/admin']) {
      const app = Fastify();
      guardAdminPrefix(app);
      app.get('/auth/fine', async () => ({}));
      await assert.rejects(
        (async () => {
          app.get(url, async () => ({ leaked: true }));
          await app.ready();
        })(),
        /must be registered through registerAdminApi/,
        url,
      );
      await app.close().catch(() => undefined);
    }
  });
});
