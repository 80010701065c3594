import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, login, signIn, startTestApp, strongPassword, type TestApp } from '../../test-support/app.js';
import { testBackends } from '../../test-support/databases.js';
import { assertApiError, get, type SignedIn } from '../../test-support/tokens.js';
import { lockedScanBudget } from '../../users/admin.js';

/*
 * The `locked` state of GET /admin/users (issue 12): computed from the lockout's shared lanes in
 * hot state (memory with PGlite, Redis with PostgreSQL), shown on every view, filterable with
 * `locked=true|false` by a bounded forward scan whose pages may be short and still continue.
 */

interface Row {
  id: string;
  username: string;
  locked: boolean;
  locked_until: string | null;
}

interface Page {
  users: Row[];
  next_cursor: string | null;
}

const lockMs = 15 * 60_000;

for (const backend of testBackends()) {
  describe(`admin users: locked (${backend.name})`, () => {
    let t: TestApp;
    let admin: SignedIn;

    before(async () => {
      t = await startTestApp(backend, { env: { TESSERA_LOCKOUT_THRESHOLD: '5', TESSERA_LOCKOUT_DURATION: '15m' } });
      await createUser(t, 'locked-admin', { roles: ['admin'] });
      admin = await signIn(t, 'locked-admin');
    });
    after(() => t.close());

    const list = async (query: string): Promise<Page> => {
      const response = await get(t, `/admin/users?${query}`, { token: admin.access_token });
      assert.equal(response.statusCode, 200, response.body);
      return response.json() as Page;
    };
    const names = (page: Page) => page.users.map((row) => row.username);
    const wrongPasswords = async (body: Record<string, string>, times = 5) => {
      for (let i = 0; i < times; i += 1) assert.equal((await login(t, { ...body, password: 'not the password at all' })).statusCode, 401);
    };

    it('shows and filters a lock of the username or the e-mail; an unlock or the lock\'s end lifts it', async () => {
      // A millisecond apart, so that the listing's (created, id) order is this one.
      const byName = await createUser(t, 'lk-name', { email: 'lk-name@example.com' });
      t.clock.advance(1);
      const byEmail = await createUser(t, 'lk-mail', { email: 'lk-mail@example.com' });
      t.clock.advance(1);
      await createUser(t, 'lk-free');
      // Four failures do not lock; the fifth does, for the username's lane.
      await wrongPasswords({ username: 'lk-name' }, 4);
      assert.deepEqual(names(await list('q=lk-&locked=true')), []);
      await wrongPasswords({ username: 'lk-name' }, 1);
      await wrongPasswords({ email: 'LK-mail@example.com' });
      assert.equal((await login(t, { username: 'lk-name', password: strongPassword })).statusCode, 429, 'sign-in refused');

      const locked = await list('q=lk-&locked=true');
      assert.deepEqual(names(locked), ['lk-name', 'lk-mail']);
      assert.equal(locked.next_cursor, null);
      for (const row of locked.users) {
        assert.equal(row.locked, true);
        assert.equal(row.locked_until, new Date(t.clock.now() + lockMs).toISOString(), row.username);
      }
      const unlocked = await list('q=lk-&locked=false');
      assert.deepEqual(names(unlocked), ['lk-free']);
      assert.deepEqual([unlocked.users[0]!.locked, unlocked.users[0]!.locked_until], [false, null]);
      // Unfiltered listings and GET /admin/users/:id show the state too.
      assert.deepEqual((await list('q=lk-')).users.map((row) => [row.username, row.locked]), [['lk-name', true], ['lk-mail', true], ['lk-free', false]]);
      const one = await get(t, `/admin/users/${byEmail}`, { token: admin.access_token });
      assert.deepEqual([one.json().locked, one.json().locked_until], [true, new Date(t.clock.now() + lockMs).toISOString()]);
      // The filter combines with the SQL ones.
      assert.deepEqual(names(await list('q=lk-&locked=true&disabled=false&limit=1')), ['lk-name']);

      const patched = await t.app.inject({
        method: 'PATCH',
        url: `/admin/users/${byName}`,
        headers: { authorization: `Bearer ${admin.access_token}`, 'content-type': 'application/json' },
        payload: JSON.stringify({ unlock: true }),
      });
      assert.equal(patched.statusCode, 200, patched.body);
      assert.deepEqual([patched.json().locked, patched.json().locked_until], [false, null], 'the answer shows the unlock');
      assert.deepEqual(names(await list('q=lk-&locked=false')), ['lk-name', 'lk-free']);
      assert.deepEqual(names(await list('q=lk-&locked=true')), ['lk-mail']);
      await signIn(t, 'lk-name');

      // A lock ends by itself: the state follows the injected clock.
      t.clock.advance(lockMs);
      assert.deepEqual(names(await list('q=lk-&locked=true')), []);
      assert.deepEqual(names(await list('q=lk-&locked=false')), ['lk-name', 'lk-mail', 'lk-free']);
    });

    it('leaves out a lock of one network\'s own lane: only that client is refused, not the account', async () => {
      const id = await createUser(t, 'lk-home');
      const from = (ip: string, pw: string) => t.app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'lk-home', password: pw }, remoteAddress: ip });
      // Signed in once from this network, its failures count in a lane of its own (docs/adr/006).
      assert.equal((await from('203.0.113.50', strongPassword)).statusCode, 200);
      for (let i = 0; i < 5; i += 1) assert.equal((await from('203.0.113.50', 'not the password at all')).statusCode, 401);
      assert.equal((await from('203.0.113.50', strongPassword)).statusCode, 429, 'that network is locked');
      assert.equal((await from('198.51.100.60', strongPassword)).statusCode, 200, 'elsewhere the account signs in');
      const one = await get(t, `/admin/users/${id}`, { token: admin.access_token });
      assert.deepEqual([one.json().locked, one.json().locked_until], [false, null]);
    });

    it(`examines at most ${lockedScanBudget} users per page: a short page still has a next cursor, and the pages together hold every match`, async () => {
      // Many users, inserted in one statement (hashing a password each would take minutes).
      const bulk = 1_100;
      const start = t.clock.now();
      await t.db.query(
        `INSERT INTO users (id, username, password_hash, created_at, updated_at, password_changed_at)
         SELECT gen_random_uuid(), 'scan-' || lpad(i::text, 4, '0'), 'not-a-hash', to_timestamp(($1::bigint + i) / 1000.0),
                to_timestamp($1::bigint / 1000.0), to_timestamp($1::bigint / 1000.0)
         FROM generate_series(0, $2::int - 1) AS i`,
        [start, bulk],
      );
      t.clock.advance(bulk + 1000);
      await createUser(t, 'scan-zlocked');
      await wrongPasswords({ username: 'scan-zlocked' });

      const first = await list('q=scan-&locked=true&limit=10');
      assert.deepEqual(names(first), [], 'nothing locked among the first examined');
      assert.notEqual(first.next_cursor, null, 'yet the listing goes on');
      const second = await list(`q=scan-&locked=true&limit=10&cursor=${first.next_cursor}`);
      assert.deepEqual(names(second), ['scan-zlocked']);
      assert.equal(second.next_cursor, null);

      // Not locked: full pages until the end, in (created, id) order, each user once.
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await list(`q=scan-&locked=false&limit=200${cursor ? `&cursor=${cursor}` : ''}`);
        if (page.next_cursor !== null) assert.equal(page.users.length, 200);
        seen.push(...names(page));
        cursor = page.next_cursor;
        pages += 1;
      } while (cursor !== null && pages < 20);
      assert.equal(seen.length, bulk);
      assert.deepEqual(seen, Array.from({ length: bulk }, (_, i) => `scan-${String(i).padStart(4, '0')}`));
    });

    it('refuses a bad locked value (400 in the error shape)', async () => {
      for (const value of ['yes', '1', '', 'TRUE']) {
        assertApiError(await get(t, `/admin/users?locked=${value}`, { token: admin.access_token }), 400, 'invalid_request', `locked=${value}`);
      }
    });
  });
}
