import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createUser, signIn, startTestApp, type TestApp } from '../../test-support/app.js';
import { testBackends } from '../../test-support/databases.js';
import { redisUrl, uniquePrefix } from '../../test-support/hot-state.js';
import { assertApiError, del, get, refresh, signInWith, verifyGet, type SignedIn } from '../../test-support/tokens.js';

/*
 * GET /admin/sessions and DELETE /admin/sessions/:id (SPEC §3 Administration): the admin gate with
 * no side effect, keyset pages over every user's active sessions, the user filter, termination on
 * every token of the session, its audit records, and bad input (never a 5xx).
 */

const viewFields = ['created_at', 'device_name', 'expires_at', 'id', 'ip', 'last_active_at', 'user_agent', 'user_id', 'username'];

interface AdminSessionRow {
  id: string;
  user_id: string;
  username: string;
  device_name: string | null;
  ip: string | null;
  user_agent: string | null;
  created_at: string;
  last_active_at: string;
  expires_at: string;
}

interface Page {
  sessions: AdminSessionRow[];
  next_cursor: string | null;
}

async function page(t: TestApp, token: string, query = ''): Promise<Page> {
  const response = await get(t, `/admin/sessions${query}`, { token });
  assert.equal(response.statusCode, 200, response.body);
  return response.json() as Page;
}

/** Every page, following `next_cursor`, with `limit` per page. */
async function allPages(t: TestApp, token: string, limit: number, filter = ''): Promise<{ rows: AdminSessionRow[]; pages: number }> {
  const rows: AdminSessionRow[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query: string = `?limit=${limit}${filter}${cursor === null ? '' : `&cursor=${cursor}`}`;
    const body = await page(t, token, query);
    assert.ok(body.sessions.length <= limit, `page of at most ${limit}`);
    rows.push(...body.sessions);
    cursor = body.next_cursor;
    pages += 1;
    assert.ok(pages < 50, 'pagination ends');
  } while (cursor !== null);
  return { rows, pages };
}

async function auditOf(t: TestApp, type: string) {
  await t.tessera.auditChain.flush();
  return t.stores.audit.list({ type }, { limit: 50 });
}

