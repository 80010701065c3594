import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SecurityEvent } from '../events/bus.js';
import { createUser, signIn, startTestApp, type TestApp } from '../test-support/app.js';
import { testBackends } from '../test-support/databases.js';

const minute = 60_000;
const day = 86_400_000;

for (const backend of testBackends()) {
  describe(`refresh rotation (${backend.name})`, () => {
    let t: TestApp;
    const events: SecurityEvent[] = [];
    before(async () => {
      t = await startTestApp(backend, { env: { TESSERA_RATE_LIMIT_REFRESH: '1000/1m' } });
      t.tessera.events.subscribe((event) => events.push(event));
    });
    after(() => t.close());

    const refresh = (token: unknown, headers: Record<string, string> = {}) =>
      t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: token }, headers });
    const me = (token: string) => t.app.inject({ url: '/auth/me', headers: { authorization: `Bearer ${token}` } });

    it('rotates: a new pair each time, the old refresh token consumed, last activity updated', async () => {
      await createUser(t, 'rot-user', { permissions: ['orders:read'] });
      const first = await signIn(t, 'rot-user');
      t.clock.advance(minute);
      const second = await refresh(first.refresh_token);
      assert.equal(second.statusCode, 200);
      assert.equal(second.headers['cache-control'], 'no-store');
      const pair = second.json();
      assert.notEqual(pair.refresh_token, first.refresh_token);
      assert.notEqual(pair.access_token, first.access_token);
      assert.equal(pair.session_id, first.session_id);
      assert.deepEqual(pair.user.permissions, ['orders:read']);
      assert.equal((await me(pair.access_token)).statusCode, 200);
      const old = await t.stores.refreshTokens.findById(first.refresh_token.split('.')[0]!);
      assert.ok(old?.consumedAt);
      assert.equal(old?.successorId, pair.refresh_token.split('.')[0]);
      const session = await t.stores.sessions.findById(first.session_id);
      assert.equal(session?.lastActiveAt.getTime(), t.clock.now());
      assert.ok(events.some((e) => e.type === 'refresh_token.rotated' && e.payload.sessionId === first.session_id));
      // The rotated pair keeps working.
      t.clock.advance(minute);
      assert.equal((await refresh(pair.refresh_token)).statusCode, 200);
    });

    it('returns the byte-identical successor pair within the grace window', async () => {
      await createUser(t, 'grace-user');
      const first = await signIn(t, 'grace-user');
      const a = await refresh(first.refresh_token);
      t.clock.advance(9_000);
      const b = await refresh(first.refresh_token);
      assert.equal(a.statusCode, 200);
      assert.equal(b.statusCode, 200);
      assert.equal(b.body, a.body, 'byte-identical');
      assert.equal((await me(a.json().access_token)).statusCode, 200, 'the session lives on');
      const stored = await t.stores.refreshTokens.findById(first.refresh_token.split('.')[0]!);
      assert.ok(stored?.successorSealed && !stored.successorSealed.includes(a.json().refresh_token), 'the pair is stored sealed');
    });

    it('erases the sealed pair once the grace window has closed', async () => {
      await createUser(t, 'sweep-user');
      const first = await signIn(t, 'sweep-user');
      assert.equal((await refresh(first.refresh_token)).statusCode, 200);
      const id = first.refresh_token.split('.')[0]!;
      assert.ok((await t.stores.refreshTokens.findById(id))?.successorSealed);
      assert.equal(await t.stores.refreshTokens.clearSealedBefore(new Date(t.clock.now() - 10_000)), 0, 'still in its window');
      t.clock.advance(11_000);
      assert.ok((await t.stores.refreshTokens.clearSealedBefore(new Date(t.clock.now() - 10_000))) >= 1);
      assert.equal((await t.stores.refreshTokens.findById(id))?.successorSealed, null);
    });

    it('treats reuse after the grace window as theft: the whole session is revoked', async () => {
      await createUser(t, 'reuse-user');
      const first = await signIn(t, 'reuse-user');
      const successor = (await refresh(first.refresh_token)).json();
      t.clock.advance(11_000);
      events.length = 0;
      const reuse = await refresh(first.refresh_token);
      assert.equal(reuse.statusCode, 401);
      assert.equal(reuse.json().error, 'invalid_grant');
      assert.ok(events.some((e) => e.type === 'refresh_token.reused' && e.payload.sessionId === first.session_id));
      assert.equal((await refresh(successor.refresh_token)).statusCode, 401, 'the successor is revoked too');
      assert.equal((await me(successor.access_token)).statusCode, 401, 'and every access token of the session');
      assert.equal((await me(first.access_token)).statusCode, 401);
      const session = await t.stores.sessions.findById(first.session_id);
      assert.equal(session?.revokeReason, 'refresh_token_reused');
    });

    it('treats reuse within the grace window as theft once the successor itself was rotated', async () => {
      await createUser(t, 'chain-user');
      const first = await signIn(t, 'chain-user');
      const second = (await refresh(first.refresh_token)).json();
      assert.equal((await refresh(second.refresh_token)).statusCode, 200);
      const reuse = await refresh(first.refresh_token);
      assert.equal(reuse.statusCode, 401);
      const session = await t.stores.sessions.findById(first.session_id);
      assert.equal(session?.revokeReason, 'refresh_token_reused');
    });

    it('expires after TESSERA_REFRESH_TTL of inactivity and never outlives TESSERA_SESSION_MAX_AGE', async () => {
      await createUser(t, 'idle-user');
      const idle = await signIn(t, 'idle-user');
      t.clock.advance(7 * day + 1000);
      assert.equal((await refresh(idle.refresh_token)).statusCode, 401);

      let current = await signIn(t, 'idle-user');
      for (let elapsed = 0; elapsed < 29 * day; elapsed += 6 * day) {
        t.clock.advance(6 * day);
        const next = await refresh(current.refresh_token);
        if (t.clock.now() - Date.parse((await t.stores.sessions.findById(current.session_id))!.createdAt.toISOString()) < 30 * day) {
          assert.equal(next.statusCode, 200);
          current = next.json();
          assert.ok(current.refresh_expires_in <= 30 * 86_400, 'refresh expiry capped by the session');
        }
      }
      t.clock.advance(6 * day);
      assert.equal((await refresh(current.refresh_token)).statusCode, 401, 'past the absolute session age');
    });

    it('refuses the refresh of a disabled or deleted user', async () => {
      const id = await createUser(t, 'soon-disabled');
      const tokens = await signIn(t, 'soon-disabled');
      await t.stores.users.setDisabled(id, true, new Date(t.clock.now()));
      assert.equal((await refresh(tokens.refresh_token)).statusCode, 401);
    });

    it('refuses unknown, malformed and wrong-secret tokens without touching the session', async () => {
      await createUser(t, 'guess-target');
      const tokens = await signIn(t, 'guess-target');
      const [id] = tokens.refresh_token.split('.');
      for (const guess of [`${id}.${'A'.repeat(43)}`, 'x'.repeat(66), tokens.access_token, `${tokens.refresh_token}x`]) {
        const response = await refresh(guess);
        assert.equal(response.statusCode, 401, guess.slice(0, 30));
        assert.equal(response.json().error, 'invalid_grant');
      }
      assert.equal((await refresh(tokens.refresh_token)).statusCode, 200, 'guessing never ends the real session');
    });

    it('reports a refresh from a new IP or user agent, and keeps the session (lax)', async () => {
      await createUser(t, 'roaming-user');
      const tokens = await signIn(t, 'roaming-user');
      events.length = 0;
      const moved = await refresh(tokens.refresh_token, { 'user-agent': 'OtherBrowser/2' });
      assert.equal(moved.statusCode, 200);
      const changed = events.find((e) => e.type === 'session.context_changed');
      assert.ok(changed);
      assert.deepEqual(changed.payload, {
        userId: tokens.user.id,
        sessionId: tokens.session_id,
        ipChanged: false,
        userAgentChanged: true,
        ended: false,
      });
    });
  });

  describe(`refresh limits and binding (${backend.name})`, () => {
    let strict: TestApp;
    before(async () => {
      strict = await startTestApp(backend, { env: { TESSERA_SESSION_BINDING: 'strict' } });
    });
    after(() => strict.close());

    it('ends the session on a new user agent with TESSERA_SESSION_BINDING=strict', async () => {
      await createUser(strict, 'bound-user');
      const tokens = await signIn(strict, 'bound-user');
      const moved = await strict.app.inject({
        method: 'POST',
        url: '/auth/refresh',
        payload: { refresh_token: tokens.refresh_token },
        headers: { 'user-agent': 'Stolen/1.0' },
      });
      assert.equal(moved.statusCode, 401);
      const session = await strict.stores.sessions.findById(tokens.session_id);
      assert.equal(session?.revokeReason, 'session_binding');
    });

    it('ends the session when a copied token is replayed elsewhere inside the grace window', async () => {
      await createUser(strict, 'copied-user');
      const tokens = await signIn(strict, 'copied-user');
      const own = await strict.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: tokens.refresh_token } });
      assert.equal(own.statusCode, 200);
      const copied = await strict.app.inject({
        method: 'POST',
        url: '/auth/refresh',
        payload: { refresh_token: tokens.refresh_token },
        headers: { 'user-agent': 'attacker-tool' },
      });
      assert.equal(copied.statusCode, 401, 'no pair for the copy');
      const session = await strict.stores.sessions.findById(tokens.session_id);
      assert.equal(session?.revokeReason, 'session_binding');
      const me = await strict.app.inject({ url: '/auth/me', headers: { authorization: `Bearer ${own.json().access_token}` } });
      assert.equal(me.statusCode, 401);
    });

    it('compares addresses by their canonical form, so rows from before the upgrade survive strict binding', async () => {
      // Issue 10 review L3: rows written before client addresses were canonicalised.
      const cases: [stored: string, from: string, status: number][] = [
        ['::ffff:192.0.2.1', '192.0.2.1', 200],
        ['2001:DB8:0:0::1', '2001:db8::1', 200],
        ['::ffff:192.0.2.9', '192.0.2.1', 401],
        ['not an address', '192.0.2.1', 401],
      ];
      for (const [index, [stored, from, status]] of cases.entries()) {
        await createUser(strict, `upgraded-${index}`);
        const tokens = await signIn(strict, `upgraded-${index}`);
        await strict.db.query('UPDATE sessions SET ip = $2 WHERE id = $1', [tokens.session_id, stored]);
        const response = await strict.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: tokens.refresh_token }, remoteAddress: from });
        assert.equal(response.statusCode, status, `${stored} refreshed from ${from}`);
        const session = await strict.stores.sessions.findById(tokens.session_id);
        assert.equal(session?.revokeReason ?? null, status === 200 ? null : 'session_binding', stored);
      }
    });

    it('limits refreshes to 10 a minute per session with 429 and Retry-After', async () => {
      await createUser(strict, 'eager-user');
      let tokens = await signIn(strict, 'eager-user');
      const statuses: number[] = [];
      let limited: { headers: Record<string, unknown>; body: string } | undefined;
      for (let i = 0; i < 11; i += 1) {
        const response = await strict.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: tokens.refresh_token } });
        statuses.push(response.statusCode);
        if (response.statusCode === 200) tokens = response.json();
        else limited = response;
      }
      assert.deepEqual(statuses, [...Array(10).fill(200), 429]);
      assert.equal(JSON.parse(limited!.body).error, 'rate_limited');
      const retryAfter = Number(limited!.headers['retry-after']);
      assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    });
  });

  describe(`concurrent refreshes of one token (${backend.name})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(backend, { env: { TESSERA_RATE_LIMIT_REFRESH: '1000/1m' } });
    });
    after(() => t.close());

    it('50 parallel refreshes yield one successor, every 200 carrying the same pair', async () => {
      await createUser(t, 'racer');
      for (let round = 0; round < 3; round += 1) {
        const tokens = await signIn(t, 'racer');
        const responses = await Promise.all(
          Array.from({ length: 50 }, () =>
            t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: tokens.refresh_token } }),
          ),
        );
        const statuses = responses.map((r) => r.statusCode);
        assert.ok(statuses.every((s) => s === 200), `round ${round}: ${statuses.join(',')}`);
        assert.equal(new Set(responses.map((r) => r.body)).size, 1, 'one pair');
        const successor = responses[0]!.json();
        const rows = await Promise.all([tokens.refresh_token, successor.refresh_token].map((token) => t.stores.refreshTokens.findById(token.split('.')[0]!)));
        assert.equal(rows[0]?.successorId, rows[1]?.id);
        const session = await t.stores.sessions.findById(tokens.session_id);
        assert.equal(session?.revokedAt, null, 'no reuse was detected');
        assert.equal((await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: successor.refresh_token } })).statusCode, 200);
      }
    });
  });
}
