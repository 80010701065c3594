import assert from 'node:assert/strict';
import { randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createUser, signIn, startTestApp, type SignedIn, type TestApp } from '../test-support/app.js';
import { testSecret } from '../test-support/config.js';
import { testBackends } from '../test-support/databases.js';
import { assertApiError, decodeSegment, get, me, signJws, verifyGet } from '../test-support/tokens.js';
import { generateSigningKey, type GeneratedKey } from './generate.js';
import { signingKeyBinding, sealSigningKey } from './integrity.js';
import { KeyDecryptionError } from './key-ring.js';
import { createSealer } from './sealer.js';
import type { PublicJwk } from './signing-key.js';

/*
 * Issue 10 finding 10: someone who can write to the database but does not hold TESSERA_SECRET
 * inserts or edits a signing-key row to make a token they signed verify. Every such row is
 * refused: not in JWKS, not used to verify, whatever its status.
 */

const sealer = createSealer(testSecret, 'signing-keys');
const pemOf = (key: KeyObject) => key.export({ format: 'pem', type: 'pkcs8' }).toString();

for (const backend of testBackends()) {
  describe(`signing-key rows written outside Tessera (${backend.name})`, () => {
    let t: TestApp;
    let victim: SignedIn;
    let attacker: GeneratedKey;
    let other: GeneratedKey;
    let realSealed: string;

    before(async () => {
      // EdDSA: one signature per message, so a forged token never fails for an unrelated reason (high-s).
      t = await startTestApp(backend, { env: { TESSERA_SIGNING_ALG: 'EdDSA' } });
      await createUser(t, 'key-victim');
      victim = await signIn(t, 'key-victim');
      [attacker, other] = await Promise.all([generateSigningKey('EdDSA'), generateSigningKey('EdDSA')]);
      const [row] = await t.db.query<{ private_key_sealed: string }>(`SELECT private_key_sealed FROM signing_keys WHERE status = 'active'`);
      realSealed = row!.private_key_sealed;
    });
    after(() => t?.close());

    async function insertKey(kid: string, publicJwk: PublicJwk, sealed: string, status: 'next' | 'retired'): Promise<void> {
      await t.db.query(
        `INSERT INTO signing_keys (kid, alg, public_jwk, private_key_sealed, status, created_at, retired_at, publish_until)
         VALUES ($1, 'EdDSA', ($2::text)::jsonb, $3, $4, $5, $6, $7)`,
        [kid, JSON.stringify(publicJwk), sealed, status, new Date(t.clock.now()), status === 'retired' ? new Date(t.clock.now()) : null, status === 'retired' ? new Date(t.clock.now() + 3_600_000) : null],
      );
    }

    const publishedKids = async () => ((await get(t, '/.well-known/jwks.json')).json() as { keys: PublicJwk[] }).keys.map((key) => key.kid);

    /** The victim's own token, made an admin's and signed with `key` under `kid`. */
    function forgeAdmin(kid: string, key: KeyObject): string {
      const payload = { ...decodeSegment(victim.access_token, 1), roles: ['admin'], jti: randomUUID() };
      return signJws({ alg: 'EdDSA', kid, typ: 'at+jwt' }, payload, key);
    }

    async function assertRefused(token: string, label: string): Promise<void> {
      assertApiError(await me(t, token), 401, 'invalid_token', `${label}: GET /auth/me`);
      assertApiError(await verifyGet(t, token), 401, 'invalid_token', `${label}: GET /auth/verify`);
    }

    const inserted: Array<{ name: string; sealed: () => string }> = [
      { name: 'no private key', sealed: () => '' },
      { name: 'garbage for a private key', sealed: () => `v1.${randomBytes(12).toString('base64url')}.${randomBytes(64).toString('base64url')}` },
      { name: "the real key's seal, copied", sealed: () => realSealed },
      { name: 'a valid seal of a different key, kid as associated data (as before the binding)', sealed: () => sealer.seal(pemOf(other.privateKey), attacker.kid) },
      { name: "a valid seal of a different key, bound to the attacker's public key", sealed: () => sealer.seal(pemOf(other.privateKey), signingKeyBinding(attacker.kid, 'EdDSA', attacker.publicJwk)) },
    ];
    for (const testCase of inserted) {
      for (const status of ['next', 'retired'] as const) {
        it(`refuses an inserted ${status} key with ${testCase.name}`, async () => {
          await insertKey(attacker.kid, attacker.publicJwk, testCase.sealed(), status);
          try {
            await t.tessera.keyRing.reload();
            await assertRefused(forgeAdmin(attacker.kid, attacker.privateKey), testCase.name);
            assert.deepEqual(await publishedKids(), [t.tessera.keyRing.signingKey.kid], 'JWKS lists our key only');
            assert.equal((await me(t, victim.access_token)).statusCode, 200, 'real tokens still verify');
          } finally {
            await t.db.query('DELETE FROM signing_keys WHERE kid = $1', [attacker.kid]);
          }
        });
      }
    }

    it("refuses a real retired key once its public key is swapped for the attacker's", async () => {
      const retired = await generateSigningKey('EdDSA');
      await insertKey(retired.kid, retired.publicJwk, sealSigningKey(sealer, retired.privateKey, { kid: retired.kid, alg: 'EdDSA', publicJwk: retired.publicJwk }), 'retired');
      try {
        await t.tessera.keyRing.reload();
        assert.ok((await publishedKids()).includes(retired.kid), 'a genuine retired key is published');
        await t.db.query(`UPDATE signing_keys SET public_jwk = ($2::text)::jsonb WHERE kid = $1`, [retired.kid, JSON.stringify({ ...attacker.publicJwk, kid: retired.kid })]);
        await t.tessera.keyRing.reload();
        assert.deepEqual(await publishedKids(), [t.tessera.keyRing.signingKey.kid]);
        await assertRefused(forgeAdmin(retired.kid, attacker.privateKey), 'swapped retired key');
      } finally {
        await t.db.query('DELETE FROM signing_keys WHERE kid = $1', [retired.kid]);
      }
    });

    it("keeps the active key's real public key when its row is swapped, and says so", async () => {
      const kid = t.tessera.keyRing.signingKey.kid;
      const [row] = await t.db.query<{ public_jwk: PublicJwk }>('SELECT public_jwk FROM signing_keys WHERE kid = $1', [kid]);
      await t.db.query(`UPDATE signing_keys SET public_jwk = ($2::text)::jsonb WHERE kid = $1`, [kid, JSON.stringify({ ...attacker.publicJwk, kid })]);
      try {
        // The seal binds the public key, so the swapped row's seal no longer opens at all.
        await assert.rejects(t.tessera.keyRing.reload(), KeyDecryptionError);
        const jwks = (await get(t, '/.well-known/jwks.json')).json() as { keys: PublicJwk[] };
        assert.deepEqual(jwks.keys, [row!.public_jwk], 'JWKS still publishes the real public key');
        await assertRefused(forgeAdmin(kid, attacker.privateKey), 'swapped active key');
        assert.equal((await me(t, victim.access_token)).statusCode, 200, 'real tokens still verify');
      } finally {
        await t.db.query(`UPDATE signing_keys SET public_jwk = ($2::text)::jsonb WHERE kid = $1`, [kid, JSON.stringify(row!.public_jwk)]);
      }
    });
  });
}
