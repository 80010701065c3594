import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createUser, signIn, startTestApp, type TestApp } from '../../test-support/app.js';
import { testBackends } from '../../test-support/databases.js';
import { assertApiError, del, get, me, postJson, refresh, signInWith, verifyGet, type SignedIn } from '../../test-support/tokens.js';

/*
 * The signed-in user's sessions (SPEC §3 "The signed-in user") and sign-out: GET /auth/sessions,
 * DELETE /auth/sessions/:id, POST /auth/logout (with and without all_devices), POST /auth/logout-all.
 */

const sessionFields = ['created_at', 'current', 'device_name', 'expires_at', 'id', 'ip', 'last_active_at', 'user_agent'];
const day = 86_400_000;
const isoTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

interface SessionRow {
  id: string;
  device_name: string | null;
  ip: string | null;
  user_agent: string | null;
  created_at: string;
  last_active_at: string;
  expires_at: string;
  current: boolean;
}

async function listSessions(t: TestApp, token: string): Promise<SessionRow[]> {
  const response = await get(t, '/auth/sessions', { token });
  assert.equal(response.statusCode, 200, response.body);
  const body = response.json() as { sessions: SessionRow[] };
  assert.ok(Array.isArray(body.sessions));
  return body.sessions;
}

/** Both tokens of a session still work. */
async function assertWorks(t: TestApp, s: SignedIn, label: string): Promise<SignedIn> {
  const whoami = await me(t, s.access_token);
  assert.equal(whoami.statusCode, 200, `${label}: /auth/me ${whoami.body}`);
  const next = await refresh(t, s.refresh_token);
  assert.equal(next.statusCode, 200, `${label}: refresh ${next.body}`);
  return next.json() as SignedIn;
}

/** Neither token of a session works any more. */
async function assertEnded(t: TestApp, s: SignedIn, label: string): Promise<void> {
  assertApiError(await me(t, s.access_token), 401, 'invalid_token', `${label}: /auth/me`);
  assertApiError(await verifyGet(t, s.access_token), 401, 'invalid_token', `${label}: /auth/verify`);
  assertApiError(await refresh(t, s.refresh_token), 401, 'invalid_grant', `${label}: refresh`);
}

