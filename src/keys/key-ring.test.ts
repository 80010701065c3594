import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { calculateJwkThumbprint, importJWK, jwtVerify, SignJWT } from 'jose';
import type { Logger } from 'pino';
import { ManualClock } from '../clock.js';
import type { SigningAlg } from '../config/schema.js';
import type { Db } from '../store/sql/db.js';
import { sqlStores } from '../store/sql/sql-stores.js';
import { testSecret } from '../test-support/config.js';
import { testBackends, type TestBackend, type TestDatabase } from '../test-support/databases.js';
import { minute, warmUp } from '../test-support/fixtures.js';
import { generateSigningKey } from './generate.js';
import { KeyDecryptionError, KeyIntegrityError, KeyRing } from './key-ring.js';
import { signingKeyBinding } from './integrity.js';
import { createSealer } from './sealer.js';
import type { PublicJwk, SigningKeyRecord } from './signing-key.js';

const algs: SigningAlg[] = ['RS256', 'PS256', 'ES256', 'EdDSA'];
const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];
const graceMs = 15 * minute + minute;

function openRing(db: Db, alg: SigningAlg, clock = new ManualClock(), secret = testSecret): Promise<KeyRing> {
  return KeyRing.open({
    stores: sqlStores(db),
    sealer: createSealer(secret, 'signing-keys'),
    alg,
    clock,
    retiredKeyGraceMs: graceMs,
  });
}

async function withDatabase<T>(backend: TestBackend, fn: (db: Db) => Promise<T>): Promise<T> {
  const { db, cleanup } = await backend.open();
  try {
    return await fn(db);
  } finally {
    await cleanup();
  }
}

interface KeyRow {
  kid: string;
  alg: string;
  status: string;
  private_key_sealed: string;
}

async function keyRows(db: Db): Promise<KeyRow[]> {
  return db.query<KeyRow>('SELECT kid, alg, status, private_key_sealed FROM signing_keys ORDER BY created_at, kid');
}

/** A key row as Tessera wrote it before the seal bound the public key (associated data: the kid). */
async function legacyRecord(alg: SigningAlg): Promise<SigningKeyRecord> {
  const key = await generateSigningKey(alg);
  const now = new Date();
  return {
    kid: key.kid,
    alg,
    publicJwk: key.publicJwk,
    privateKeySealed: createSealer(testSecret, 'signing-keys').seal(key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), key.kid),
    status: 'active',
    createdAt: now,
    activatedAt: now,
    retiredAt: null,
    publishUntil: null,
  };
}

/** Signs with the ring's private key and verifies against its published JWK (real crypto, through jose). */
async function assertSignsVerifiably(ring: KeyRing): Promise<void> {
  const { kid, alg, privateKey } = ring.signingKey;
  const jwk = ring.jwks().keys.find((key) => key.kid === kid);
  assert.ok(jwk, 'the signing key is published');
  const token = await new SignJWT({ sub: 'someone' }).setProtectedHeader({ alg, kid }).sign(privateKey);
  const { payload, protectedHeader } = await jwtVerify(token, await importJWK({ ...jwk }, alg), { algorithms: [alg] });
  assert.equal(payload.sub, 'someone');
  assert.equal(protectedHeader.kid, kid);
}

