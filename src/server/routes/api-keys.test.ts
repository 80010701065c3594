import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { apiKeyCacheTtlMs } from '../../api-keys/service.js';
import { createUser, signIn, startTestApp, startTwoInstances, strongPassword, type TestApp } from '../../test-support/app.js';
import { testBackends } from '../../test-support/databases.js';
import { counter, parseExposition } from '../../test-support/metrics.js';
import { assertApiError, del, get, postJson, type Json } from '../../test-support/tokens.js';

/*
 * API keys over HTTP (issue 12): made, listed and deleted by their owner (Bearer), listed and
 * revoked by admins, accepted by GET/POST /auth/verify and (with tokens:introspect) by
 * POST /auth/introspect; refused once deleted, expired or their owner disabled, on every
 * instance within a second; limited per key; and bad input refused without a 5xx or a change.
 */

interface Created {
  id: string;
  api_key: string;
  name: string;
  permissions: string[];
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  last_used_ip: string | null;
}

/** The per-key limit these tests run with (TESSERA_API_KEY_RATE_LIMIT). */
const keyLimit = 25;

const withKey = (key: string) => ({ headers: { 'x-api-key': key } });
const withScheme = (key: string) => ({ headers: { authorization: `ApiKey ${key}` } });

/** A creation body with the owner's password, which every creation asks for again. */
const confirmed = (body: Json): Json => ({ current_password: strongPassword, ...body });

async function makeKey(t: TestApp, token: string, body: Json): Promise<Created> {
  const response = await postJson(t, '/auth/api-keys', confirmed(body), { token });
  assert.equal(response.statusCode, 201, response.body);
  return response.json() as Created;
}

async function auditOf(t: TestApp, type: string): Promise<Array<{ user_id: string | null; details: Record<string, unknown> }>> {
  await t.tessera.auditChain.flush();
  return t.db.query(`SELECT user_id, details FROM audit_log WHERE type = $1 ORDER BY seq`, [type]);
}

async function storedKeys(t: TestApp): Promise<{ all: number; active: number }> {
  const [row] = await t.db.query<{ all: string; active: string }>(`SELECT count(*)::text AS all, count(*) FILTER (WHERE revoked_at IS NULL)::text AS active FROM api_keys`);
  return { all: Number(row!.all), active: Number(row!.active) };
}

async function verifications(t: TestApp, outcome: string): Promise<number> {
  return counter(parseExposition(await t.tessera.metrics.expose()), 'tessera_api_key_verifications_total', { outcome });
}

/** Whatever the case, never a 5xx and always the SPEC's error shape. */
function assertRefusal(response: LightMyRequestResponse, allowed: readonly number[], label: string): void {
  assert.ok(response.statusCode < 500, `${label}: ${response.statusCode} ${response.body}`);
  assert.ok(allowed.includes(response.statusCode), `${label}: ${response.statusCode} ${response.body}`);
  const body = response.json() as Json;
  assert.equal(typeof body.error, 'string', label);
  assert.equal(typeof body.error_description, 'string', label);
}