for (const backend of testBackends()) {
  describe(`admin sessions API (${backend.name})`, () => {
    let t: TestApp;
    let adminId: string;
    let aliceId: string;
    let bobId: string;
    let admin: SignedIn;
    let alice: SignedIn[];
    let bob: SignedIn[];

    before(async () => {
      t = await startTestApp(backend);
      adminId = await createUser(t, 'sessions-admin', { roles: ['admin'] });
      aliceId = await createUser(t, 'alice');
      bobId = await createUser(t, 'bob');
      admin = await signIn(t, 'sessions-admin');
      t.clock.advance(1000);
      // Three of alice's at one instant: the page order falls back on the id.
      alice = [
        await signInWith(t, 'alice', { device: { name: 'Laptop' }, userAgent: 'test-agent/1', remoteAddress: '198.51.100.7' }),
        await signIn(t, 'alice'),
        await signIn(t, 'alice'),
      ];
      t.clock.advance(1000);
      bob = [await signIn(t, 'bob')];
      t.clock.advance(1000);
      bob.push(await signIn(t, 'bob'));
    });
    after(() => t?.close());

    describe('the admin gate', () => {
      it('answers 401 without a valid token and 403 to a non-admin, and ends nothing', async () => {
        const target = `/admin/sessions/${bob[0]!.session_id}`;
        const cases = [
          { label: 'no token', token: undefined, status: 401, error: 'invalid_token' },
          { label: 'garbage token', token: 'not-a-token', status: 401, error: 'invalid_token' },
          { label: 'a refresh token as bearer', token: bob[0]!.refresh_token, status: 401, error: 'invalid_token' },
          { label: 'non-admin', token: alice[1]!.access_token, status: 403, error: 'forbidden' },
        ];
        for (const { label, token, status, error } of cases) {
          const options = token === undefined ? {} : { token };
          assertApiError(await get(t, '/admin/sessions', options), status, error, `GET ${label}`);
          assertApiError(await get(t, `/admin/sessions?user_id=${bobId}`, options), status, error, `GET filtered ${label}`);
          assertApiError(await del(t, target, options), status, error, `DELETE ${label}`);
          assertApiError(await del(t, `/admin/sessions/${randomUUID()}`, options), status, error, `DELETE unknown ${label}`);
        }
        // Nothing ended: bob's session still verifies and the admin still lists it.
        assert.equal((await verifyGet(t, bob[0]!.access_token)).statusCode, 200);
        const listed = await page(t, admin.access_token, `?user_id=${bobId}`);
        assert.ok(listed.sessions.some((s) => s.id === bob[0]!.session_id));
        assert.deepEqual(await auditOf(t, 'session.terminated'), []);
      });
    });

    describe('GET /admin/sessions', () => {
      it('lists every active session, newest first, in pages that neither repeat nor skip', async () => {
        const expected = [...bob].reverse().map((s) => s.session_id);
        const aliceIds = alice.map((s) => s.session_id).sort().reverse();
        expected.push(...aliceIds, admin.session_id);

        const { rows, pages } = await allPages(t, admin.access_token, 2);
        assert.equal(pages, 3);
        assert.deepEqual(
          rows.map((s) => s.id),
          expected,
        );
        for (const row of rows) assert.deepEqual(Object.keys(row).sort(), viewFields);
        assert.deepEqual(
          [...new Set(rows.map((s) => `${s.user_id}:${s.username}`))].sort(),
          [`${adminId}:sessions-admin`, `${aliceId}:alice`, `${bobId}:bob`].sort(),
        );
        const laptop = rows.find((s) => s.id === alice[0]!.session_id)!;
        assert.equal(laptop.device_name, 'Laptop');
        assert.equal(laptop.user_agent, 'test-agent/1');
        assert.equal(laptop.ip, '198.51.100.7');
        assert.ok(Date.parse(laptop.expires_at) > Date.parse(laptop.created_at));

        // One page of everything by default; never a token or a hash in the answer.
        const whole = await get(t, '/admin/sessions', { token: admin.access_token });
        assert.equal(whole.statusCode, 200);
        const body = whole.json() as Page;
        assert.deepEqual(body.sessions.map((s) => s.id), expected);
        assert.equal(body.next_cursor, null);
        for (const s of [...alice, ...bob, admin]) {
          assert.ok(!whole.body.includes(s.refresh_token.split('.')[1]!), 'no refresh-token secret');
          assert.ok(!whole.body.includes(s.refresh_token.split('.')[0]!), 'no refresh-token id');
        }
        assert.doesNotMatch(whole.body, /hash|secret|fingerprint|refresh/i);
      });

      it('filters by user, with its own pages', async () => {
        const { rows, pages } = await allPages(t, admin.access_token, 1, `&user_id=${aliceId}`);
        assert.equal(pages, 3);
        assert.deepEqual(
          rows.map((s) => s.id),
          alice.map((s) => s.session_id).sort().reverse(),
        );
        assert.ok(rows.every((s) => s.user_id === aliceId && s.username === 'alice'));
        const nobody = await page(t, admin.access_token, `?user_id=${randomUUID()}`);
        assert.deepEqual(nobody, { sessions: [], next_cursor: null });
      });

      it('refuses bad limits, cursors and filters with 400 invalid_request', async () => {
        const { next_cursor: cursor } = await page(t, admin.access_token, '?limit=1');
        assert.ok(cursor);
        const decoded = Buffer.from(cursor, 'base64url').toString();
        const forged = (text: string) => Buffer.from(text).toString('base64url');
        // The same bytes in another spelling: the last character's unused low bits set.
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
        const twin = cursor.slice(0, -1) + alphabet[alphabet.indexOf(cursor.at(-1)!) ^ 1]!;
        assert.equal(Buffer.from(twin, 'base64url').toString(), decoded, 'the twin decodes alike');
        const queries = [
          'limit=0',
          'limit=201',
          'limit=1000',
          'limit=-1',
          'limit=abc',
          'limit=1.5',
          'limit=',
          'limit=1&limit=2',
          'cursor=',
          'cursor=!!!',
          `cursor=${'A'.repeat(201)}`,
          'cursor=garbage',
          `cursor=${forged('x.y')}`,
          `cursor=${forged(`${Date.now()}.not-a-uuid-but-thirty-six-chars-long`)}`,
          `cursor=${forged(`99999999999999999.${randomUUID()}`)}`,
          `cursor=${forged(`-5.${randomUUID()}`)}`,
          `cursor=${forged(`${decoded}x`)}`,
          `cursor=${cursor}=`,
          `cursor=${twin}`,
          `cursor=${cursor}&cursor=${cursor}`,
          'user_id=alice',
          'user_id=',
          `user_id=${aliceId}x`,
          'user_id=%00',
          'unknown=1',
          'username=alice',
        ];
        for (const query of queries) {
          assertApiError(await get(t, `/admin/sessions?${query}`, { token: admin.access_token }), 400, 'invalid_request', query);
        }
      });
    });

    describe('DELETE /admin/sessions/:id', () => {
      it("ends the session's access and refresh tokens, audited with the admin as actor", async () => {
        const target = alice[2]!;
        const response = await del(t, `/admin/sessions/${target.session_id}`, { token: admin.access_token, headers: { 'user-agent': 'admin-console/1' } });
        assert.equal(response.statusCode, 204, response.body);
        assert.equal(response.body, '');

        assertApiError(await verifyGet(t, target.access_token), 401, 'invalid_token', 'GET /auth/verify');
        assertApiError(await get(t, '/auth/me', { token: target.access_token }), 401, 'invalid_token', 'GET /auth/me');
        assertApiError(await refresh(t, target.refresh_token), 401, 'invalid_grant', 'refresh');
        // alice's other sessions go on.
        assert.equal((await verifyGet(t, alice[1]!.access_token)).statusCode, 200);
        const listed = await page(t, admin.access_token, `?user_id=${aliceId}`);
        assert.deepEqual(
          listed.sessions.map((s) => s.id).sort(),
          [alice[0]!.session_id, alice[1]!.session_id].sort(),
        );

        const [terminated, ...more] = await auditOf(t, 'session.terminated');
        assert.equal(more.length, 0);
        assert.equal(terminated!.userId, aliceId);
        assert.equal(terminated!.sessionId, target.session_id);
        assert.deepEqual(terminated!.details, { by: adminId });
        assert.equal(terminated!.userAgent, 'admin-console/1');
        const revoked = (await auditOf(t, 'session.revoked')).filter((r) => r.sessionId === target.session_id);
        assert.equal(revoked.length, 1);
        assert.deepEqual(revoked[0]!.details, { reason: 'admin' });

        // Ended: a second termination finds nothing to end.
        assertApiError(await del(t, `/admin/sessions/${target.session_id}`, { token: admin.access_token }), 404, 'not_found', 'again');
        assert.equal((await auditOf(t, 'session.terminated')).length, 1);
      });

      it('of two concurrent terminations of one session, exactly one succeeds', async () => {
        const target = await signIn(t, 'bob');
        const url = `/admin/sessions/${target.session_id}`;
        const answers = await Promise.all([del(t, url, { token: admin.access_token }), del(t, url, { token: admin.access_token })]);
        assert.deepEqual(answers.map((r) => r.statusCode).sort(), [204, 404]);
        const records = (await auditOf(t, 'session.terminated')).filter((r) => r.sessionId === target.session_id);
        assert.equal(records.length, 1);
        assertApiError(await refresh(t, target.refresh_token), 401, 'invalid_grant', 'refresh');
      });

      it('answers 404 for unknown and malformed ids and 400 for oversized ones, ending nothing', async () => {
        const before = (await page(t, admin.access_token)).sessions.map((s) => s.id);
        for (const id of [randomUUID(), 'nope', '00000000-0000-0000-0000-00000000000g', `${bob[0]!.session_id}x`, '%00', 'a%2Fb', `' OR 1=1 --`]) {
          assertApiError(await del(t, `/admin/sessions/${encodeURIComponent(id)}`, { token: admin.access_token }), 404, 'not_found', id);
        }
        assertApiError(await del(t, `/admin/sessions/${'a'.repeat(65)}`, { token: admin.access_token }), 400, 'invalid_request', 'oversized');
        assert.deepEqual((await page(t, admin.access_token)).sessions.map((s) => s.id), before);
      });

      it('does not list or end a session that has gone idle past the refresh-token lifetime', async () => {
        const carolId = await createUser(t, 'carol');
        const carol = await signIn(t, 'carol');
        t.clock.advance(t.config.refreshTtlMs + 1000);
        const again = await signIn(t, 'sessions-admin');
        assert.deepEqual(await page(t, again.access_token, `?user_id=${carolId}`), { sessions: [], next_cursor: null });
        assertApiError(await del(t, `/admin/sessions/${carol.session_id}`, { token: again.access_token }), 404, 'not_found', 'idle session');
      });
    });
  });
}