for (const backend of testBackends()) {
  describe(`KeyRing (${backend.name})`, () => {
    for (const alg of algs) {
      describe(`with ${alg} on an empty store`, () => {
        let database: TestDatabase;
        let ring: KeyRing;
        before(async () => {
          database = await backend.open();
          ring = await openRing(database.db, alg);
        });
        after(() => database.cleanup());

        it('generates exactly one active key of that alg, and signs with it', async () => {
          const rows = await keyRows(database.db);
          assert.equal(rows.length, 1);
          assert.equal(rows[0]?.status, 'active');
          assert.equal(rows[0]?.alg, alg);
          assert.equal(ring.signingKey.alg, alg);
          assert.equal(ring.signingKey.kid, rows[0]?.kid);
          assert.deepEqual(ring.algorithms(), [alg]);
          assert.equal(ring.verificationKey(ring.signingKey.kid)?.alg, alg);
          await assertSignsVerifiably(ring);
        });

        it('publishes only public members, with kid = RFC 7638 thumbprint', async () => {
          const { keys } = ring.jwks();
          assert.equal(keys.length, 1);
          const jwk = keys[0]!;
          assert.equal(jwk.kid, ring.signingKey.kid);
          assert.equal(jwk.alg, alg);
          assert.equal(jwk.use, 'sig');
          for (const member of privateMembers) assert.equal(member in jwk, false, `no "${member}" in the published JWK`);
          assert.equal(jwk.kid, await calculateJwkThumbprint({ ...jwk }, 'sha256'));
        });

        it('stores the private key sealed, never as PEM', async () => {
          const rows = await database.db.query<{ kid: string; private_key_sealed: string; public_jwk: PublicJwk }>(
            'SELECT kid, private_key_sealed, public_jwk FROM signing_keys',
          );
          assert.equal(rows.length, 1);
          const row = rows[0]!;
          assert.ok(!row.private_key_sealed.includes('PRIVATE KEY'));
          assert.ok(!row.private_key_sealed.includes('BEGIN'));
          assert.match(row.private_key_sealed, /^v1\./);
          for (const member of privateMembers) assert.equal(member in row.public_jwk, false);
          const sealer = createSealer(testSecret, 'signing-keys');
          const pem = sealer.open(row.private_key_sealed, signingKeyBinding(row.kid, alg, row.public_jwk));
          assert.match(pem, /^-----BEGIN PRIVATE KEY-----/, 'sealed under the secret, bound to the kid, alg and public key');
          assert.throws(() => sealer.open(row.private_key_sealed, row.kid), 'not with the kid alone');
        });

        it('reuses the stored key when a second ring opens on the same database', async () => {
          const second = await openRing(database.db, alg);
          assert.equal(second.signingKey.kid, ring.signingKey.kid);
          assert.deepEqual(second.jwks(), ring.jwks());
          assert.equal((await keyRows(database.db)).length, 1);
          await assertSignsVerifiably(second);
        });
      });
    }

    it('ends with exactly one active key when several rings open at once on an empty database', async () => {
      // PGlite runs one statement at a time; the race is real only on PostgreSQL: try two algs there.
      for (const alg of backend.name === 'postgres' ? (['ES256', 'RS256'] as const) : (['ES256'] as const)) {
        await withDatabase(backend, async (db) => {
          await warmUp(db);
          const rings = await Promise.all(Array.from({ length: 6 }, () => openRing(db, alg)));
          const rows = await keyRows(db);
          assert.deepEqual(
            rows.filter((row) => row.status === 'active').length,
            1,
            `${alg}: exactly one active key`,
          );
          assert.equal(rows.length, 1, `${alg}: the losers store nothing`);
          for (const ring of rings) {
            assert.equal(ring.signingKey.kid, rows[0]?.kid);
            assert.deepEqual(
              ring.jwks().keys.map((key) => key.kid),
              [rows[0]?.kid],
            );
          }
        });
      }
    });

    it('switches to a newly configured alg and keeps the old key published until the grace passes', async () => {
      await withDatabase(backend, async (db) => {
        const clock = new ManualClock();
        const rsa = await openRing(db, 'RS256', clock);
        const oldKid = rsa.signingKey.kid;

        clock.advance(minute);
        const ec = await openRing(db, 'ES256', clock);
        const newKid = ec.signingKey.kid;
        assert.notEqual(newKid, oldKid);
        assert.equal(ec.signingKey.alg, 'ES256');
        assert.deepEqual(ec.jwks().keys.map((key) => key.kid).sort(), [oldKid, newKid].sort());
        assert.deepEqual(ec.algorithms().sort(), ['ES256', 'RS256']);
        assert.equal(ec.verificationKey(oldKid)?.alg, 'RS256', 'tokens signed by the old key still verify');

        const stores = sqlStores(db);
        const published = await stores.signingKeys.listPublished(new Date(clock.now()));
        const old = published.find((key) => key.kid === oldKid);
        assert.equal(old?.status, 'retired');
        assert.deepEqual(old?.retiredAt, new Date(clock.now()));
        assert.deepEqual(old?.publishUntil, new Date(clock.now() + graceMs));
        assert.equal(published.find((key) => key.kid === newKid)?.status, 'active');

        // The instance still configured with the old ring learns of the rotation on reload.
        await rsa.reload();
        assert.equal(rsa.signingKey.kid, newKid);

        clock.advance(graceMs - 1);
        await ec.reload();
        assert.ok(ec.verificationKey(oldKid), 'still published just before the grace ends');
        assert.equal(ec.jwks().keys.length, 2);

        clock.advance(2);
        await ec.reload();
        assert.deepEqual(ec.jwks().keys.map((key) => key.kid), [newKid]);
        assert.equal(ec.verificationKey(oldKid), undefined);
        assert.deepEqual(ec.algorithms(), ['ES256']);
        assert.equal(ec.signingKey.kid, newKid);

        const again = await openRing(db, 'ES256', clock);
        assert.equal(again.signingKey.kid, newKid, 'reopening with the same alg does not rotate');
        assert.equal((await keyRows(db)).length, 2);
      });
    });

    it('ends with exactly one active key when several rings switch alg at once', async () => {
      await withDatabase(backend, async (db) => {
        const clock = new ManualClock();
        const old = await openRing(db, 'RS256', clock);
        await warmUp(db);
        clock.advance(minute);
        const rings = await Promise.all(Array.from({ length: 5 }, () => openRing(db, 'EdDSA', clock)));
        const rows = await keyRows(db);
        const active = rows.filter((row) => row.status === 'active');
        assert.equal(active.length, 1, 'exactly one active key');
        assert.equal(active[0]?.alg, 'EdDSA');
        assert.deepEqual(
          rows.map((row) => [row.kid, row.status]),
          [
            [old.signingKey.kid, 'retired'],
            [active[0]?.kid, 'active'],
          ],
        );
        for (const ring of rings) assert.equal(ring.signingKey.kid, active[0]?.kid);
      });
    });

    it('keeps a key sealed before the public-key binding working, and re-seals it with the binding', async () => {
      await withDatabase(backend, async (db) => {
        const sealer = createSealer(testSecret, 'signing-keys');
        const legacy = await legacyRecord('ES256');
        assert.equal(await sqlStores(db).signingKeys.insertActiveIfNone(legacy), true);
        const ring = await openRing(db, 'ES256');
        assert.equal(ring.signingKey.kid, legacy.kid, 'the stored key, not a new one');
        assert.deepEqual(ring.jwks().keys, [legacy.publicJwk]);
        await assertSignsVerifiably(ring);
        const [row] = await keyRows(db);
        assert.notEqual(row?.private_key_sealed, legacy.privateKeySealed, 're-sealed');
        assert.match(sealer.open(row!.private_key_sealed, signingKeyBinding(legacy.kid, 'ES256', legacy.publicJwk)), /^-----BEGIN PRIVATE KEY-----/);
        assert.equal((await openRing(db, 'ES256')).signingKey.kid, legacy.kid, 'and opens again after the upgrade');
      });
    });

    it('leaves out, and logs once as an error, a published row whose private key does not back it', async () => {
      await withDatabase(backend, async (db) => {
        const errors: Array<Record<string, unknown>> = [];
        const logger = { error: (fields: Record<string, unknown>) => errors.push(fields), warn: () => undefined } as unknown as Logger;
        const ring = await KeyRing.open({ stores: sqlStores(db), sealer: createSealer(testSecret, 'signing-keys'), alg: 'EdDSA', clock: new ManualClock(), retiredKeyGraceMs: graceMs, logger });
        const forged = { ...(await legacyRecord('EdDSA')), status: 'next' as const, privateKeySealed: 'not a sealed key' };
        await db.query(
          `INSERT INTO signing_keys (kid, alg, public_jwk, private_key_sealed, status, created_at) VALUES ($1, $2, ($3::text)::jsonb, $4, 'next', now())`,
          [forged.kid, forged.alg, JSON.stringify(forged.publicJwk), forged.privateKeySealed],
        );
        await ring.reload();
        await ring.reload();
        assert.deepEqual(ring.jwks().keys.map((key) => key.kid), [ring.signingKey.kid]);
        assert.equal(ring.verificationKey(forged.kid), undefined);
        assert.deepEqual(errors, [{ kid: forged.kid, status: 'next', reason: 'unopenable' }]);
        assert.ok(!JSON.stringify(errors).includes('not a sealed key'), 'the stored value is not logged');
      });
    });

    it("refuses to start when the active key's row was changed outside Tessera", async () => {
      const attacker = await generateSigningKey('ES256');
      const cases: Array<{ name: string; change: (record: SigningKeyRecord) => SigningKeyRecord; error: new (...args: never[]) => Error }> = [
        { name: 'legacy seal, public key swapped', change: (r) => ({ ...r, publicJwk: { ...attacker.publicJwk, kid: r.kid } }), error: KeyIntegrityError },
        { name: 'legacy seal, a private member added', change: (r) => ({ ...r, publicJwk: { ...r.publicJwk, d: 'AAAA' } as PublicJwk }), error: KeyIntegrityError },
        { name: 'legacy seal, alg of another key type', change: (r) => ({ ...r, alg: 'RS256', publicJwk: { ...r.publicJwk, alg: 'RS256' } }), error: KeyIntegrityError },
        { name: 'no private key', change: (r) => ({ ...r, privateKeySealed: '' }), error: KeyDecryptionError },
      ];
      for (const testCase of cases) {
        await withDatabase(backend, async (db) => {
          assert.equal(await sqlStores(db).signingKeys.insertActiveIfNone(testCase.change(await legacyRecord('ES256'))), true);
          await assert.rejects(openRing(db, 'ES256'), testCase.error, testCase.name);
        });
      }
    });

    it('refuses to open with a sealer of another secret, and leaves the stored key alone', async () => {
      await withDatabase(backend, async (db) => {
        const ring = await openRing(db, 'EdDSA');
        await assert.rejects(openRing(db, 'EdDSA', new ManualClock(), 'another-secret-another-secret-another-secret'), (error: unknown) => {
          assert.ok(error instanceof KeyDecryptionError, `expected KeyDecryptionError, got ${String(error)}`);
          assert.ok(error.message.includes(ring.signingKey.kid));
          return true;
        });
        await assert.rejects(
          KeyRing.open({
            stores: sqlStores(db),
            sealer: createSealer(testSecret, 'refresh-tokens'),
            alg: 'EdDSA',
            clock: new ManualClock(),
            retiredKeyGraceMs: graceMs,
          }),
          KeyDecryptionError,
        );
        const rows = await keyRows(db);
        assert.deepEqual(
          rows.map((row) => [row.kid, row.status]),
          [[ring.signingKey.kid, 'active']],
        );
      });
    });
  });
}
