import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, login, signIn, startTestApp, strongPassword, type TestApp } from '../../test-support/app.js';
import { testBackends } from '../../test-support/databases.js';
import {
  assertApiError,
  decodeSegment,
  get,
  jsonOf,
  postForm,
  postJson,
  refresh,
  unknownRefreshToken,
  verifyGet,
  type Json,
} from '../../test-support/tokens.js';

/*
 * Verification for other services (SPEC §3 "Verification"): GET /auth/verify (forward-auth),
 * POST /auth/verify (a JSON verdict) and POST /auth/introspect (RFC 7662, admin only).
 */

const minute = 60_000;
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const sorted = (list: readonly string[]) => [...list].sort();
const listHeader = (value: unknown) => (String(value ?? '') === '' ? [] : String(value).split(',')).sort();

for (const backend of testBackends()) {
  describe(`verification routes (${backend.name})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(backend);
      await createUser(t, 'admin1', { roles: ['admin'] });
    });
    after(() => t?.close());

    describe('GET /auth/verify (forward-auth)', () => {
      it('percent-encodes a non-ASCII username in X-Username over a real socket', async () => {
        await createUser(t, 'дмитрий');
        const s = await signIn(t, 'дмитрий');
        const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
        const response = await fetch(`${address}/auth/verify`, { headers: { authorization: `Bearer ${s.access_token}` } });
        assert.equal(response.status, 200);
        assert.equal(response.headers.get('x-username'), encodeURIComponent('дмитрий'));
        assert.equal(decodeURIComponent(response.headers.get('x-username')!), 'дмитрий');
        assert.equal(((await response.json()) as { username: string }).username, 'дмитрий');
      });

      it('refuses role and permission names that could be split or spoofed downstream', async () => {
        for (const roles of [['viewer,admin'], ['a b'], ['x'.repeat(65)], ['ünïcode']]) {
          await assert.rejects(createUser(t, `bad-role-${roles[0]!.length}`, { roles }), /Role and permission names/);
        }
        await assert.rejects(createUser(t, 'bad-permission', { permissions: ['docs:read\r\nX-Admin: 1'] }), /Role and permission names/);
      });

      it('answers 200 with the identity headers and the claims as JSON', async () => {
        const id = await createUser(t, 'fwd-alice', { roles: ['editor', 'viewer'], permissions: ['docs:read', 'docs:write'] });
        const s = await signIn(t, 'fwd-alice');
        const response = await verifyGet(t, s.access_token);
        assert.equal(response.statusCode, 200, response.body);
        assert.equal(response.headers['x-user-id'], id);
        assert.equal(response.headers['x-username'], 'fwd-alice');
        assert.deepEqual(listHeader(response.headers['x-roles']), ['editor', 'viewer']);
        assert.deepEqual(listHeader(response.headers['x-permissions']), ['docs:read', 'docs:write']);
        assert.doesNotMatch(String(response.headers['x-permissions']), /\s/, 'comma-separated, no spaces');
        assert.equal(response.headers['x-session-id'], s.session_id);
        assert.equal(response.headers['x-tenant-id'], '');
        assert.equal(response.headers['cache-control'], 'no-store');

        const claims = response.json() as Json;
        const issued = decodeSegment(s.access_token, 1);
        assert.equal(claims.sub, id);
        assert.equal(claims.sid, s.session_id);
        assert.equal(claims.jti, issued.jti);
        assert.match(String(claims.jti), uuid);
        assert.equal(claims.username, 'fwd-alice');
        assert.deepEqual(sorted(claims.roles as string[]), ['editor', 'viewer']);
        assert.deepEqual(sorted(claims.permissions as string[]), ['docs:read', 'docs:write']);
        assert.deepEqual(claims.amr, ['pwd']);
        assert.equal(claims.iss, 'https://auth.test.example');
        assert.equal(claims.exp, issued.exp);
        assert.equal(claims.iat, issued.iat);
      });

      it('?permissions= passes when the token holds every one, 403 naming the missing one otherwise', async () => {
        await createUser(t, 'fwd-bob', { permissions: ['docs:read', 'docs:write'] });
        const s = await signIn(t, 'fwd-bob');
        for (const query of ['?permissions=docs:read', '?permissions=docs:read,docs:write', '?permissions=docs:write%2Cdocs:read', '?permissions=']) {
          const ok = await verifyGet(t, s.access_token, query);
          assert.equal(ok.statusCode, 200, `${query}: ${ok.body}`);
          assert.equal(ok.headers['x-user-id'], s.user.id);
        }
        const denied = await verifyGet(t, s.access_token, '?permissions=docs:read,docs:delete');
        const body = assertApiError(denied, 403, 'insufficient_permissions', 'one missing');
        assert.match(String(body.error_description), /docs:delete/);
        assert.equal(denied.headers['x-user-id'], undefined, 'no identity headers on a refusal');

        const both = await verifyGet(t, s.access_token, '?permissions=admin:all,docs:delete');
        const bothBody = assertApiError(both, 403, 'insufficient_permissions', 'two missing');
        assert.match(String(bothBody.error_description), /admin:all/);
        assert.match(String(bothBody.error_description), /docs:delete/);
      });

      it('never takes the token from the query string', async () => {
        await createUser(t, 'fwd-carol');
        const s = await signIn(t, 'fwd-carol');
        for (const url of [`/auth/verify?access_token=${s.access_token}`, `/auth/verify?token=${s.access_token}`]) {
          const response = await get(t, url);
          assertApiError(response, 401, 'invalid_token', url);
          assert.equal(response.headers['x-user-id'], undefined);
        }
        // A valid header still wins over nothing else; the query token is simply ignored.
        assert.equal((await get(t, `/auth/verify?access_token=garbage`, { token: s.access_token })).statusCode, 200);
      });

      it('refuses a token once its session has signed out', async () => {
        await createUser(t, 'fwd-dave');
        const s = await signIn(t, 'fwd-dave');
        assert.equal((await verifyGet(t, s.access_token)).statusCode, 200);
        const logout = await postJson(t, '/auth/logout', {}, { token: s.access_token });
        assert.equal(logout.statusCode, 204, logout.body);
        assertApiError(await verifyGet(t, s.access_token), 401, 'invalid_token', 'after logout');
        assert.match(String((await verifyGet(t, s.access_token)).headers['www-authenticate']), /error="invalid_token"/);
      });

      it('refuses a disabled user at once and accepts the user again once enabled', async () => {
        const id = await createUser(t, 'fwd-erin');
        const s = await signIn(t, 'fwd-erin');
        assert.equal((await verifyGet(t, s.access_token)).statusCode, 200);
        assert.equal(await t.tessera.revocations.setUserDisabled(id, true), true);
        assertApiError(await verifyGet(t, s.access_token), 401, 'invalid_token', 'disabled');
        assert.equal((await login(t, { username: 'fwd-erin', password: strongPassword })).statusCode, 401, 'a disabled user cannot sign in');

        assert.equal(await t.tessera.revocations.setUserDisabled(id, false), true);
        const fresh = await signIn(t, 'fwd-erin');
        const response = await verifyGet(t, fresh.access_token);
        assert.equal(response.statusCode, 200, response.body);
        assert.equal(response.headers['x-user-id'], id);
      });
    });

    describe('POST /auth/verify', () => {
      it('answers {valid: true, claims, user} for a valid token', async () => {
        const id = await createUser(t, 'pv-alice', { roles: ['viewer'], permissions: ['docs:read', 'docs:write'] });
        const s = await signIn(t, 'pv-alice');
        const response = await postJson(t, '/auth/verify', { token: s.access_token });
        assert.equal(response.statusCode, 200, response.body);
        const body = response.json() as { valid: boolean; claims: Json; user: Json };
        assert.deepEqual(Object.keys(body).sort(), ['claims', 'user', 'valid']);
        assert.equal(body.valid, true);
        assert.equal(body.claims.sub, id);
        assert.equal(body.claims.sid, s.session_id);
        assert.equal(body.claims.jti, decodeSegment(s.access_token, 1).jti);
        assert.deepEqual(body.user, { id, username: 'pv-alice', roles: ['viewer'], permissions: body.user.permissions });
        assert.deepEqual(sorted(body.user.permissions as string[]), ['docs:read', 'docs:write']);

        const withPermissions = await postJson(t, '/auth/verify', { token: s.access_token, required_permissions: ['docs:read', 'docs:write'] });
        assert.equal(withPermissions.statusCode, 200, withPermissions.body);
        assert.equal(withPermissions.json().valid, true);
      });

      it('answers 403 insufficient_permissions with valid: false when a required permission is missing', async () => {
        await createUser(t, 'pv-bob', { permissions: ['docs:read'] });
        const s = await signIn(t, 'pv-bob');
        const response = await postJson(t, '/auth/verify', { token: s.access_token, required_permissions: ['docs:read', 'docs:delete'] });
        const body = assertApiError(response, 403, 'insufficient_permissions', 'missing', { valid: false });
        assert.match(String(body.error_description), /docs:delete/);
      });

      it('answers 401 {valid: false, error: invalid_token} for garbage, revoked, expired and refresh tokens', async () => {
        await createUser(t, 'pv-carol');
        const revoked = await signIn(t, 'pv-carol');
        assert.equal((await postJson(t, '/auth/logout', {}, { token: revoked.access_token })).statusCode, 204);
        const live = await signIn(t, 'pv-carol');
        const cases: [string, string][] = [
          ['garbage', 'garbage'],
          ['three garbage parts', 'a.b.c'],
          ['revoked (signed out)', revoked.access_token],
          ['a refresh token', live.refresh_token],
          ['an unknown refresh token', unknownRefreshToken()],
        ];
        for (const [label, token] of cases) {
          assertApiError(await postJson(t, '/auth/verify', { token }), 401, 'invalid_token', label, { valid: false });
        }
        // The refresh token was only looked at, not consumed.
        assert.equal((await refresh(t, live.refresh_token)).statusCode, 200);
      });

      it('answers 401 valid: false for an expired token', async () => {
        await createUser(t, 'pv-dave');
        const s = await signIn(t, 'pv-dave');
        assert.equal((await postJson(t, '/auth/verify', { token: s.access_token })).statusCode, 200);
        t.clock.advance(16 * minute);
        assertApiError(await postJson(t, '/auth/verify', { token: s.access_token }), 401, 'invalid_token', 'expired', { valid: false });
        assertApiError(await verifyGet(t, s.access_token), 401, 'invalid_token', 'expired on GET');
      });
    });

    describe('POST /auth/introspect (RFC 7662)', () => {
      it('requires a bearer (401) of an admin (403 forbidden)', async () => {
        await createUser(t, 'in-alice');
        const s = await signIn(t, 'in-alice');
        assertApiError(await postJson(t, '/auth/introspect', { token: s.access_token }), 401, 'invalid_token', 'no bearer');
        assertApiError(await postJson(t, '/auth/introspect', { token: s.access_token }, { token: 'garbage' }), 401, 'invalid_token', 'bad bearer');
        assertApiError(await postJson(t, '/auth/introspect', { token: s.access_token }, { token: s.access_token }), 403, 'forbidden', 'non-admin');
        assertApiError(await postForm(t, '/auth/introspect', { token: s.access_token }, { token: s.access_token }), 403, 'forbidden', 'non-admin form');
      });

      it("checks the caller's stored roles: a demoted admin's unexpired token gets 403, recorded", async () => {
        const demotedId = await createUser(t, 'in-demoted', { roles: ['admin'] });
        const caller = await signIn(t, 'in-demoted');
        const s = await signIn(t, 'admin1');
        const before = await postJson(t, '/auth/introspect', { token: s.access_token }, { token: caller.access_token });
        assert.equal(before.statusCode, 200, before.body);
        assert.equal(before.json().active, true);
        // The token still says admin; the stored user no longer is one.
        await t.db.query(`UPDATE users SET roles = '{}' WHERE id = $1`, [demotedId]);
        assertApiError(await postJson(t, '/auth/introspect', { token: s.access_token }, { token: caller.access_token }), 403, 'forbidden', 'demoted admin');
        await t.tessera.auditChain.flush();
        const denied = await t.stores.audit.list({ type: 'access.denied', userId: demotedId }, { limit: 5 });
        assert.deepEqual(denied.map((record) => record.details.endpoint), ['/auth/introspect']);
      });

      it('describes an active access token, with JSON and form bodies', async () => {
        const id = await createUser(t, 'in-bob', { roles: ['viewer'], permissions: ['docs:read'] });
        const s = await signIn(t, 'in-bob');
        const admin = await signIn(t, 'admin1');
        const claims = decodeSegment(s.access_token, 1);
        const requests = [
          postJson(t, '/auth/introspect', { token: s.access_token }, { token: admin.access_token }),
          postJson(t, '/auth/introspect', { token: s.access_token, token_type_hint: 'access_token' }, { token: admin.access_token }),
          postForm(t, '/auth/introspect', { token: s.access_token }, { token: admin.access_token }),
          postForm(t, '/auth/introspect', `token=${s.access_token}&token_type_hint=access_token`, { token: admin.access_token }),
          // A wrong hint only changes the search order (RFC 7662 §2.1).
          postForm(t, '/auth/introspect', { token: s.access_token, token_type_hint: 'refresh_token' }, { token: admin.access_token }),
        ];
        for (const [index, response] of (await Promise.all(requests)).entries()) {
          assert.equal(response.statusCode, 200, `request ${index}: ${response.body}`);
          assert.equal(response.headers['cache-control'], 'no-store');
          const body = response.json() as Json;
          assert.equal(body.active, true, `request ${index}`);
          assert.equal(body.token_type, 'access_token');
          assert.equal(body.sub, id);
          assert.equal(body.exp, claims.exp);
          assert.equal(body.iat, claims.iat);
          assert.equal(body.jti, claims.jti);
          assert.equal(body.sid, s.session_id);
          assert.deepEqual(body.roles, ['viewer']);
          assert.deepEqual(body.permissions, ['docs:read']);
          assert.equal(body.username, 'in-bob');
          assert.equal(body.client_id, 'tessera');
        }
      });

      it('describes an active refresh token', async () => {
        const id = await createUser(t, 'in-carol');
        const s = await signIn(t, 'in-carol');
        const admin = await signIn(t, 'admin1');
        for (const response of [
          await postJson(t, '/auth/introspect', { token: s.refresh_token }, { token: admin.access_token }),
          await postForm(t, '/auth/introspect', { token: s.refresh_token, token_type_hint: 'refresh_token' }, { token: admin.access_token }),
          await postJson(t, '/auth/introspect', { token: s.refresh_token, token_type_hint: 'access_token' }, { token: admin.access_token }),
        ]) {
          assert.equal(response.statusCode, 200, response.body);
          const body = response.json() as Json;
          assert.equal(body.active, true);
          assert.equal(body.token_type, 'refresh_token');
          assert.equal(body.sub, id);
          assert.equal(body.sid, s.session_id);
          assert.equal(body.jti, s.refresh_token.split('.')[0], 'the public id, never the secret');
          assert.equal(body.username, 'in-carol');
        }
        // Introspection does not consume the token.
        assert.equal((await refresh(t, s.refresh_token)).statusCode, 200);
      });

      it('answers exactly {active: false} for revoked, rotated, garbage and expired tokens', async () => {
        await createUser(t, 'in-dave');
        const signedOut = await signIn(t, 'in-dave');
        assert.equal((await postJson(t, '/auth/logout', {}, { token: signedOut.access_token })).statusCode, 204);
        const rotated = await signIn(t, 'in-dave');
        const next = await refresh(t, rotated.refresh_token);
        assert.equal(next.statusCode, 200, next.body);
        const revokedAccess = await signIn(t, 'in-dave');
        assert.equal((await postJson(t, '/auth/revoke', { token: revokedAccess.access_token })).statusCode, 200);
        const admin = await signIn(t, 'admin1');

        const inactive: [string, string][] = [
          ['access token of a signed-out session', signedOut.access_token],
          ['refresh token of a signed-out session', signedOut.refresh_token],
          ['rotated refresh token', rotated.refresh_token],
          ['revoked access token', revokedAccess.access_token],
          ['garbage', 'garbage'],
          ['JWT-shaped garbage', 'a.b.c'],
          ['unknown refresh token', unknownRefreshToken()],
        ];
        for (const [label, token] of inactive) {
          for (const response of [
            await postJson(t, '/auth/introspect', { token }, { token: admin.access_token }),
            await postForm(t, '/auth/introspect', { token, token_type_hint: 'refresh_token' }, { token: admin.access_token }),
          ]) {
            assert.equal(response.statusCode, 200, `${label}: ${response.body}`);
            assert.deepEqual(jsonOf(response, label), { active: false }, label);
          }
        }
        // The rotated token's successor is still active.
        const successor = (next.json() as { refresh_token: string }).refresh_token;
        const active = await postJson(t, '/auth/introspect', { token: successor }, { token: admin.access_token });
        assert.equal(active.json().active, true);
      });

      it('answers {active: false} for an expired access token', async () => {
        await createUser(t, 'in-erin');
        const s = await signIn(t, 'in-erin');
        t.clock.advance(16 * minute);
        // The admin signs in after the clock moved, so only the introspected token is expired.
        const admin = await signIn(t, 'admin1');
        const response = await postJson(t, '/auth/introspect', { token: s.access_token }, { token: admin.access_token });
        assert.equal(response.statusCode, 200, response.body);
        assert.deepEqual(response.json(), { active: false });
      });

      it("answers {active: false} for a disabled user's access and refresh tokens", async () => {
        const id = await createUser(t, 'in-hank');
        const s = await signIn(t, 'in-hank');
        const admin = await signIn(t, 'admin1');
        assert.equal(await t.tessera.revocations.setUserDisabled(id, true), true);
        // The refresh token can no longer be used, so it is not active (RFC 7662 §2.2).
        assertApiError(await refresh(t, s.refresh_token), 401, 'invalid_grant', 'refresh of a disabled user');
        for (const [label, token] of [['access', s.access_token], ['refresh', s.refresh_token]] as const) {
          const response = await postJson(t, '/auth/introspect', { token }, { token: admin.access_token });
          assert.equal(response.statusCode, 200, `${label}: ${response.body}`);
          assert.deepEqual(response.json(), { active: false }, `${label} token of a disabled user`);
        }
      });

      it('refuses a repeated form parameter with 400 invalid_request', async () => {
        await createUser(t, 'in-frank');
        const s = await signIn(t, 'in-frank');
        const admin = await signIn(t, 'admin1');
        for (const form of [`token=${s.access_token}&token=${s.access_token}`, `token=${s.access_token}&token_type_hint=a&token_type_hint=b`]) {
          assertApiError(await postForm(t, '/auth/introspect', form, { token: admin.access_token }), 400, 'invalid_request', form.slice(-40));
        }
      });

      it('accepts form bodies only where RFC 7009 / 7662 clients send them: /auth/login answers 415', async () => {
        await createUser(t, 'in-gina');
        const response = await postForm(t, '/auth/login', { username: 'in-gina', password: strongPassword });
        assertApiError(response, 415, 'unsupported_media_type', 'form login');
        const refreshForm = await postForm(t, '/auth/refresh', { refresh_token: unknownRefreshToken() });
        assertApiError(refreshForm, 415, 'unsupported_media_type', 'form refresh');
      });
    });
  });
}