const postgres = testBackends().find((backend) => backend.name === 'postgres');
const shared = postgres && redisUrl ? postgres : undefined;

describe('DELETE /admin/sessions/:id across instances sharing PostgreSQL and Redis', { skip: shared ? false : 'DATABASE_URL and REDIS_URL not set' }, () => {
  it("is enforced by the other instance's GET /auth/verify within 1 s", async () => {
    const database = await shared!.open();
    const prefix = uniquePrefix();
    const a = await startTestApp(shared!, { db: database.db, hotStatePrefix: prefix });
    const b = await startTestApp(shared!, { db: database.reopen!(), hotStatePrefix: prefix });
    try {
      await createUser(a, 'fan-out-admin', { roles: ['admin'] });
      await createUser(a, 'fan-out-user');
      const admin = await signIn(a, 'fan-out-admin');
      const user = await signIn(a, 'fan-out-user');
      assert.equal((await verifyGet(b, user.access_token)).statusCode, 200, 'b has verified (and cached) the token');
      const endedAt = Date.now();
      assert.equal((await del(a, `/admin/sessions/${user.session_id}`, { token: admin.access_token })).statusCode, 204);
      let status = 200;
      while (status === 200 && Date.now() - endedAt < 1000) {
        status = (await verifyGet(b, user.access_token)).statusCode;
        if (status === 200) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(status, 401, `b refused the token within ${Date.now() - endedAt} ms`);
      assertApiError(await refresh(b, user.refresh_token), 401, 'invalid_grant', 'refresh on b');
    } finally {
      await b.close();
      await a.close();
      await database.cleanup();
    }
  });
});
