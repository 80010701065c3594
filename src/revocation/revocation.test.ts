import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ManualClock } from '../clock.js';
import type { Db } from '../store/sql/db.js';
import { openPgliteDb } from '../store/sql/pglite-db.js';
import { createUser, signIn, startTestApp, type SignedIn, type TestApp } from '../test-support/app.js';
import { testBackends, type TestBackend } from '../test-support/databases.js';
import { deleteRedisKeys, redisUrl, uniquePrefix } from '../test-support/hot-state.js';

/** A database that survives its first Tessera: a PGlite directory, or a PostgreSQL schema. */
async function durableDatabase(backend: TestBackend): Promise<{ first: Db; again(): Promise<Db>; cleanup(): Promise<void> }> {
  if (backend.name === 'postgres') {
    const database = await backend.open();
    return { first: database.db, again: async () => database.reopen!(), cleanup: database.cleanup };
  }
  const dir = mkdtempSync(join(tmpdir(), 'tessera-restart-'));
  return {
    first: await openPgliteDb({ dataDir: dir }),
    again: () => openPgliteDb({ dataDir: dir }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

const verify = (t: TestApp, token: string) => t.app.inject({ url: '/auth/verify', headers: { authorization: `Bearer ${token}` } });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

for (const backend of testBackends()) {
  describe(`revocation that sticks (${backend.name})`, () => {
    it('keeps every kind of revocation across a restart with fresh hot state', async () => {
      const database = await durableDatabase(backend);
      try {
        const before = await startTestApp(backend, { db: database.first });
        await createUser(before, 'logged-out');
        await createUser(before, 'token-revoked');
        await createUser(before, 'revoked-all');
        const disabledId = await createUser(before, 'disabled');
        await createUser(before, 'untouched');
        const tokens = {
          loggedOut: await signIn(before, 'logged-out'),
          tokenRevoked: await signIn(before, 'token-revoked'),
          revokedAll: await signIn(before, 'revoked-all'),
          disabled: await signIn(before, 'disabled'),
          untouched: await signIn(before, 'untouched'),
        };
        assert.equal((await before.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(tokens.loggedOut.access_token) })).statusCode, 204);
        assert.equal(
          (await before.app.inject({ method: 'POST', url: '/auth/revoke', payload: { token: tokens.tokenRevoked.access_token } })).statusCode,
          200,
        );
        assert.equal((await before.app.inject({ method: 'POST', url: '/auth/logout-all', headers: bearer(tokens.revokedAll.access_token) })).statusCode, 204);
        assert.equal(await before.tessera.revocations.setUserDisabled(disabledId, true), true);
        const revoked = [tokens.loggedOut, tokens.tokenRevoked, tokens.revokedAll, tokens.disabled].map((pair) => pair.access_token);
        for (const token of revoked) assert.equal((await verify(before, token)).statusCode, 401);
        await before.close();

        // A new process: empty caches, a new hot-state namespace (as after a Redis flush).
        const after = await startTestApp(backend, { db: await database.again() });
        try {
          for (const token of revoked) {
            const response = await verify(after, token);
            assert.equal(response.statusCode, 401);
            assert.equal(response.json().error, 'invalid_token');
          }
          assert.equal((await verify(after, tokens.untouched.access_token)).statusCode, 200, 'only what was revoked');
          const refreshes = await Promise.all(
            [tokens.loggedOut, tokens.revokedAll, tokens.disabled].map((pair) =>
              after.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: pair.refresh_token } }),
            ),
          );
          assert.deepEqual(refreshes.map((r) => r.statusCode), [401, 401, 401]);
        } finally {
          await after.close();
        }
      } finally {
        await database.cleanup();
      }
    });

    it('ends every session when a user is disabled; enabling restores sign-in, never the old tokens', async () => {
      const t = await startTestApp(backend);
      try {
        const id = await createUser(t, 'disabled-then-enabled');
        const old = await signIn(t, 'disabled-then-enabled');
        assert.equal(await t.tessera.revocations.setUserDisabled(id, true), true);
        assert.equal((await verify(t, old.access_token)).statusCode, 401);
        assert.equal(await t.tessera.revocations.setUserDisabled(id, false), true);
        t.clock.advance(1000);
        assert.equal((await verify(t, old.access_token)).statusCode, 401, 'the old access token stays refused');
        const refresh = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: old.refresh_token } });
        assert.equal(refresh.statusCode, 401, 'and so does the old refresh token');
        const fresh = await signIn(t, 'disabled-then-enabled');
        assert.equal((await verify(t, fresh.access_token)).statusCode, 200, 'signing in works again');
      } finally {
        await t.close();
      }
    });

    it('accepts a token issued right after a revoke-all, and refuses every one from before', async () => {
      const t = await startTestApp(backend);
      try {
        await createUser(t, 'fresh-start');
        const old = await signIn(t, 'fresh-start');
        const older = await signIn(t, 'fresh-start');
        assert.equal((await t.app.inject({ method: 'POST', url: '/auth/logout-all', headers: bearer(old.access_token) })).statusCode, 204);
        // Same millisecond on the injected clock.
        const fresh = await signIn(t, 'fresh-start');
        assert.equal((await verify(t, fresh.access_token)).statusCode, 200);
        assert.equal((await verify(t, old.access_token)).statusCode, 401);
        assert.equal((await verify(t, older.access_token)).statusCode, 401);
      } finally {
        await t.close();
      }
    });
  });
}

