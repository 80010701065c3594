import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { after, before, describe, it } from 'node:test';
import { createUser, login, signIn, startTestApp, strongPassword, type TestApp } from '../../test-support/app.js';
import { testBackends } from '../../test-support/databases.js';
import type { UserPatch } from '../../users/admin.js';
import { assertApiError, del, get, postJson, refresh, verifyGet, type SignedIn } from '../../test-support/tokens.js';

/*
 * The users part of the admin API (SPEC §3 Administration, issue 12): the gate with no side
 * effect, the life cycle of an account, the last-admin guard (also under concurrency), the
 * audit records with the admin as actor, and bad input (400/404 in the error shape, never a 5xx).
 */

const viewFields = ['created_at', 'disabled', 'email', 'id', 'locked', 'locked_until', 'permissions', 'roles', 'tenant', 'updated_at', 'username'];

interface UserRow {
  id: string;
  username: string;
  email: string | null;
  roles: string[];
  permissions: string[];
  tenant: string | null;
  disabled: boolean;
}

function patch(t: TestApp, url: string, body: unknown, token?: string): Promise<LightMyRequestResponse> {
  return t.app.inject({
    method: 'PATCH',
    url,
    headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    payload: JSON.stringify(body),
  });
}

async function auditOf(t: TestApp, type: string) {
  await t.tessera.auditChain.flush();
  return t.stores.audit.list({ type }, { limit: 50 });
}

function assertView(body: Record<string, unknown>, label = '') {
  assert.deepEqual(Object.keys(body).sort(), viewFields, `${label}: the view names exactly these fields`);
  assert.doesNotMatch(JSON.stringify(body), /argon2|\$2[aby]\$|password|totp|secret/i, `${label}: no hash or secret`);
}