for (const backend of testBackends()) {
  describe(`API keys (${backend.name})`, () => {
    let t: TestApp;
    let admin: string;
    before(async () => {
      t = await startTestApp(backend, { env: { TESSERA_API_KEY_RATE_LIMIT: `${keyLimit}/1m` } });
      await createUser(t, 'keys-admin', { roles: ['admin'] });
      admin = (await signIn(t, 'keys-admin')).access_token;
    });
    after(() => t?.close());

    it('runs the life cycle: create, secret once, list with last use, verify, introspect, delete, used after revocation', async () => {
      const ownerId = await createUser(t, 'key-owner', { roles: ['editor'], permissions: ['docs:read', 'docs:write', 'tokens:introspect'] });
      const owner = await signIn(t, 'key-owner');
      const created = await makeKey(t, owner.access_token, { name: 'CI deploy', permissions: ['docs:read', 'docs:read'] });
      assert.deepEqual(Object.keys(created).sort(), ['api_key', 'created_at', 'expires_at', 'id', 'last_used_at', 'last_used_ip', 'name', 'permissions']);
      assert.match(created.api_key, new RegExp(`^tsk_${created.id}_[A-Za-z0-9_-]{43}$`));
      assert.deepEqual({ ...created, api_key: '', id: '' }, { api_key: '', id: '', name: 'CI deploy', permissions: ['docs:read'], created_at: new Date(t.clock.now()).toISOString(), expires_at: null, last_used_at: null, last_used_ip: null });
      const secret = created.api_key.slice(-43);
      const stored = await t.db.query<{ row: string }>(`SELECT row_to_json(k)::text AS row FROM api_keys k WHERE id = $1`, [created.id]);
      assert.equal(stored.length, 1);
      assert.ok(!stored[0]!.row.includes(secret), 'only a hash of the secret is stored');

      const listed = await get(t, '/auth/api-keys', { token: owner.access_token });
      assert.equal(listed.statusCode, 200, listed.body);
      assert.ok(!listed.body.includes(secret), 'the secret is shown once');
      const { api_key: _shownOnce, ...view } = created;
      assert.deepEqual((listed.json() as { api_keys: Json[] }).api_keys, [view]);

      // GET /auth/verify, both ways of presenting the key.
      t.clock.advance(5_000);
      for (const [label, options] of [['X-API-Key', withKey(created.api_key)], ['Authorization: ApiKey', withScheme(created.api_key)]] as const) {
        const response = await get(t, '/auth/verify', options);
        assert.equal(response.statusCode, 200, `${label}: ${response.body}`);
        assert.equal(response.headers['x-user-id'], ownerId, label);
        assert.equal(response.headers['x-username'], 'key-owner', label);
        assert.equal(response.headers['x-roles'], '', 'a key carries no roles, only its permissions');
        assert.equal(response.headers['x-permissions'], 'docs:read', "the key's permissions, not the owner's");
        assert.equal(response.headers['x-session-id'], '', label);
        assert.equal(response.headers['x-tenant-id'], '', label);
        assert.equal(response.headers['x-auth-method'], 'api_key', label);
        assert.equal(response.headers['cache-control'], 'no-store', label);
        assert.deepEqual(response.json(), { sub: ownerId, username: 'key-owner', roles: [], permissions: ['docs:read'], api_key_id: created.id, auth_method: 'api_key' });
      }
      assert.equal((await get(t, '/auth/verify?permissions=docs:read', withKey(created.api_key))).statusCode, 200);
      assertApiError(await get(t, '/auth/verify?permissions=docs:read,docs:write', withKey(created.api_key)), 403, 'insufficient_permissions', 'a permission of the owner, not of the key');

      // POST /auth/verify: no body, or only required permissions.
      const verdict = await t.app.inject({ method: 'POST', url: '/auth/verify', ...withKey(created.api_key) });
      assert.equal(verdict.statusCode, 200, verdict.body);
      assert.deepEqual(verdict.json(), { valid: true, auth_method: 'api_key', api_key_id: created.id, user: { id: ownerId, username: 'key-owner', roles: [], permissions: ['docs:read'] } });
      assert.equal(verdict.headers['x-auth-method'], 'api_key');
      assert.equal(verdict.headers['x-user-id'], ownerId);
      assert.equal((await postJson(t, '/auth/verify', { required_permissions: ['docs:read'] }, withScheme(created.api_key))).statusCode, 200);
      assertApiError(await postJson(t, '/auth/verify', { required_permissions: ['docs:write'] }, withKey(created.api_key)), 403, 'insufficient_permissions', 'POST', { valid: false });
      assertApiError(await postJson(t, '/auth/verify', { token: owner.access_token }, withKey(created.api_key)), 400, 'invalid_request', 'a token and a key', { valid: false });
      assertApiError(await postJson(t, '/auth/verify', {}), 401, 'invalid_token', 'neither', { valid: false });

      const used = ((await get(t, '/auth/api-keys', { token: owner.access_token })).json() as { api_keys: Created[] }).api_keys[0]!;
      assert.equal(used.last_used_at, new Date(t.clock.now()).toISOString());
      assert.equal(used.last_used_ip, '127.0.0.1');

      // POST /auth/introspect: only with tokens:introspect.
      assertApiError(await postJson(t, '/auth/introspect', { token: owner.access_token }, withKey(created.api_key)), 403, 'insufficient_permissions', 'a key without tokens:introspect');
      const introspector = await makeKey(t, owner.access_token, { name: 'introspector', permissions: ['tokens:introspect'] });
      const introspected = await postJson(t, '/auth/introspect', { token: owner.access_token }, withKey(introspector.api_key));
      assert.equal(introspected.statusCode, 200, introspected.body);
      assert.equal((introspected.json() as Json).active, true);
      assert.equal((introspected.json() as Json).sub, ownerId);
      assert.equal((await postJson(t, '/auth/introspect', { token: 'not-a-token' }, withScheme(introspector.api_key))).json().active, false);
      assertApiError(await postJson(t, '/auth/introspect', { token: owner.access_token }, { headers: { 'x-api-key': introspector.api_key, authorization: `Bearer ${admin}` } }), 400, 'invalid_request', 'both');
      assertApiError(await postJson(t, '/auth/introspect', { token: owner.access_token }, withKey(`${introspector.api_key.slice(0, -1)}${introspector.api_key.endsWith("A") ? "E" : "A"}`)), 401, 'invalid_token', 'a wrong secret');
      const guesses = await auditOf(t, 'token.rejected');
      assert.deepEqual(guesses.map((record) => record.details), [{ reason: 'api_key_invalid', endpoint: '/auth/introspect' }], 'a wrong secret is a guess, seen by detection');

      // Permissions the owner does not hold: 400, nothing stored.
      const before = await storedKeys(t);
      // A stolen access token alone mints no key: the owner's password is asked again (a wrong one
      // counts towards a lock of the session's own, the check a password change makes:
      // flows/confirm-password.ts, locking tested in change-password.test.ts).
      assertApiError(await postJson(t, '/auth/api-keys', { name: 'stolen', permissions: [], current_password: 'not the password at all' }, { token: owner.access_token }), 401, 'invalid_credentials', 'a wrong current password');
      // Confirmed against a hash a reset or change replaced meanwhile: refused under the owner's lock.
      await assert.rejects(
        t.tessera.apiKeys.create(ownerId, { name: 'stale', permissions: [], confirmedPasswordHash: 'a hash replaced meanwhile' }),
        (error: unknown) => (error as { code?: string }).code === 'invalid_credentials',
      );
      assert.deepEqual(await storedKeys(t), before, 'no key minted without the password');
      assertApiError(await postJson(t, '/auth/api-keys', confirmed({ name: 'too much', permissions: ['docs:read', 'users:delete'] }), { token: owner.access_token }), 400, 'invalid_request');
      assert.deepEqual(await storedKeys(t), before);

      // Delete: refused everywhere at once on this instance, and a later use is recorded.
      const valid = await verifications(t, 'valid');
      const revoked = await verifications(t, 'revoked');
      assert.equal((await del(t, `/auth/api-keys/${created.id}`, { token: owner.access_token })).statusCode, 204);
      assertApiError(await get(t, '/auth/verify', withKey(created.api_key)), 401, 'invalid_token', 'deleted');
      assertApiError(await postJson(t, '/auth/verify', {}, withKey(created.api_key)), 401, 'invalid_token', 'deleted, POST', { valid: false });
      assertApiError(await del(t, `/auth/api-keys/${created.id}`, { token: owner.access_token }), 404, 'not_found', 'deleted twice');
      const remaining = ((await get(t, '/auth/api-keys', { token: owner.access_token })).json() as { api_keys: Created[] }).api_keys;
      assert.deepEqual(remaining.map((key) => key.id), [introspector.id]);
      assert.equal(await verifications(t, 'valid'), valid);
      assert.equal(await verifications(t, 'revoked'), revoked + 2);

      const revokedRecords = await auditOf(t, 'api_key.revoked');
      assert.deepEqual(revokedRecords.map((record) => [record.user_id, record.details]), [[ownerId, { keyId: created.id }]]);
      const usedAfter = await auditOf(t, 'api_key.used_after_revocation');
      assert.deepEqual(usedAfter.map((record) => [record.user_id, record.details]), [[ownerId, { keyId: created.id }], [ownerId, { keyId: created.id }]]);
      const createdRecords = (await auditOf(t, 'api_key.created')).filter((record) => record.user_id === ownerId);
      assert.deepEqual(createdRecords.map((record) => record.details), [
        { keyId: created.id, permissions: ['docs:read'], expiresAt: null },
        { keyId: introspector.id, permissions: ['tokens:introspect'], expiresAt: null },
      ]);
      const everything = await t.db.query<{ text: string }>(`SELECT concat_ws(' ', type, details::text, user_agent, request_id) AS text FROM audit_log`);
      for (const record of everything) {
        assert.ok(!record.text.includes(secret) && !record.text.includes(introspector.api_key.slice(-43)), `no secret in the audit: ${record.text}`);
        assert.ok(!record.text.includes('CI deploy'), 'no name in the audit');
      }
    });

    it('answers 401 without a bearer token on every route (403 on admin routes for a non-admin), changing nothing', async () => {
      await createUser(t, 'key-plain', { permissions: ['docs:read'] });
      const plain = await signIn(t, 'key-plain');
      const key = await makeKey(t, plain.access_token, { name: 'plain', permissions: [] });
      const before = await storedKeys(t);
      const createdBefore = (await auditOf(t, 'api_key.created')).length;
      const body = confirmed({ name: 'sneaky', permissions: [] });
      const credentials: Array<[string, { token?: string; headers?: Record<string, string> }]> = [
        ['nothing', {}],
        ['an API key', withKey(key.api_key)],
        ['an API key as Authorization', withScheme(key.api_key)],
        ['a malformed bearer token', { headers: { authorization: 'Bearer not.a.token' } }],
      ];
      for (const [label, credential] of credentials) {
        assertApiError(await postJson(t, '/auth/api-keys', body, credential), 401, 'invalid_token', `POST: ${label}`);
        assertApiError(await get(t, '/auth/api-keys', credential), 401, 'invalid_token', `GET: ${label}`);
        assertApiError(await del(t, `/auth/api-keys/${key.id}`, credential), 401, 'invalid_token', `DELETE: ${label}`);
        assertApiError(await get(t, '/admin/api-keys', credential), 401, 'invalid_token', `admin GET: ${label}`);
        assertApiError(await del(t, `/admin/api-keys/${key.id}`, credential), 401, 'invalid_token', `admin DELETE: ${label}`);
        assertApiError(await postJson(t, '/auth/introspect', { token: plain.access_token }, credential.token ? credential : {}), 401, 'invalid_token', `introspect: ${label}`);
      }
      assertApiError(await get(t, '/admin/api-keys', { token: plain.access_token }), 403, 'forbidden');
      assertApiError(await del(t, `/admin/api-keys/${key.id}`, { token: plain.access_token }), 403, 'forbidden');
      assertApiError(await postJson(t, '/auth/introspect', { token: plain.access_token }, { token: plain.access_token }), 403, 'forbidden');
      assert.deepEqual(await storedKeys(t), before);
      assert.equal((await auditOf(t, 'api_key.created')).length, createdBefore);
      assert.equal((await get(t, '/auth/verify', withKey(key.api_key))).statusCode, 200, 'the key still works');
    });

    it("answers 404 for another user's key and 401 for another id with one's own secret", async () => {
      await createUser(t, 'key-mallory', { permissions: ['docs:read'] });
      await createUser(t, 'key-victim', { permissions: ['docs:read'] });
      const mallory = await signIn(t, 'key-mallory');
      const victim = await signIn(t, 'key-victim');
      const own = await makeKey(t, mallory.access_token, { name: 'mine', permissions: ['docs:read'] });
      const theirs = await makeKey(t, victim.access_token, { name: 'theirs', permissions: ['docs:read'] });
      assertApiError(await del(t, `/auth/api-keys/${theirs.id}`, { token: mallory.access_token }), 404, 'not_found');
      assert.ok(!(await get(t, '/auth/api-keys', { token: mallory.access_token })).body.includes(theirs.id), 'not listed to another user');
      const spliced = `tsk_${theirs.id}_${own.api_key.slice(-43)}`;
      assertApiError(await get(t, '/auth/verify', withKey(spliced)), 401, 'invalid_token', 'their id, my secret');
      assert.equal((await get(t, '/auth/verify', withKey(theirs.api_key))).statusCode, 200, 'still theirs and alive');
      assert.equal((await auditOf(t, 'api_key.revoked')).filter((record) => record.details.keyId === theirs.id).length, 0);
    });

    it("lets an admin list every user's keys (filter, pages) and revoke any, recorded with by", async () => {
      const aliceId = await createUser(t, 'key-alice', { permissions: ['docs:read'] });
      const bobId = await createUser(t, 'key-bob', { permissions: ['docs:read'] });
      const alice = await signIn(t, 'key-alice');
      const bob = await signIn(t, 'key-bob');
      const aliceKeys: Created[] = [];
      for (let i = 0; i < 3; i += 1) {
        aliceKeys.push(await makeKey(t, alice.access_token, { name: `alice ${i}`, permissions: [] }));
        t.clock.advance(1);
      }
      const bobKey = await makeKey(t, bob.access_token, { name: 'bob', permissions: ['docs:read'] });

      const pages: string[][] = [];
      let cursor: string | null = null;
      do {
        const response = await get(t, `/admin/api-keys?user=${aliceId}&limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: admin });
        assert.equal(response.statusCode, 200, response.body);
        const page = response.json() as { api_keys: Array<Created & { user_id: string }>; next_cursor: string | null };
        for (const key of page.api_keys) {
          assert.equal(key.user_id, aliceId);
          assert.equal((key as unknown as Json).api_key, undefined, 'no secret in the admin list');
        }
        pages.push(page.api_keys.map((key) => key.id));
        cursor = page.next_cursor;
      } while (cursor);
      assert.deepEqual(pages, [[aliceKeys[2]!.id, aliceKeys[1]!.id], [aliceKeys[0]!.id]], 'newest first, two per page');
      const everyone = (await get(t, '/admin/api-keys?limit=200', { token: admin })).json() as { api_keys: Array<{ id: string; user_id: string }> };
      assert.ok(everyone.api_keys.some((key) => key.id === bobKey.id && key.user_id === bobId));

      for (const query of ['limit=0', 'limit=201', 'limit=abc', 'cursor=not-a-cursor', 'user=not-a-uuid', 'user=', 'other=1', `cursor=${'A'.repeat(10 * 1024)}`]) {
        assertRefusal(await get(t, `/admin/api-keys?${query}`, { token: admin }), [400], query);
      }

      assert.equal((await del(t, `/admin/api-keys/${bobKey.id}`, { token: admin })).statusCode, 204);
      assertApiError(await get(t, '/auth/verify', withKey(bobKey.api_key)), 401, 'invalid_token');
      assertApiError(await del(t, `/admin/api-keys/${bobKey.id}`, { token: admin }), 404, 'not_found');
      assertApiError(await del(t, `/admin/api-keys/00000000-0000-4000-8000-000000000000`, { token: admin }), 404, 'not_found');
      const [{ id: adminId }] = (await t.db.query<{ id: string }>(`SELECT id FROM users WHERE username = 'keys-admin'`)) as [{ id: string }];
      const records = (await auditOf(t, 'api_key.revoked')).filter((record) => record.details.keyId === bobKey.id);
      assert.equal(records.length, 1);
      assert.equal(records[0]!.user_id, bobId);
      assert.deepEqual(records[0]!.details, { keyId: bobKey.id, by: adminId });
      assert.ok(!(await get(t, '/admin/api-keys?limit=200', { token: admin })).body.includes(bobKey.id), 'revoked keys are not listed');
    });

    it('refuses an expired key (fake clock), a disabled owner at once, and a deleted owner', async () => {
      const ownerId = await createUser(t, 'key-expiring', { permissions: ['docs:read'] });
      const owner = await signIn(t, 'key-expiring');
      const expiring = await makeKey(t, owner.access_token, { name: 'short', permissions: ['docs:read'], expires_at: new Date(t.clock.now() + 60_000).toISOString() });
      assert.equal(expiring.expires_at, new Date(t.clock.now() + 60_000).toISOString());
      const lasting = await makeKey(t, owner.access_token, { name: 'long', permissions: ['docs:read'] });
      assert.equal((await get(t, '/auth/verify', withKey(expiring.api_key))).statusCode, 200);
      t.clock.advance(59_999);
      assert.equal((await get(t, '/auth/verify', withKey(expiring.api_key))).statusCode, 200);
      const expired = await verifications(t, 'expired');
      t.clock.advance(1);
      assertApiError(await get(t, '/auth/verify', withKey(expiring.api_key)), 401, 'invalid_token', 'expired at its instant');
      assert.equal(await verifications(t, 'expired'), expired + 1);

      // Disabled: refused at once (the verification just before is still in this instance's cache).
      assert.equal((await get(t, '/auth/verify', withKey(lasting.api_key))).statusCode, 200);
      const patch = (body: Json) => t.app.inject({ method: 'PATCH', url: `/admin/users/${ownerId}`, headers: { authorization: `Bearer ${admin}` }, payload: body });
      assert.equal((await patch({ disabled: true })).statusCode, 200);
      assertApiError(await get(t, '/auth/verify', withKey(lasting.api_key)), 401, 'invalid_token', 'owner disabled');
      assertApiError(await postJson(t, '/auth/verify', {}, withKey(lasting.api_key)), 401, 'invalid_token', 'owner disabled, POST', { valid: false });
      t.clock.advance(apiKeyCacheTtlMs);
      assertApiError(await get(t, '/auth/verify', withKey(lasting.api_key)), 401, 'invalid_token', 'owner disabled, read again');

      // Deleted with its owner (ON DELETE CASCADE).
      assert.equal((await t.app.inject({ method: 'DELETE', url: `/admin/users/${ownerId}`, headers: { authorization: `Bearer ${admin}` } })).statusCode, 204);
      const left = await t.db.query(`SELECT id FROM api_keys WHERE user_id = $1`, [ownerId]);
      assert.deepEqual(left, []);
      t.clock.advance(apiKeyCacheTtlMs);
      assertApiError(await get(t, '/auth/verify', withKey(lasting.api_key)), 401, 'invalid_token', 'owner deleted');
    });

    it("ends every key of a user with an admin's revoke-all, recorded with the admin", async () => {
      const ownerId = await createUser(t, 'key-revoked-all', { permissions: ['docs:read'] });
      const owner = await signIn(t, 'key-revoked-all');
      const key = await makeKey(t, owner.access_token, { name: 'kept', permissions: ['docs:read'] });
      assert.equal((await get(t, '/auth/verify', withKey(key.api_key))).statusCode, 200);
      const response = await t.app.inject({ method: 'POST', url: `/admin/users/${ownerId}/revoke-all`, headers: { authorization: `Bearer ${admin}` } });
      assert.equal(response.statusCode, 200, response.body);
      assertApiError(await get(t, '/auth/verify', withKey(key.api_key)), 401, 'invalid_token', 'revoked with the rest');
      const [{ id: adminId }] = (await t.db.query<{ id: string }>(`SELECT id FROM users WHERE username = 'keys-admin'`)) as [{ id: string }];
      const records = (await auditOf(t, 'api_key.revoked')).filter((record) => record.user_id === ownerId);
      assert.deepEqual(records.map((record) => record.details), [{ keyId: key.id, by: adminId }]);
    });

    it('limits verifications per key: 429 rate_limited with Retry-After, other keys unaffected', async () => {
      await createUser(t, 'key-busy', { permissions: ['docs:read'] });
      const busy = await signIn(t, 'key-busy');
      const hot = await makeKey(t, busy.access_token, { name: 'hot', permissions: [] });
      const cold = await makeKey(t, busy.access_token, { name: 'cold', permissions: [] });
      for (let i = 0; i < keyLimit; i += 1) assert.equal((await get(t, '/auth/verify', withKey(hot.api_key))).statusCode, 200, `request ${i + 1}`);
      const limited = assertApiError(await get(t, '/auth/verify', withKey(hot.api_key)), 429, 'rate_limited');
      assert.ok(limited);
      const response = await postJson(t, '/auth/verify', {}, withKey(hot.api_key));
      assertApiError(response, 429, 'rate_limited', 'POST', { valid: false });
      assert.ok(Number(response.headers['retry-after']) >= 1, `retry-after ${String(response.headers['retry-after'])}`);
      assert.equal((await get(t, '/auth/verify', withKey(cold.api_key))).statusCode, 200, 'per key');
      assert.ok((await verifications(t, 'rate_limited')) >= 2);
      const records = (await auditOf(t, 'rate_limited')).filter((record) => record.details.limiter === 'api-key');
      assert.ok(records.length >= 1);
    });

    it('refuses bad input with 400/401/403/404 in the error shape, never a 5xx, and changes nothing', async () => {
      await createUser(t, 'key-fuzz', { permissions: ['docs:read'] });
      const fuzz = await signIn(t, 'key-fuzz');
      const good = await makeKey(t, fuzz.access_token, { name: 'good', permissions: ['docs:read'] });
      const before = await storedKeys(t);
      const future = new Date(t.clock.now() + 3_600_000).toISOString();
      const bodies: Array<[string, unknown]> = [
        ['name with markup', { name: '<script>alert(1)</script>', permissions: [] }],
        ['name with an ampersand', { name: 'a &amp; b', permissions: [] }],
        ['name with a newline', { name: 'two\nlines', permissions: [] }],
        ['name with NUL', { name: 'nul\u0000', permissions: [] }],
        ['name with a bidi override', { name: 'abc\u202edef', permissions: [] }],
        ['empty name', { name: '', permissions: [] }],
        ['blank name', { name: '   ', permissions: [] }],
        ['10 KiB name', { name: 'n'.repeat(10 * 1024), permissions: [] }],
        ['name a number', { name: 7, permissions: [] }],
        ['no name', { permissions: [] }],
        ['no permissions', { name: 'x' }],
        ['permissions a string', { name: 'x', permissions: 'docs:read' }],
        ['permission of the owner with a comma', { name: 'x', permissions: ['docs:read,admin'] }],
        ['permission with a newline', { name: 'x', permissions: ['docs:read\r\nX-Admin: 1'] }],
        ['10 KiB permission', { name: 'x', permissions: ['p'.repeat(10 * 1024)] }],
        ['a permission the owner lacks', { name: 'x', permissions: ['docs:write'] }],
        ['a permission of null', { name: 'x', permissions: [null] }],
        ['expiry in the past', { name: 'x', permissions: [], expires_at: new Date(t.clock.now() - 1000).toISOString() }],
        ['expiry now', { name: 'x', permissions: [], expires_at: new Date(t.clock.now()).toISOString() }],
        ['expiry not a date', { name: 'x', permissions: [], expires_at: 'tomorrow' }],
        ['expiry without an offset', { name: 'x', permissions: [], expires_at: future.slice(0, 19) }],
        ['expiry a number', { name: 'x', permissions: [], expires_at: t.clock.now() + 1000 }],
        ['expiry out of range', { name: 'x', permissions: [], expires_at: '2030-13-45T99:99:99Z' }],
        ['expiry on a day the month lacks', { name: 'x', permissions: [], expires_at: '2030-02-30T00:00:00Z' }],
        ['expiry at 24:00', { name: 'x', permissions: [], expires_at: '2030-01-01T24:00:00Z' }],
        ['expiry at second 60', { name: 'x', permissions: [], expires_at: '2030-01-01T23:59:60Z' }],
        ['no current password', { name: 'x', permissions: [], current_password: undefined }],
        ['current password a number', { name: 'x', permissions: [], current_password: 12345 }],
        ['10 KiB expiry', { name: 'x', permissions: [], expires_at: '9'.repeat(10 * 1024) }],
        ['unknown field', { name: 'x', permissions: [], user_id: '00000000-0000-4000-8000-000000000000' }],
        ['a secret of its own', { name: 'x', permissions: [], api_key: good.api_key }],
        ['body an array', [{ name: 'x', permissions: [] }]],
        ['body null', null],
      ];
      for (const [label, body] of bodies) {
        const response = await postJson(t, '/auth/api-keys', body !== null && typeof body === 'object' && !Array.isArray(body) ? confirmed(body as Json) : body, { token: fuzz.access_token });
        assertRefusal(response, [400], label);
        assert.equal((response.json() as Json).error, 'invalid_request', label);
      }
      assert.deepEqual(await storedKeys(t), before, 'nothing stored');

      const [id, secret] = [good.id, good.api_key.slice(-43)];
      const presented: Array<[string, string]> = [
        ['wrong prefix', `tsx_${id}_${secret}`],
        ['upper-case prefix', `TSK_${id}_${secret}`],
        ['truncated secret', good.api_key.slice(0, -1)],
        ['secret one too long', `${good.api_key}A`],
        ['no secret', `tsk_${id}_`],
        ['only the id, prefixed', `tsk_${id}`],
        ['a JWT-looking value', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'],
        ['an injected quote', `tsk_${id}_${secret.slice(0, -1)}'`],
        ['injected SQL', `tsk_${id}_' OR '1'='1`],
        ['a percent-encoded key', encodeURIComponent(good.api_key).replace(/_/g, '%5F')],
        ['10 KiB', `tsk_${'a'.repeat(10 * 1024)}`],
        ['an unknown id', `tsk_00000000-0000-4000-8000-000000000000_${secret}`],
      ];
      for (const [label, key] of presented) {
        assertRefusal(await get(t, '/auth/verify', withKey(key)), [401], `X-API-Key: ${label}`);
        assertRefusal(await get(t, '/auth/verify', withScheme(key)), [401], `ApiKey: ${label}`);
        assertRefusal(await postJson(t, '/auth/verify', {}, withKey(key)), [401], `POST: ${label}`);
        assertRefusal(await postJson(t, '/auth/introspect', { token: fuzz.access_token }, withKey(key)), [401], `introspect: ${label}`);
      }
      assertApiError(await get(t, '/auth/verify', { headers: { authorization: 'ApiKey' } }), 401, 'invalid_token', 'the scheme alone');
      assertApiError(await get(t, '/auth/verify', { headers: { 'x-api-key': '' } }), 401, 'invalid_token', 'an empty header');
      assertApiError(await get(t, '/auth/verify', { headers: { 'x-api-key': good.api_key, authorization: `Bearer ${fuzz.access_token}` } }), 400, 'invalid_request', 'a bearer token and a key');
      assertApiError(await get(t, '/auth/verify', { headers: { 'x-api-key': good.api_key, authorization: `ApiKey ${good.api_key}` } }), 400, 'invalid_request', 'the key twice');

      for (const keyId of ['not-a-uuid', '00000000-0000-4000-8000-000000000000', `${id}'--`, 'k'.repeat(200)]) {
        assertRefusal(await del(t, `/auth/api-keys/${encodeURIComponent(keyId)}`, { token: fuzz.access_token }), [404], `DELETE ${keyId.slice(0, 40)}`);
        assertRefusal(await del(t, `/admin/api-keys/${encodeURIComponent(keyId)}`, { token: admin }), [404], `admin DELETE ${keyId.slice(0, 40)}`);
      }
      assertRefusal(await del(t, `/auth/api-keys/${'k'.repeat(10 * 1024)}`, { token: fuzz.access_token }), [400, 404], 'a 10 KiB id');
      assert.deepEqual(await storedKeys(t), before, 'nothing deleted');
      assert.equal((await get(t, '/auth/verify', withKey(good.api_key))).statusCode, 200, 'the real key still works');
    });

    it('leaves a request with an X-API-Key and a bearer token to the route over real HTTP (400), even for a cached token', async () => {
      await createUser(t, 'key-socket', { permissions: ['docs:read'] });
      const user = await signIn(t, 'key-socket');
      const key = await makeKey(t, user.access_token, { name: 'socket', permissions: ['docs:read'] });
      const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
      const send = (headers: Record<string, string>) => fetch(`${address}/auth/verify`, { headers });
      assert.equal((await send({ authorization: `Bearer ${user.access_token}` })).status, 200, 'the token is verified and cached');
      const both = await send({ authorization: `Bearer ${user.access_token}`, 'x-api-key': key.api_key });
      assert.equal(both.status, 400);
      assert.equal(((await both.json()) as Json).error, 'invalid_request');
      const keyOnly = await send({ 'x-api-key': key.api_key });
      assert.equal(keyOnly.status, 200);
      assert.equal(keyOnly.headers.get('x-auth-method'), 'api_key');
      assert.equal(keyOnly.headers.get('x-permissions'), 'docs:read');
    });
  });

  describe(`API keys on two instances (${backend.name})`, () => {
    it('refuses a deleted key, an expired key and a disabled owner on a second instance within 1 s', async () => {
      assert.ok(apiKeyCacheTtlMs <= 1000);
      const { a, b, close } = await startTwoInstances(backend);
      try {
        await createUser(a, 'two-admin', { roles: ['admin'] });
        const ownerId = await createUser(a, 'two-owner', { permissions: ['docs:read'] });
        const adminToken = (await signIn(a, 'two-admin')).access_token;
        const owner = (await signIn(a, 'two-owner')).access_token;
        const deleted = await makeKey(a, owner, { name: 'to delete', permissions: ['docs:read'] });
        const kept = await makeKey(a, owner, { name: 'kept', permissions: ['docs:read'] });
        const expiring = await makeKey(a, owner, { name: 'expiring', permissions: [], expires_at: new Date(b.clock.now() + 500).toISOString() });
        for (const key of [deleted, kept, expiring]) assert.equal((await get(b, '/auth/verify', withKey(key.api_key))).statusCode, 200, 'B knows each key');

        assert.equal((await del(a, `/auth/api-keys/${deleted.id}`, { token: owner })).statusCode, 204);
        assertApiError(await get(a, '/auth/verify', withKey(deleted.api_key)), 401, 'invalid_token', 'A at once');
        b.clock.advance(apiKeyCacheTtlMs);
        assertApiError(await get(b, '/auth/verify', withKey(deleted.api_key)), 401, 'invalid_token', 'B within 1 s');
        assertApiError(await get(b, '/auth/verify', withKey(expiring.api_key)), 401, 'invalid_token', 'expired on B by its clock');
        assert.equal((await get(b, '/auth/verify', withKey(kept.api_key))).statusCode, 200, 'the other key still works on B');

        const disabled = await a.app.inject({ method: 'PATCH', url: `/admin/users/${ownerId}`, headers: { authorization: `Bearer ${adminToken}` }, payload: { disabled: true } });
        assert.equal(disabled.statusCode, 200, disabled.body);
        b.clock.advance(apiKeyCacheTtlMs);
        assertApiError(await get(b, '/auth/verify', withKey(kept.api_key)), 401, 'invalid_token', 'disabled owner on B within 1 s');
        assertApiError(await get(a, '/auth/verify', withKey(kept.api_key)), 401, 'invalid_token', 'disabled owner on A');
      } finally {
        await close();
      }
    });
  });
}