for (const backend of testBackends()) {
  describe(`sessions and sign-out over HTTP (${backend.name})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(backend);
    });
    after(() => t?.close());

    describe('GET /auth/sessions', () => {
      it("lists the caller's active sessions, with current exactly on the token's session", async () => {
        await createUser(t, 'ls-alice');
        await createUser(t, 'ls-bob');
        const laptop = await signInWith(t, 'ls-alice', { device: { name: 'Laptop' }, userAgent: 'Agent/Laptop' });
        const phone = await signInWith(t, 'ls-alice', { device: { name: 'Phone' }, userAgent: 'Agent/Phone' });
        const tablet = await signInWith(t, 'ls-alice', { userAgent: 'Agent/Tablet' });
        const ended = await signInWith(t, 'ls-alice', { device: { name: 'Old' } });
        assert.equal((await postJson(t, '/auth/logout', {}, { token: ended.access_token })).statusCode, 204);
        const bob = await signIn(t, 'ls-bob');

        const sessions = await listSessions(t, phone.access_token);
        assert.deepEqual(sessions.map((s) => s.id).sort(), [laptop.session_id, phone.session_id, tablet.session_id].sort());
        for (const session of sessions) {
          assert.deepEqual(Object.keys(session).sort(), sessionFields, 'exactly the SPEC fields');
          assert.equal(session.current, session.id === phone.session_id, `current on ${session.id}`);
          assert.match(session.created_at, isoTime);
          assert.match(session.last_active_at, isoTime);
          assert.match(session.expires_at, isoTime);
          assert.ok(Date.parse(session.expires_at) > Date.parse(session.created_at));
          assert.equal(session.ip, '127.0.0.1');
        }
        const byId = new Map(sessions.map((s) => [s.id, s]));
        assert.equal(byId.get(laptop.session_id)?.device_name, 'Laptop');
        assert.equal(byId.get(laptop.session_id)?.user_agent, 'Agent/Laptop');
        assert.equal(byId.get(phone.session_id)?.device_name, 'Phone');
        assert.equal(byId.get(tablet.session_id)?.device_name, null);
        assert.equal(byId.get(tablet.session_id)?.user_agent, 'Agent/Tablet');
        assert.ok(!byId.has(bob.session_id), "another user's session is not listed");
        assert.ok(!byId.has(ended.session_id), 'an ended session is not listed');

        const fromLaptop = await listSessions(t, laptop.access_token);
        assert.deepEqual(fromLaptop.filter((s) => s.current).map((s) => s.id), [laptop.session_id]);
        const fromBob = await listSessions(t, bob.access_token);
        assert.deepEqual(fromBob.map((s) => [s.id, s.current]), [[bob.session_id, true]]);
      });

      it('shows the rotated session as current for the new access token and moves last_active_at', async () => {
        await createUser(t, 'ls-carol');
        const s = await signInWith(t, 'ls-carol');
        const [before] = await listSessions(t, s.access_token);
        t.clock.advance(5_000);
        const next = await refresh(t, s.refresh_token);
        assert.equal(next.statusCode, 200, next.body);
        const [after] = await listSessions(t, (next.json() as SignedIn).access_token);
        assert.equal(after?.id, s.session_id);
        assert.equal(after?.current, true);
        assert.ok(Date.parse(after!.last_active_at) > Date.parse(before!.last_active_at), 'last_active_at updated on refresh');
        assert.equal(after?.created_at, before?.created_at);
      });

      it('requires a valid bearer token', async () => {
        assertApiError(await get(t, '/auth/sessions'), 401, 'invalid_token', 'no token');
        assertApiError(await get(t, '/auth/sessions', { token: 'garbage' }), 401, 'invalid_token', 'garbage');
      });
    });

    describe('DELETE /auth/sessions/:id', () => {
      it("ends the caller's other session: its access token gets 401, its refresh token invalid_grant", async () => {
        await createUser(t, 'del-alice');
        const keep = await signInWith(t, 'del-alice', { device: { name: 'Keep' } });
        const drop = await signInWith(t, 'del-alice', { device: { name: 'Drop' } });
        assert.equal((await me(t, drop.access_token)).statusCode, 200);

        const response = await del(t, `/auth/sessions/${drop.session_id}`, { token: keep.access_token });
        assert.equal(response.statusCode, 204, response.body);
        assert.equal(response.body, '');
        await assertEnded(t, drop, 'deleted session');
        const remaining = await listSessions(t, keep.access_token);
        assert.deepEqual(remaining.map((s) => s.id), [keep.session_id]);
        await assertWorks(t, keep, 'the caller session');
      });

      it("answers the same 404 for another user's, unknown, malformed and already ended sessions", async () => {
        await createUser(t, 'del-bob');
        await createUser(t, 'del-carol');
        const bob = await signInWith(t, 'del-bob');
        const bobOld = await signInWith(t, 'del-bob');
        const carol = await signInWith(t, 'del-carol');
        assert.equal((await postJson(t, '/auth/logout', {}, { token: bobOld.access_token })).statusCode, 204);

        const ids: [string, string][] = [
          ["another user's session", carol.session_id],
          ['unknown uuid', randomUUID()],
          ['not a uuid', 'not-a-uuid'],
          ['numeric', '12345'],
          ['uuid in capitals of an unknown session', randomUUID().toUpperCase()],
          ['already ended own session', bobOld.session_id],
          ['SQL-ish', encodeURIComponent("' OR '1'='1")],
        ];
        const bodies = new Set<string>();
        for (const [label, id] of ids) {
          const response = await del(t, `/auth/sessions/${id}`, { token: bob.access_token });
          const body = assertApiError(response, 404, 'not_found', label);
          bodies.add(JSON.stringify(body));
        }
        assert.equal(bodies.size, 1, `one body for every case: ${[...bodies].join(' | ')}`);
        // An id longer than any session id is refused by the schema before any lookup.
        assertApiError(await del(t, `/auth/sessions/${'a'.repeat(65)}`, { token: bob.access_token }), 400, 'invalid_request', 'too long');
        await assertWorks(t, carol, "the other user's session");
      });

      it('requires a valid bearer token', async () => {
        await createUser(t, 'del-dave');
        const s = await signInWith(t, 'del-dave');
        assertApiError(await del(t, `/auth/sessions/${s.session_id}`), 401, 'invalid_token', 'no token');
        assertApiError(await del(t, `/auth/sessions/${s.session_id}`, { token: 'garbage' }), 401, 'invalid_token', 'garbage');
        await assertWorks(t, s, 'untouched');
      });
    });

    describe('POST /auth/logout', () => {
      it('ends the current session only (204); other sessions still work', async () => {
        await createUser(t, 'lo-alice');
        const current = await signInWith(t, 'lo-alice');
        const other = await signInWith(t, 'lo-alice');
        for (const body of [undefined, {}] as const) {
          const s = body === undefined ? current : await signInWith(t, 'lo-alice');
          const response = await postJson(t, '/auth/logout', body, { token: s.access_token });
          assert.equal(response.statusCode, 204, `body ${JSON.stringify(body)}: ${response.body}`);
          assert.equal(response.body, '');
          await assertEnded(t, s, `logout with body ${JSON.stringify(body)}`);
        }
        await assertWorks(t, other, 'other session');
        const listed = await listSessions(t, other.access_token);
        assert.ok(!listed.some((s) => s.id === current.session_id));
      });

      it('with all_devices: true ends every session of the user', async () => {
        await createUser(t, 'lo-bob');
        await createUser(t, 'lo-carol');
        const sessions = [await signInWith(t, 'lo-bob'), await signInWith(t, 'lo-bob'), await signInWith(t, 'lo-bob')];
        const carol = await signInWith(t, 'lo-carol');
        const response = await postJson(t, '/auth/logout', { all_devices: true }, { token: sessions[1]!.access_token });
        assert.equal(response.statusCode, 204, response.body);
        for (const [index, s] of sessions.entries()) await assertEnded(t, s, `session ${index}`);
        await assertWorks(t, carol, 'another user');
      });

      it('with all_devices: false ends only the current session', async () => {
        await createUser(t, 'lo-dave');
        const a = await signInWith(t, 'lo-dave');
        const b = await signInWith(t, 'lo-dave');
        assert.equal((await postJson(t, '/auth/logout', { all_devices: false }, { token: a.access_token })).statusCode, 204);
        await assertEnded(t, a, 'current');
        await assertWorks(t, b, 'other');
      });

      it('answers 401 without a valid bearer, and for a session already signed out', async () => {
        await createUser(t, 'lo-erin');
        const s = await signInWith(t, 'lo-erin');
        assertApiError(await postJson(t, '/auth/logout', {}), 401, 'invalid_token', 'no token');
        assertApiError(await postJson(t, '/auth/logout', {}, { token: 'garbage' }), 401, 'invalid_token', 'garbage');
        assert.equal((await postJson(t, '/auth/logout', {}, { token: s.access_token })).statusCode, 204);
        assertApiError(await postJson(t, '/auth/logout', {}, { token: s.access_token }), 401, 'invalid_token', 'twice');
      });
    });

    describe('POST /auth/logout-all', () => {
      it("refuses every access and refresh token of the user, never another user's", async () => {
        await createUser(t, 'la-alice');
        await createUser(t, 'la-bob');
        const sessions = [await signInWith(t, 'la-alice'), await signInWith(t, 'la-alice'), await signInWith(t, 'la-alice')];
        // A second access token of the first session, from a refresh.
        const rotated = await refresh(t, sessions[0]!.refresh_token);
        assert.equal(rotated.statusCode, 200);
        const rotatedTokens = rotated.json() as SignedIn;
        const bob = await signInWith(t, 'la-bob');

        const response = await postJson(t, '/auth/logout-all', undefined, { token: sessions[2]!.access_token });
        assert.equal(response.statusCode, 204, response.body);
        assert.equal(response.body, '');

        assertApiError(await me(t, sessions[0]!.access_token), 401, 'invalid_token', 'first access token of session 0');
        assertApiError(await verifyGet(t, sessions[0]!.access_token), 401, 'invalid_token', 'first access token of session 0');
        await assertEnded(t, rotatedTokens, 'rotated pair of session 0');
        for (const [index, s] of sessions.slice(1).entries()) await assertEnded(t, s, `session ${index + 1}`);
        await assertWorks(t, bob, 'another user');
      });

      it('lets a token issued right after it through (same clock millisecond)', async () => {
        await createUser(t, 'la-carol');
        const old = await signInWith(t, 'la-carol');
        const at = t.clock.now();
        assert.equal((await postJson(t, '/auth/logout-all', undefined, { token: old.access_token })).statusCode, 204);
        // The test clock has not moved: the new session is issued in the very millisecond of the revoke-all.
        const fresh = await signInWith(t, 'la-carol');
        assert.equal(t.clock.now(), at);
        const verified = await verifyGet(t, fresh.access_token);
        assert.equal(verified.statusCode, 200, verified.body);
        const next = await assertWorks(t, fresh, 'session after revoke-all');
        assert.equal((await me(t, next.access_token)).statusCode, 200, 'the refreshed access token too');
        await assertEnded(t, old, 'session before revoke-all');

        // And one a second later, across the second boundary.
        t.clock.advance(1_000);
        const later = await signInWith(t, 'la-carol');
        await assertWorks(t, later, 'a second later');
      });

      it('answers 401 without a valid bearer', async () => {
        assertApiError(await postJson(t, '/auth/logout-all', undefined), 401, 'invalid_token', 'no token');
        assertApiError(await postJson(t, '/auth/logout-all', undefined, { token: 'garbage' }), 401, 'invalid_token', 'garbage');
      });
    });

    // These move the app's clock by days; they run last, and every later sign-in is fresh anyway.
    describe('sessions that ended by time', () => {
      it('neither lists nor deletes a session past TESSERA_SESSION_MAX_AGE (404 like any ended session)', async () => {
        await createUser(t, 'time-alice');
        const old = await signInWith(t, 'time-alice');
        t.clock.advance(31 * day);
        const fresh = await signInWith(t, 'time-alice');
        assertApiError(await refresh(t, old.refresh_token), 401, 'invalid_grant', 'refresh of the expired session');
        const listed = await listSessions(t, fresh.access_token);
        assert.deepEqual(listed.map((s) => s.id), [fresh.session_id], 'only the live session');
        assertApiError(await del(t, `/auth/sessions/${old.session_id}`, { token: fresh.access_token }), 404, 'not_found', 'expired session');
      });

      it('does not list a session idle for longer than TESSERA_REFRESH_TTL (its refresh token expired)', async () => {
        await createUser(t, 'time-bob');
        const idle = await signInWith(t, 'time-bob');
        t.clock.advance(8 * day);
        const fresh = await signInWith(t, 'time-bob');
        assertApiError(await refresh(t, idle.refresh_token), 401, 'invalid_grant', 'refresh of the idle session');
        const listed = await listSessions(t, fresh.access_token);
        assert.deepEqual(listed.map((s) => s.id), [fresh.session_id], 'an idle-expired session is not active');
      });
    });
  });
}