for (const backend of testBackends()) {
  describe(`admin users API (${backend.name})`, () => {
    let t: TestApp;
    let adminId: string;
    let admin: SignedIn;

    before(async () => {
      // A low lockout threshold, so that the unlock below has a lock to lift; no strength score,
      // so that a long password from the breach list reaches the breach check.
      t = await startTestApp(backend, { env: { TESSERA_LOCKOUT_THRESHOLD: '3', TESSERA_PASSWORD_MIN_SCORE: '0' } });
      adminId = await createUser(t, 'users-admin', { roles: ['admin'] });
      admin = await signIn(t, 'users-admin');
    });
    after(() => t.close());

    it('refuses every route without a token (401) and for a non-admin (403), changing nothing', async () => {
      const targetId = await createUser(t, 'gate-target', { roles: ['admin'], permissions: ['p:1'] });
      const target = await signIn(t, 'gate-target');
      await createUser(t, 'gate-user');
      const user = await signIn(t, 'gate-user');
      const routes: [string, string, unknown][] = [
        ['GET', '/admin/users', undefined],
        ['GET', '/admin/users?q=gate', undefined],
        ['POST', '/admin/users', { username: 'gate-created', password: strongPassword, roles: ['admin'] }],
        ['GET', `/admin/users/${targetId}`, undefined],
        ['PATCH', `/admin/users/${targetId}`, { roles: [], disabled: true, unlock: true }],
        ['PATCH', `/admin/users/${user.user.id}`, { roles: ['admin'] }],
        ['DELETE', `/admin/users/${targetId}`, undefined],
        ['POST', `/admin/users/${targetId}/revoke-all`, undefined],
      ];
      for (const [method, url, body] of routes) {
        for (const [label, token, status, code] of [
          ['no token', undefined, 401, 'invalid_token'],
          ['non-admin', user.access_token, 403, 'forbidden'],
        ] as const) {
          const response = await t.app.inject({
            method: method as 'GET',
            url,
            headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
            ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
          });
          assertApiError(response, status, code, `${method} ${url} ${label}`);
        }
      }
      // Nothing changed: no user created, the target still an enabled admin with its sessions.
      assert.equal(await t.stores.users.findByUsername('gate-created'), undefined);
      const stored = (await t.stores.users.findById(targetId))!;
      assert.deepEqual([stored.roles, stored.permissions, stored.disabled], [['admin'], ['p:1'], false]);
      assert.deepEqual((await t.stores.users.findById(user.user.id))!.roles, []);
      assert.equal((await verifyGet(t, target.access_token)).statusCode, 200);
      assert.equal((await refresh(t, target.refresh_token)).statusCode, 200);
      assert.equal((await auditOf(t, 'user.updated')).length, 0);
    });

    it('runs the life cycle: create, search over pages, get, patch, disable, enable, unlock, revoke-all, delete', async () => {
      // Create, through the full sign-up policy.
      const created = await postJson(
        t,
        '/admin/users',
        { username: 'Carol', password: strongPassword, email: 'Carol@Example.com', roles: ['editor'], permissions: ['docs:write'], tenant: 'acme' },
        { token: admin.access_token },
      );
      assert.equal(created.statusCode, 201, created.body);
      const carol = created.json() as UserRow;
      assertView(carol as unknown as Record<string, unknown>, 'created');
      assert.deepEqual(
        [carol.username, carol.email, carol.roles, carol.permissions, carol.tenant, carol.disabled],
        ['carol', 'carol@example.com', ['editor'], ['docs:write'], 'acme', false],
      );
      const createdRecord = (await auditOf(t, 'user.created')).find((record) => record.userId === carol.id)!;
      assert.equal(createdRecord.details.by, adminId);

      // Search by prefix, across several pages, in a stable order.
      for (let i = 0; i < 5; i += 1) {
        t.clock.advance(1);
        await createUser(t, `carolyn-${i}`, { email: `cx${i}@example.org` });
      }
      const seen: UserRow[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const response = await get(t, `/admin/users?q=CAROL&limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: admin.access_token });
        assert.equal(response.statusCode, 200, response.body);
        const body = response.json() as { users: UserRow[]; next_cursor: string | null };
        assert.ok(body.users.length <= 2);
        for (const row of body.users) assertView(row as unknown as Record<string, unknown>, 'listed');
        seen.push(...body.users);
        cursor = body.next_cursor;
        pages += 1;
      } while (cursor !== null && pages < 10);
      assert.deepEqual(
        seen.map((row) => row.username),
        ['carol', 'carolyn-0', 'carolyn-1', 'carolyn-2', 'carolyn-3', 'carolyn-4'],
      );
      assert.equal(pages, 3);
      const byEmail = (await get(t, '/admin/users?q=cx3%40', { token: admin.access_token })).json() as { users: UserRow[] };
      assert.deepEqual(byEmail.users.map((row) => row.username), ['carolyn-3']);
      const filtered = (await get(t, '/admin/users?role=editor&tenant=acme&disabled=false', { token: admin.access_token })).json() as { users: UserRow[] };
      assert.deepEqual(filtered.users.map((row) => row.username), ['carol']);
      // A LIKE wildcard in the prefix is only a character.
      assert.deepEqual((await get(t, '/admin/users?q=%25', { token: admin.access_token })).json().users, []);

      // Get, and patch roles and permissions.
      const got = await get(t, `/admin/users/${carol.id}`, { token: admin.access_token });
      assert.equal(got.statusCode, 200);
      assert.deepEqual(got.json(), carol);
      const session = await signIn(t, 'carol');
      const patched = await patch(t, `/admin/users/${carol.id}`, { roles: ['editor', 'reviewer'], permissions: [] }, admin.access_token);
      assert.equal(patched.statusCode, 200, patched.body);
      assert.deepEqual([patched.json().roles, patched.json().permissions], [['editor', 'reviewer'], []]);
      const updated = (await auditOf(t, 'user.updated')).find((record) => record.userId === carol.id)!;
      assert.deepEqual(updated.details, {
        by: adminId,
        changes: ['roles', 'permissions'],
        roles: ['editor', 'reviewer'],
        previousRoles: ['editor'],
        permissions: [],
        previousPermissions: ['docs:write'],
      });

      // Disable: the existing access token is refused at once, and so is the refresh token.
      assert.equal((await verifyGet(t, session.access_token)).statusCode, 200);
      const disabled = await patch(t, `/admin/users/${carol.id}`, { disabled: true }, admin.access_token);
      assert.equal(disabled.statusCode, 200, disabled.body);
      assert.equal(disabled.json().disabled, true);
      assertApiError(await verifyGet(t, session.access_token), 401, 'invalid_token', 'verify after disable');
      assertApiError(await refresh(t, session.refresh_token), 401, 'invalid_grant', 'refresh after disable');
      assert.equal((await login(t, { username: 'carol', password: strongPassword })).statusCode, 401);
      const disabledRecord = (await auditOf(t, 'user.disabled')).find((record) => record.userId === carol.id)!;
      assert.equal(disabledRecord.details.by, adminId);
      const filteredDisabled = (await get(t, '/admin/users?disabled=true', { token: admin.access_token })).json() as { users: UserRow[] };
      assert.deepEqual(filteredDisabled.users.map((row) => row.username), ['carol']);

      // Enable: sign-in works again; the old tokens stay refused.
      const enabled = await patch(t, `/admin/users/${carol.id}`, { disabled: false }, admin.access_token);
      assert.equal(enabled.json().disabled, false);
      assertApiError(await verifyGet(t, session.access_token), 401, 'invalid_token', 'old token after enable');
      assert.equal((await auditOf(t, 'user.enabled')).find((record) => record.userId === carol.id)?.details.by, adminId);

      // Unlock: three wrong passwords lock the name; the admin lifts the lock.
      for (let i = 0; i < 3; i += 1) await login(t, { username: 'carol', password: 'wrong password here' });
      assert.equal((await login(t, { username: 'carol', password: strongPassword })).statusCode, 429);
      const unlocked = await patch(t, `/admin/users/${carol.id}`, { unlock: true }, admin.access_token);
      assert.equal(unlocked.statusCode, 200, unlocked.body);
      const again = await signIn(t, 'carol');
      assert.ok((await auditOf(t, 'user.unlocked')).some((record) => record.userId === carol.id));
      assert.ok((await auditOf(t, 'user.updated')).some((record) => record.userId === carol.id && (record.details.changes as string[]).includes('unlock')));

      // Revoke-all: every session and token of the user.
      const second = await signIn(t, 'carol');
      const revoked = await postJson(t, `/admin/users/${carol.id}/revoke-all`, undefined, { token: admin.access_token });
      assert.equal(revoked.statusCode, 200, revoked.body);
      assert.deepEqual(revoked.json(), { sessions_revoked: 2 });
      for (const signedIn of [again, second]) {
        assertApiError(await verifyGet(t, signedIn.access_token), 401, 'invalid_token', 'verify after revoke-all');
        assertApiError(await refresh(t, signedIn.refresh_token), 401, 'invalid_grant', 'refresh after revoke-all');
      }
      const signedOut = (await auditOf(t, 'user.signed_out')).find((record) => record.userId === carol.id)!;
      assert.deepEqual(signedOut.details, { by: adminId, sessions: 2 });

      // Delete: the last session is refused, the account is gone.
      const last = await signIn(t, 'carol');
      const deleted = await del(t, `/admin/users/${carol.id}`, { token: admin.access_token });
      assert.equal(deleted.statusCode, 204, deleted.body);
      assertApiError(await verifyGet(t, last.access_token), 401, 'invalid_token', 'verify after delete');
      assertApiError(await refresh(t, last.refresh_token), 401, 'invalid_grant', 'refresh after delete');
      assertApiError(await get(t, `/admin/users/${carol.id}`, { token: admin.access_token }), 404, 'not_found', 'get after delete');
      assertApiError(await del(t, `/admin/users/${carol.id}`, { token: admin.access_token }), 404, 'not_found', 'delete twice');
      assert.equal((await auditOf(t, 'user.deleted')).find((record) => record.userId === carol.id)?.details.by, adminId);
      // The name is free again.
      assert.equal((await postJson(t, '/admin/users', { username: 'carol', password: strongPassword }, { token: admin.access_token })).statusCode, 201);
    });

    it('applies the sign-up password policy and the uniqueness of names on create', async () => {
      await createUser(t, 'taken', { email: 'taken@example.com' });
      const cases: [string, Record<string, unknown>, number, string, Record<string, unknown>?][] = [
        ['weak', { username: 'weakling', password: 'short pw' }, 400, 'weak_password', { reasons: ['too_short'] }],
        ['breached', { username: 'breached', password: 'passwordpassword' }, 400, 'password_breached'],
        ['contains the username', { username: 'margaret', password: 'xX-margaret-Xx-2024!' }, 400, 'weak_password', { reasons: ['contains_username'] }],
        ['username taken, another case', { username: 'TAKEN', password: strongPassword }, 409, 'username_taken'],
        ['username taken, fullwidth', { username: 'ｔａｋｅｎ', password: strongPassword }, 409, 'username_taken'],
        ['email taken', { username: 'other', email: 'Taken@example.com', password: strongPassword }, 409, 'email_taken'],
      ];
      const count = await t.stores.users.count();
      for (const [label, body, status, code, extra] of cases) {
        assertApiError(await postJson(t, '/admin/users', body, { token: admin.access_token }), status, code, label, extra);
      }
      assert.equal(await t.stores.users.count(), count, 'no user created');
    });

    it('changes the e-mail in canonical form, refuses another user\'s (409 email_taken), and removes it with null', async () => {
      const id = await createUser(t, 'mail-changer', { email: 'first@example.com' });
      await createUser(t, 'mail-owner', { email: 'owned@example.com' });
      const changed = await patch(t, `/admin/users/${id}`, { email: ' Second@Example.COM ' }, admin.access_token);
      assert.equal(changed.statusCode, 200, changed.body);
      assert.equal(changed.json().email, 'second@example.com');
      assertApiError(await patch(t, `/admin/users/${id}`, { email: 'OWNED@example.com', roles: ['x'] }, admin.access_token), 409, 'email_taken', 'taken');
      const stored = (await t.stores.users.findById(id))!;
      assert.deepEqual([stored.email, stored.roles], ['second@example.com', []], 'nothing of the refused change applied');
      const removed = await patch(t, `/admin/users/${id}`, { email: null }, admin.access_token);
      assert.equal(removed.json().email, null);
      const records = (await auditOf(t, 'user.updated')).filter((record) => record.userId === id);
      assert.equal(records.length, 2);
      assert.doesNotMatch(JSON.stringify(records), /example\.com/, 'no e-mail address in the audit log');
    });

    it('refuses bad input with a 4xx in the error shape, changing nothing', async () => {
      const targetId = await createUser(t, 'bad-input-target', { roles: ['r1'] });
      const kib = 'a'.repeat(10 * 1024);
      const url = `/admin/users/${targetId}`;
      const cases: [string, string, string, unknown, number, string][] = [
        ['create: markup in username', 'POST', '/admin/users', { username: '<script>x</script>', password: strongPassword }, 400, 'invalid_request'],
        ['create: control char in username', 'POST', '/admin/users', { username: 'ab\u0007c', password: strongPassword }, 400, 'invalid_request'],
        ['create: 10 KiB username', 'POST', '/admin/users', { username: kib, password: strongPassword }, 400, 'invalid_request'],
        ['create: 10 KiB email', 'POST', '/admin/users', { username: 'kib', email: `${kib}@example.com`, password: strongPassword }, 400, 'invalid_request'],
        ['create: markup in a role', 'POST', '/admin/users', { username: 'rolemarkup', password: strongPassword, roles: ['<b>admin</b>'] }, 400, 'invalid_request'],
        ['create: comma in a permission', 'POST', '/admin/users', { username: 'permcomma', password: strongPassword, permissions: ['a,b'] }, 400, 'invalid_request'],
        ['create: 10 KiB role', 'POST', '/admin/users', { username: 'rolekib', password: strongPassword, roles: [kib] }, 400, 'invalid_request'],
        ['create: bad tenant', 'POST', '/admin/users', { username: 'tenantbad', password: strongPassword, tenant: 'a b' }, 400, 'invalid_request'],
        ['create: unknown field', 'POST', '/admin/users', { username: 'unknownfield', password: strongPassword, is_admin: true }, 400, 'invalid_request'],
        ['create: bad email', 'POST', '/admin/users', { username: 'bademail', email: 'not-an-email', password: strongPassword }, 400, 'invalid_request'],
        ['create: roles not an array', 'POST', '/admin/users', { username: 'rolestr', password: strongPassword, roles: 'admin' }, 400, 'invalid_request'],
        ['patch: unknown field', 'PATCH', url, { roles: ['admin'], password_hash: 'x' }, 400, 'invalid_request'],
        ['patch: username is not patchable', 'PATCH', url, { username: 'renamed' }, 400, 'invalid_request'],
        ['patch: empty body', 'PATCH', url, {}, 400, 'invalid_request'],
        ['patch: markup in a role', 'PATCH', url, { roles: ['<img src=x>'] }, 400, 'invalid_request'],
        ['patch: control char in a permission', 'PATCH', url, { permissions: ['a\u0000b'] }, 400, 'invalid_request'],
        ['patch: 10 KiB permission', 'PATCH', url, { permissions: [kib] }, 400, 'invalid_request'],
        ['patch: 10 KiB email', 'PATCH', url, { email: `${kib}@x.io` }, 400, 'invalid_request'],
        ['patch: bad email', 'PATCH', url, { email: 'a@b' }, 400, 'invalid_request'],
        ['patch: disabled as a string', 'PATCH', url, { disabled: 'true' }, 400, 'invalid_request'],
        ['patch: unlock false', 'PATCH', url, { unlock: false }, 400, 'invalid_request'],
        ['patch: not an object', 'PATCH', url, ['roles'], 400, 'invalid_request'],
        ['list: bad cursor', 'GET', '/admin/users?cursor=garbage', undefined, 400, 'invalid_request'],
        ['list: cursor of another shape', 'GET', `/admin/users?cursor=${Buffer.from(`99999999999999999.${randomUUID()}`).toString('base64url')}`, undefined, 400, 'invalid_request'],
        ['list: cursor with a bad id', 'GET', `/admin/users?cursor=${Buffer.from('1700000000000.not-a-uuid').toString('base64url')}`, undefined, 400, 'invalid_request'],
        ['list: cursor with trailing bytes', 'GET', `/admin/users?cursor=${Buffer.from(`1700000000000.${randomUUID()}`).toString('base64url')}A`, undefined, 400, 'invalid_request'],
        ['list: limit 0', 'GET', '/admin/users?limit=0', undefined, 400, 'invalid_request'],
        ['list: limit 201', 'GET', '/admin/users?limit=201', undefined, 400, 'invalid_request'],
        ['list: limit -1', 'GET', '/admin/users?limit=-1', undefined, 400, 'invalid_request'],
        ['list: limit text', 'GET', '/admin/users?limit=ten', undefined, 400, 'invalid_request'],
        ['list: disabled=yes', 'GET', '/admin/users?disabled=yes', undefined, 400, 'invalid_request'],
        ['list: markup role', 'GET', '/admin/users?role=%3Cb%3E', undefined, 400, 'invalid_request'],
        ['list: control char in q', 'GET', '/admin/users?q=a%07', undefined, 400, 'invalid_request'],
        ['list: unknown parameter', 'GET', '/admin/users?sort=password_hash', undefined, 400, 'invalid_request'],
        ['get: not a uuid', 'GET', '/admin/users/not-a-uuid', undefined, 404, 'not_found'],
        ['get: sql-ish id', 'GET', `/admin/users/${encodeURIComponent("1' OR '1'='1")}`, undefined, 404, 'not_found'],
        ['get: unknown uuid', 'GET', `/admin/users/${randomUUID()}`, undefined, 404, 'not_found'],
        ['get: long id', 'GET', `/admin/users/${'a'.repeat(150)}`, undefined, 400, 'invalid_request'],
        ['get: 10 KiB id', 'GET', `/admin/users/${kib}`, undefined, 400, 'invalid_request'],
        ['patch: unknown uuid', 'PATCH', `/admin/users/${randomUUID()}`, { roles: [] }, 404, 'not_found'],
        ['patch: not a uuid', 'PATCH', '/admin/users/nope', { disabled: true }, 404, 'not_found'],
        ['delete: unknown uuid', 'DELETE', `/admin/users/${randomUUID()}`, undefined, 404, 'not_found'],
        ['delete: not a uuid', 'DELETE', '/admin/users/nope', undefined, 404, 'not_found'],
        ['revoke-all: unknown uuid', 'POST', `/admin/users/${randomUUID()}/revoke-all`, undefined, 404, 'not_found'],
        ['revoke-all: not a uuid', 'POST', '/admin/users/x/revoke-all', undefined, 404, 'not_found'],
      ];
      const before = await get(t, '/admin/users?limit=200', { token: admin.access_token });
      for (const [label, method, path, body, status, code] of cases) {
        const response = await t.app.inject({
          method: method as 'GET',
          url: path,
          headers: { authorization: `Bearer ${admin.access_token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
        });
        assertApiError(response, status, code, label);
      }
      const afterwards = await get(t, '/admin/users?limit=200', { token: admin.access_token });
      assert.deepEqual(afterwards.json(), before.json(), 'nothing created or changed');
      assert.deepEqual((await t.stores.users.findById(targetId))!.roles, ['r1']);
    });

    it('refuses to demote, disable or delete the last enabled admin (409 last_admin)', async () => {
      // A disabled admin does not count.
      await createUser(t, 'sleeping-admin', { roles: ['admin'] });
      const sleeping = (await t.stores.users.findByUsername('sleeping-admin'))!;
      await t.stores.users.setDisabled(sleeping.id, true, new Date(t.clock.now()));
      // Demote every other enabled admin the earlier tests made, so that users-admin is the last.
      for (const row of ((await get(t, '/admin/users?role=admin&disabled=false&limit=200', { token: admin.access_token })).json() as { users: UserRow[] }).users) {
        if (row.id !== adminId) assert.equal((await patch(t, `/admin/users/${row.id}`, { roles: [] }, admin.access_token)).statusCode, 200);
      }
      const url = `/admin/users/${adminId}`;
      assertApiError(await patch(t, url, { roles: ['ops'] }, admin.access_token), 409, 'last_admin', 'demote');
      assertApiError(await patch(t, url, { disabled: true }, admin.access_token), 409, 'last_admin', 'disable');
      assertApiError(await patch(t, url, { roles: [], permissions: ['x'] }, admin.access_token), 409, 'last_admin', 'demote with more');
      assertApiError(await del(t, url, { token: admin.access_token }), 409, 'last_admin', 'delete');
      const stored = (await t.stores.users.findById(adminId))!;
      assert.deepEqual([stored.roles, stored.permissions, stored.disabled], [['admin'], [], false]);
      assert.equal((await verifyGet(t, admin.access_token)).statusCode, 200);
      // Changes that keep the admin are fine.
      assert.equal((await patch(t, url, { roles: ['admin', 'ops'] }, admin.access_token)).statusCode, 200);
      assert.equal((await patch(t, url, { roles: ['admin'] }, admin.access_token)).statusCode, 200);
      // With a second enabled admin, one of them can go.
      const secondId = await createUser(t, 'second-admin', { roles: ['admin'] });
      assert.equal((await patch(t, `/admin/users/${secondId}`, { disabled: true }, admin.access_token)).statusCode, 200);
      assertApiError(await patch(t, url, { disabled: true }, admin.access_token), 409, 'last_admin', 'disable after the other is disabled');
      assert.equal((await del(t, `/admin/users/${secondId}`, { token: admin.access_token })).statusCode, 204);
    });

    it('lets exactly one of two concurrent demotions of the last two admins succeed', async () => {
      const one = await createUser(t, 'race-admin-1', { roles: ['admin'] });
      // users-admin steps aside for this test, so that race-admin-1 and -2 are the last two.
      const two = await createUser(t, 'race-admin-2', { roles: ['admin'] });
      await t.tessera.userAdmin.update(adminId, { roles: [] }, one);
      const enabledAdmins = async () =>
        ((await get(t, '/admin/users?role=admin&disabled=false', { token: (await signIn(t, 'race-admin-1')).access_token })).json() as { users: UserRow[] }).users;
      const rounds: [string, UserPatch, UserPatch][] = [
        ['demote each other', { roles: [] }, { roles: [] }],
        ['disable each other', { disabled: true }, { disabled: true }],
        ['demote and disable', { roles: ['x'] }, { disabled: true }],
      ];
      for (const [label, first, second] of rounds) {
        assert.equal((await enabledAdmins()).length, 2, `${label}: two admins before`);
        const outcomes = await Promise.allSettled([
          t.tessera.userAdmin.update(two, first, one),
          t.tessera.userAdmin.update(one, second, two),
        ]);
        const fulfilled = outcomes.filter((outcome) => outcome.status === 'fulfilled');
        const refused = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
        assert.equal(fulfilled.length, 1, `${label}: exactly one wins`);
        assert.equal((refused[0]!.reason as { code?: string }).code, 'last_admin', label);
        const left = await t.stores.users.lockActiveAdmins();
        assert.equal(left.length, 1, `${label}: one enabled admin left`);
        // Restore both for the next round.
        for (const id of [one, two]) {
          await t.stores.users.update(id, { roles: ['admin'] }, new Date(t.clock.now()));
          await t.tessera.revocations.setUserDisabled(id, false);
        }
      }
      // Concurrent deletes of the last two: one goes, one stays.
      const deletes = await Promise.allSettled([t.tessera.userAdmin.delete(one, two), t.tessera.userAdmin.delete(two, one)]);
      assert.equal(deletes.filter((outcome) => outcome.status === 'fulfilled').length, 1, 'one delete wins');
      assert.equal((await t.stores.users.lockActiveAdmins()).length, 1);
      // Back to users-admin as the admin of the suite.
      const survivor = (await t.stores.users.lockActiveAdmins())[0]!;
      await t.tessera.userAdmin.update(adminId, { roles: ['admin'] }, survivor);
      assert.equal((await get(t, '/admin/users', { token: admin.access_token })).statusCode, 200);
    });
  });
}
