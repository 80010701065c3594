import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { AuthError } from '../../errors/auth-error.js';
import type { ErrorCode } from '../../errors/codes.js';
import type { Session } from '../../sessions/session.js';
import { testBackends, type TestBackend, type TestDatabase } from '../../test-support/databases.js';
import {
  at,
  day,
  hour,
  minute,
  newRefreshToken,
  newSession,
  newUser,
  settle,
  signingKeyRecord,
  t0,
  uniqueName,
  warmUp,
} from '../../test-support/fixtures.js';
import type { StoreSet } from '../stores.js';
import type { Db } from './db.js';
import { sqlStores } from './sql-stores.js';

function authErrorWith(code: ErrorCode) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof AuthError, `expected AuthError ${code}, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  };
}

/** Ids that are not UUIDs: each must find nothing instead of raising a SQL error. */
const malformedIds = [
  '',
  'not-a-uuid',
  '123',
  "'; DROP TABLE users; --",
  '00000000-0000-0000-0000-00000000000g',
  '00000000-0000-0000-0000-0000000000000',
  ' 00000000-0000-0000-0000-000000000000',
  'ａｄｍｉｎ',
  'x'.repeat(10_000),
];

/** Strings that stress text[] encoding: separators, quotes, braces, the NULL keyword, Unicode. */
const awkwardStrings = ['admin', 'a,b', 'with "quotes"', '{braces}', 'NULL', 'null', 'back\\slash', 'sp ace', 'ünïcødé-名前', ''];

/** Runs `fn` over a fresh, migrated database of its own (for tests that need empty tables). */
async function withFreshStores<T>(backend: TestBackend, fn: (stores: StoreSet, db: Db) => Promise<T>): Promise<T> {
  const { db, cleanup } = await backend.open();
  try {
    return await fn(sqlStores(db), db);
  } finally {
    await cleanup();
  }
}

for (const backend of testBackends()) {
  // PGlite runs one statement at a time, so races can only be lost on PostgreSQL: repeat there.
  const rounds = backend.name === 'postgres' ? 3 : 1;

  describe(`SQL stores (${backend.name})`, () => {
    let database: TestDatabase;
    let stores: StoreSet;
    before(async () => {
      database = await backend.open();
      stores = sqlStores(database.db);
    });
    after(() => database.cleanup());

    describe('UserStore', () => {
      it('round-trips every field, including arrays, nulls and dates', async () => {
        const input = newUser({
          roles: awkwardStrings,
          permissions: ['users:read', 'users:write'],
          tenant: 'acme',
          createdAt: at(1),
        });
        const expected = { ...input, disabled: false, updatedAt: at(1), passwordChangedAt: at(1) };
        const created = await stores.users.create(input);
        assert.deepEqual(created, expected);
        for (const date of [created.createdAt, created.updatedAt, created.passwordChangedAt]) assert.ok(date instanceof Date);
        assert.deepEqual(await stores.users.findById(input.id), expected);
        assert.deepEqual(await stores.users.findByUsername(input.username), expected);
        assert.deepEqual(await stores.users.findByEmail(input.email!), expected);

        const bare = newUser({ email: null, tenant: null, roles: [], permissions: [] });
        const expectedBare = { ...bare, disabled: false, updatedAt: bare.createdAt, passwordChangedAt: bare.createdAt };
        assert.deepEqual(await stores.users.create(bare), expectedBare);
        assert.deepEqual(await stores.users.findById(bare.id), expectedBare);
      });

      it('finds nothing for an unknown id, username or e-mail', async () => {
        assert.equal(await stores.users.findById(randomUUID()), undefined);
        assert.equal(await stores.users.findByUsername(uniqueName('nobody')), undefined);
        assert.equal(await stores.users.findByEmail(`${uniqueName('nobody')}@example.test`), undefined);
      });

      it('allows many users without an e-mail', async () => {
        const a = await stores.users.create(newUser({ email: null }));
        const b = await stores.users.create(newUser({ email: null }));
        assert.equal((await stores.users.findById(a.id))?.email, null);
        assert.equal((await stores.users.findById(b.id))?.email, null);
      });

      it('refuses a taken username with username_taken and a taken e-mail with email_taken', async () => {
        const first = await stores.users.create(newUser());
        const sameName = newUser({ username: first.username });
        await assert.rejects(stores.users.create(sameName), authErrorWith('username_taken'));
        const sameEmail = newUser({ email: first.email });
        await assert.rejects(stores.users.create(sameEmail), authErrorWith('email_taken'));
        assert.equal(await stores.users.findById(sameName.id), undefined);
        assert.equal(await stores.users.findById(sameEmail.id), undefined);
        assert.equal((await stores.users.findByUsername(first.username))?.id, first.id);
      });

      it('lets exactly one of concurrent creates of the same username win', async () => {
        await warmUp(database.db);
        const username = uniqueName('race');
        const contenders = Array.from({ length: 5 }, () => newUser({ username, email: `${uniqueName('race')}@example.test` }));
        const { values, errors } = await settle(contenders.map((user) => stores.users.create(user)));
        assert.equal(values.length, 1, 'exactly one create succeeds');
        assert.equal(errors.length, 4);
        for (const error of errors) authErrorWith('username_taken')(error);
        assert.equal((await stores.users.findByUsername(username))?.id, values[0]!.id);
      });

      it('lets exactly one of concurrent creates of the same e-mail win', async () => {
        await warmUp(database.db);
        const email = `${uniqueName('race')}@example.test`;
        const contenders = Array.from({ length: 5 }, () => newUser({ email }));
        const { values, errors } = await settle(contenders.map((user) => stores.users.create(user)));
        assert.equal(values.length, 1, 'exactly one create succeeds');
        for (const error of errors) authErrorWith('email_taken')(error);
        assert.equal((await stores.users.findByEmail(email))?.id, values[0]!.id);
      });

      it('updatePasswordHash moves passwordChangedAt only when asked', async () => {
        const user = await stores.users.create(newUser());

        await stores.users.updatePasswordHash(user.id, '$2b$10$rehashrehashrehashrehash', at(hour), false);
        const rehashed = await stores.users.findById(user.id);
        assert.equal(rehashed?.passwordHash, '$2b$10$rehashrehashrehashrehash');
        assert.deepEqual(rehashed?.updatedAt, at(hour));
        assert.deepEqual(rehashed?.passwordChangedAt, t0, 'a rehash is not a password change');

        await stores.users.updatePasswordHash(user.id, '$argon2id$new', at(2 * hour), true);
        const changed = await stores.users.findById(user.id);
        assert.equal(changed?.passwordHash, '$argon2id$new');
        assert.deepEqual(changed?.updatedAt, at(2 * hour));
        assert.deepEqual(changed?.passwordChangedAt, at(2 * hour));
        assert.deepEqual(changed?.createdAt, t0);
      });

      it('setDisabled toggles the flag and reports whether the user exists', async () => {
        const user = await stores.users.create(newUser());
        assert.equal(await stores.users.setDisabled(user.id, true, at(minute)), true);
        const disabled = await stores.users.findById(user.id);
        assert.equal(disabled?.disabled, true);
        assert.deepEqual(disabled?.updatedAt, at(minute));
        assert.equal(await stores.users.setDisabled(user.id, false, at(2 * minute)), true);
        assert.equal((await stores.users.findById(user.id))?.disabled, false);
        assert.equal(await stores.users.setDisabled(randomUUID(), true, at(minute)), false);
      });

      it('count counts every user', async () => {
        const before = await stores.users.count();
        await stores.users.create(newUser());
        await stores.users.create(newUser({ email: null }));
        assert.equal(await stores.users.count(), before + 2);
      });

      it('createIfEmpty inserts into an empty table and refuses afterwards', async () => {
        await withFreshStores(backend, async (fresh) => {
          assert.equal(await fresh.users.count(), 0);
          const admin = newUser({ roles: ['admin'] });
          const created = await fresh.users.createIfEmpty(admin);
          assert.deepEqual(created, { ...admin, disabled: false, updatedAt: t0, passwordChangedAt: t0 });
          const second = newUser({ roles: ['admin'] });
          assert.equal(await fresh.users.createIfEmpty(second), undefined);
          assert.equal(await fresh.users.findById(second.id), undefined);
          assert.equal(await fresh.users.count(), 1);
        });
      });

      for (const sameName of [true, false]) {
        it(`createIfEmpty inserts exactly one user when several callers bootstrap at once (${sameName ? 'same' : 'different'} usernames)`, async () => {
          for (let round = 0; round < rounds; round += 1) {
            await withFreshStores(backend, async (fresh, db) => {
              await warmUp(db);
              const username = uniqueName('root');
              const callers = Array.from({ length: 6 }, () => newUser({ username: sameName ? username : uniqueName('root'), roles: ['admin'] }));
              const results = await Promise.all(callers.map((user) => fresh.users.createIfEmpty(user)));
              const inserted = results.filter((user) => user !== undefined);
              assert.equal(inserted.length, 1, `round ${round}: exactly one caller inserts`);
              assert.equal(await fresh.users.count(), 1, `round ${round}: exactly one user exists`);
              assert.equal((await fresh.users.findById(inserted[0]!.id))?.username, inserted[0]!.username);
            });
          }
        });
      }
    });

    describe('SessionStore', () => {
      it('round-trips every field, with and without the optional ones', async () => {
        const user = await stores.users.create(newUser());
        const full = newSession(user.id, {
          deviceName: 'Ada’s laptop',
          deviceFingerprint: 'fp-0123456789abcdef',
          ip: '2001:db8::1',
          userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
          amr: ['pwd', 'otp', 'a,b', 'NULL'],
          createdAt: at(5),
          expiresAt: at(7 * day + 5),
        });
        const expected: Session = { ...full, lastActiveAt: at(5), revokedAt: null, revokeReason: null };
        assert.deepEqual(await stores.sessions.create(full), expected);
        assert.deepEqual(await stores.sessions.findById(full.id), expected);

        const bare = newSession(user.id);
        const expectedBare: Session = { ...bare, lastActiveAt: bare.createdAt, revokedAt: null, revokeReason: null };
        assert.deepEqual(await stores.sessions.create(bare), expectedBare);
        assert.deepEqual(await stores.sessions.findById(bare.id), expectedBare);
      });

      it('listActiveByUser returns live sessions oldest first, without revoked, expired or other users’ ones', async () => {
        const user = await stores.users.create(newUser());
        const other = await stores.users.create(newUser());
        const now = at(day);
        const second = await stores.sessions.create(newSession(user.id, { createdAt: at(2 * hour), expiresAt: at(2 * day) }));
        const first = await stores.sessions.create(newSession(user.id, { createdAt: at(hour), expiresAt: at(2 * day) }));
        const third = await stores.sessions.create(newSession(user.id, { createdAt: at(3 * hour), expiresAt: at(day + 1) }));
        await stores.sessions.create(newSession(user.id, { createdAt: at(0), expiresAt: at(day - 1) }));
        await stores.sessions.create(newSession(user.id, { createdAt: at(0), expiresAt: now }));
        const revoked = await stores.sessions.create(newSession(user.id, { createdAt: at(30 * minute), expiresAt: at(2 * day) }));
        assert.equal(await stores.sessions.revoke(revoked.id, at(4 * hour), 'logout'), true);
        await stores.sessions.create(newSession(other.id, { createdAt: at(minute), expiresAt: at(2 * day) }));

        const active = await stores.sessions.listActiveByUser(user.id, now);
        assert.deepEqual(
          active.map((session) => session.id),
          [first.id, second.id, third.id],
        );
        assert.deepEqual(active[0], first);
        assert.deepEqual(await stores.sessions.listActiveByUser(randomUUID(), now), []);
      });

      it('revoke marks the session once and is idempotent', async () => {
        const user = await stores.users.create(newUser());
        const session = await stores.sessions.create(newSession(user.id));
        assert.equal(await stores.sessions.revoke(session.id, at(hour), 'logout'), true);
        assert.equal(await stores.sessions.revoke(session.id, at(2 * hour), 'admin'), false);
        const stored = await stores.sessions.findById(session.id);
        assert.deepEqual(stored?.revokedAt, at(hour), 'the first revocation is kept');
        assert.equal(stored?.revokeReason, 'logout');
        assert.deepEqual(await stores.sessions.listActiveByUser(user.id, at(0)), []);
        assert.equal(await stores.sessions.revoke(randomUUID(), at(hour), 'logout'), false);
      });
    });

    describe('RefreshTokenStore', () => {
      it('round-trips a token with its unset fields as null', async () => {
        const user = await stores.users.create(newUser());
        const session = await stores.sessions.create(newSession(user.id));
        const token = newRefreshToken(session.id, user.id, { createdAt: at(9), expiresAt: at(day + 9) });
        await stores.refreshTokens.insert(token);
        const stored = await stores.refreshTokens.findById(token.id);
        assert.deepEqual(stored, { ...token, consumedAt: null, successorId: null, successorSealed: null, revokedAt: null, revokeReason: null });
        assert.ok(stored?.createdAt instanceof Date);
        assert.equal(await stores.refreshTokens.findById(newRefreshToken(session.id, user.id).id), undefined);
      });

      it('revokeBySession revokes the session’s unrevoked tokens and counts them', async () => {
        const user = await stores.users.create(newUser());
        const session = await stores.sessions.create(newSession(user.id));
        const otherSession = await stores.sessions.create(newSession(user.id));
        const tokens = [0, 1, 2].map(() => newRefreshToken(session.id, user.id));
        const bystander = newRefreshToken(otherSession.id, user.id);
        for (const token of [...tokens, bystander]) await stores.refreshTokens.insert(token);

        assert.equal(await stores.refreshTokens.revokeBySession(session.id, at(hour)), 3);
        assert.equal(await stores.refreshTokens.revokeBySession(session.id, at(2 * hour)), 0);
        const late = newRefreshToken(session.id, user.id);
        await stores.refreshTokens.insert(late);
        assert.equal(await stores.refreshTokens.revokeBySession(session.id, at(3 * hour)), 1);

        for (const token of tokens) assert.deepEqual((await stores.refreshTokens.findById(token.id))?.revokedAt, at(hour));
        assert.deepEqual((await stores.refreshTokens.findById(late.id))?.revokedAt, at(3 * hour));
        assert.equal((await stores.refreshTokens.findById(bystander.id))?.revokedAt, null);
        assert.equal(await stores.refreshTokens.revokeBySession(randomUUID(), at(hour)), 0);
      });
    });

    describe('malformed ids', () => {
      for (const id of malformedIds) {
        it(`finds nothing and changes nothing for ${JSON.stringify(id.length > 40 ? `${id.slice(0, 10)}…(${id.length})` : id)}`, async () => {
          assert.equal(await stores.users.findById(id), undefined);
          assert.equal(await stores.users.setDisabled(id, true, t0), false);
          assert.equal(await stores.sessions.findById(id), undefined);
          assert.deepEqual(await stores.sessions.listActiveByUser(id, t0), []);
          assert.equal(await stores.sessions.revoke(id, t0, 'logout'), false);
          assert.equal(await stores.refreshTokens.findById(id), undefined);
          assert.equal(await stores.refreshTokens.revokeBySession(id, t0), 0);
        });
      }

      it('updatePasswordHash with a malformed id changes nothing instead of throwing', async () => {
        for (const id of malformedIds) {
          await assert.doesNotReject(stores.users.updatePasswordHash(id, '$argon2id$x', t0, true), `id ${JSON.stringify(id.slice(0, 40))}`);
        }
      });
    });

    describe('transaction', () => {
      it('rolls back everything when the callback throws', async () => {
        const user = newUser();
        const session = newSession(user.id);
        const token = newRefreshToken(session.id, user.id);
        await assert.rejects(
          stores.transaction(async (tx) => {
            await tx.users.create(user);
            await tx.sessions.create(session);
            await tx.refreshTokens.insert(token);
            assert.equal((await tx.users.findById(user.id))?.id, user.id, 'visible inside the transaction');
            throw new Error('boom');
          }),
          /boom/,
        );
        assert.equal(await stores.users.findById(user.id), undefined);
        assert.equal(await stores.users.findByUsername(user.username), undefined);
        assert.equal(await stores.sessions.findById(session.id), undefined);
        assert.equal(await stores.refreshTokens.findById(token.id), undefined);
      });

      it('rolls back earlier writes when a store call inside fails', async () => {
        const taken = await stores.users.create(newUser());
        const user = newUser();
        await assert.rejects(
          stores.transaction(async (tx) => {
            await tx.users.create(user);
            await tx.users.create(newUser({ username: taken.username }));
          }),
          authErrorWith('username_taken'),
        );
        assert.equal(await stores.users.findById(user.id), undefined);
      });

      it('commits everything and returns the callback’s value', async () => {
        const user = newUser();
        const session = newSession(user.id);
        const result = await stores.transaction(async (tx) => {
          await tx.users.create(user);
          await tx.sessions.create(session);
          return 'done';
        });
        assert.equal(result, 'done');
        assert.equal((await stores.users.findById(user.id))?.id, user.id);
        assert.equal((await stores.sessions.findById(session.id))?.userId, user.id);
      });
    });

    describe('SigningKeyStore', () => {
      it('round-trips a key and refuses a second active one', async () => {
        await withFreshStores(backend, async (fresh) => {
          assert.deepEqual(await fresh.signingKeys.listPublished(t0), []);
          const key = signingKeyRecord({ createdAt: at(3), activatedAt: at(3) });
          assert.equal(await fresh.signingKeys.insertActiveIfNone(key), true);
          const second = signingKeyRecord({ alg: 'EdDSA' });
          assert.equal(await fresh.signingKeys.insertActiveIfNone(second), false);
          assert.equal(await fresh.signingKeys.insertActiveIfNone(key), false, 'the same key again');
          assert.deepEqual(await fresh.signingKeys.listPublished(t0), [key]);
        });
      });

      it('insertActiveIfNone lets exactly one of concurrent callers win', async () => {
        for (let round = 0; round < rounds; round += 1) {
          await withFreshStores(backend, async (fresh, db) => {
            await warmUp(db);
            const keys = Array.from({ length: 5 }, () => signingKeyRecord());
            const results = await Promise.all(keys.map((key) => fresh.signingKeys.insertActiveIfNone(key)));
            assert.equal(results.filter(Boolean).length, 1, `round ${round}: exactly one insert wins`);
            const winner = keys[results.indexOf(true)]!;
            const published = await fresh.signingKeys.listPublished(t0);
            assert.deepEqual(
              published.map((key) => [key.kid, key.status]),
              [[winner.kid, 'active']],
            );
            const rows = await db.query<{ count: number }>(`SELECT count(*)::int AS count FROM signing_keys WHERE status = 'active'`);
            assert.equal(rows[0]?.count, 1);
          });
        }
      });

      it('listPublished shows a retired key until its publishUntil has passed, then hides it', async () => {
        await withFreshStores(backend, async (fresh) => {
          const old = signingKeyRecord({ alg: 'RS256' });
          assert.equal(await fresh.signingKeys.insertActiveIfNone(old), true);
          const retiredAt = at(hour);
          const publishUntil = at(hour + 15 * minute);
          await fresh.signingKeys.retire(old.kid, retiredAt, publishUntil);
          const next = signingKeyRecord({ createdAt: retiredAt, activatedAt: retiredAt });
          assert.equal(await fresh.signingKeys.insertActiveIfNone(next), true, 'a retired key frees the active slot');

          const retired = { ...old, status: 'retired' as const, retiredAt, publishUntil };
          assert.deepEqual(await fresh.signingKeys.listPublished(retiredAt), [retired, next]);
          assert.deepEqual(await fresh.signingKeys.listPublished(new Date(publishUntil.getTime() - 1)), [retired, next]);
          assert.deepEqual(await fresh.signingKeys.listPublished(new Date(publishUntil.getTime() + 1)), [next]);
          assert.deepEqual(await fresh.signingKeys.listPublished(at(30 * day)), [next], 'the active key never lapses');
        });
      });

      it('retire leaves a key that is not active untouched', async () => {
        await withFreshStores(backend, async (fresh) => {
          const key = signingKeyRecord();
          await fresh.signingKeys.insertActiveIfNone(key);
          await fresh.signingKeys.retire(key.kid, at(hour), at(2 * hour));
          await fresh.signingKeys.retire(key.kid, at(5 * hour), at(6 * hour));
          const [stored] = await fresh.signingKeys.listPublished(at(hour));
          assert.deepEqual(stored?.retiredAt, at(hour), 'a second retire does not move the dates');
          assert.deepEqual(stored?.publishUntil, at(2 * hour));
          await fresh.signingKeys.retire('no-such-kid', at(hour), at(2 * hour));
        });
      });
    });
  });
}