for (const backend of testBackends()) {
  describe(`a lowered TESSERA_ACCESS_TTL (${backend.name})`, () => {
    const minute = 60_000;
    /** Past the new TTL, its leeway (30 s) and the revocation's second of margin. */
    const pastNewTtl = 15 * minute + 32_000;
    /** How each access token minted under the 1 h TTL is treated, and when it is checked. */
    const cases = [
      { name: 'revoked (logout) before the restart', revoke: 'before', checkAfterMs: pastNewTtl },
      { name: 'revoked (its refresh token) after the restart', revoke: 'after', checkAfterMs: pastNewTtl },
      { name: 'never revoked, right after the restart', revoke: 'never', checkAfterMs: 0 },
      { name: 'never revoked, past the new TTL', revoke: 'never', checkAfterMs: pastNewTtl },
    ] as const;

    it('refuses every token minted under the longer TTL, revoked or not', async () => {
      const database = await durableDatabase(backend);
      const clock = new ManualClock(Date.now());
      try {
        const long = await startTestApp(backend, { db: database.first, clock, env: { TESSERA_ACCESS_TTL: '1h' } });
        const minted: SignedIn[] = [];
        for (const [index, testCase] of cases.entries()) {
          await createUser(long, `ttl-${index}`);
          const tokens = await signIn(long, `ttl-${index}`);
          assert.equal(tokens.expires_in, 3600, 'minted under the 1 h TTL');
          if (testCase.revoke === 'before') {
            assert.equal((await long.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(tokens.access_token) })).statusCode, 204);
          }
          minted.push(tokens);
        }
        await long.close();

        const short = await startTestApp(backend, { db: await database.again(), clock, env: { TESSERA_ACCESS_TTL: '15m' } });
        try {
          for (const [index, testCase] of cases.entries()) {
            const tokens = minted[index]!;
            if (testCase.revoke === 'after') {
              const revoked = await short.app.inject({ method: 'POST', url: '/auth/revoke', payload: { token: tokens.refresh_token } });
              assert.equal(revoked.statusCode, 200, testCase.name);
            }
          }
          let elapsed = 0;
          for (const checkAfterMs of [...new Set(cases.map((testCase) => testCase.checkAfterMs))].sort((a, b) => a - b)) {
            clock.advance(checkAfterMs - elapsed);
            elapsed = checkAfterMs;
            for (const [index, testCase] of cases.entries()) {
              if (testCase.checkAfterMs !== checkAfterMs) continue;
              const response = await verify(short, minted[index]!.access_token);
              assert.equal(response.statusCode, 401, `${testCase.name}: ${response.body}`);
              assert.equal(response.json().error, 'invalid_token', testCase.name);
              const me = await short.app.inject({ url: '/auth/me', headers: bearer(minted[index]!.access_token) });
              assert.equal(me.statusCode, 401, `${testCase.name} on /auth/me`);
            }
          }
          // Tokens minted under the new TTL are unaffected, and so is the session of an unrevoked one.
          const renewed = await short.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: minted[2]!.refresh_token } });
          assert.equal(renewed.statusCode, 200, renewed.body);
          assert.equal(renewed.json().expires_in, 900);
          assert.equal((await verify(short, renewed.json().access_token as string)).statusCode, 200);
        } finally {
          await short.close();
        }
      } finally {
        await database.cleanup();
      }
    });
  });
}

const postgres = testBackends().find((backend) => backend.name === 'postgres');
const shared = postgres && redisUrl ? postgres : undefined;

describe('revocation across instances sharing PostgreSQL and Redis', { skip: shared ? false : 'DATABASE_URL and REDIS_URL not set' }, () => {
  it('is enforced by a second instance within 1 s', async () => {
    const database = await shared!.open();
    const prefix = uniquePrefix();
    const a = await startTestApp(shared!, { db: database.db, hotStatePrefix: prefix });
    const b = await startTestApp(shared!, { db: database.reopen!(), hotStatePrefix: prefix });
    try {
      await createUser(a, 'two-instances');
      const tokens = await signIn(a, 'two-instances');
      assert.equal((await verify(b, tokens.access_token)).statusCode, 200, 'b has verified (and cached) the token');
      const revokedAt = Date.now();
      assert.equal((await a.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(tokens.access_token) })).statusCode, 204);
      let status = 200;
      while (status === 200 && Date.now() - revokedAt < 1000) {
        status = (await verify(b, tokens.access_token)).statusCode;
        if (status === 200) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(status, 401, `b refused the token within ${Date.now() - revokedAt} ms`);
    } finally {
      await b.close();
      await a.close();
      await database.cleanup();
    }
  });

  it('never brings a revoked token back after a Redis flush', async () => {
    const database = await shared!.open();
    const prefix = uniquePrefix();
    const a = await startTestApp(shared!, { db: database.db, hotStatePrefix: prefix });
    try {
      await createUser(a, 'flushed');
      const tokens = await signIn(a, 'flushed');
      await a.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(tokens.access_token) });
      await deleteRedisKeys(redisUrl!, prefix);
      assert.equal((await verify(a, tokens.access_token)).statusCode, 401, 'the running instance keeps it');
      const b = await startTestApp(shared!, { db: database.reopen!(), hotStatePrefix: prefix });
      try {
        assert.equal((await verify(b, tokens.access_token)).statusCode, 401, 'a new instance rebuilds it from SQL');
      } finally {
        await b.close();
      }
    } finally {
      await a.close();
      await database.cleanup();
    }
  });
});
