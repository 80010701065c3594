import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { ManualClock } from '../../clock.js';
import { signJws } from '../../test-support/tokens.js';
import { VerifyError } from './index.js';
import { sdkEntries } from './test-entries.js';

/*
 * The verified-token cache of tessera/verify: a token presented again is answered from memory,
 * but never past its exp, never without the permissions asked for, and never once the verifier
 * was built without a cache. (That the revocation check still runs on a hit is revocation-stream.test.ts's.)
 */

const issuer = 'https://auth.example';
const audience = 'orders';
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const keys = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'EdDSA' }] };

function token(clock: ManualClock, claims: Record<string, unknown> = {}): string {
  const iat = Math.floor(clock.now() / 1000);
  return signJws(
    { alg: 'EdDSA', kid: 'k1', typ: 'at+jwt' },
    { iss: issuer, aud: audience, sub: 'u1', client_id: 'tessera', iat, nbf: iat, exp: iat + 60, jti: `j-${Math.random()}`, sid: 's1', roles: [], permissions: ['orders:read'], amr: ['pwd'], ...claims },
    privateKey,
  );
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'accepted',
    (error: unknown) => (error instanceof VerifyError ? error.code : `untyped: ${String(error)}`),
  );
}

for (const { entry, createVerifier } of sdkEntries) {
  describe(`tessera/verify: the verified-token cache [${entry}]`, () => {
    it('answers a repeated token with the same claims, and still checks expiry and permissions', async () => {
      const clock = new ManualClock(Date.UTC(2030, 0, 1));
      const verifier = createVerifier({ issuer, audience, keys, clock });
      const presented = token(clock);
      const first = await verifier.verify(presented);
      assert.equal(await verifier.verify(presented), first, 'the very claims object: from the cache');
      assert.equal(await codeOf(verifier.verify(presented, { permissions: ['orders:write'] })), 'insufficient_permissions', 'a hit still checks permissions');
      clock.advance(60_000 + 29_000);
      assert.equal(await codeOf(verifier.verify(presented)), 'accepted', 'within the leeway');
      clock.advance(2_000);
      assert.equal(await codeOf(verifier.verify(presented)), 'token_expired', 'a cached token expires as any other');
    });

    it('with cacheSize 0 verifies every time', async () => {
      const clock = new ManualClock(Date.UTC(2030, 0, 1));
      const verifier = createVerifier({ issuer, audience, keys, clock, cacheSize: 0 });
      const presented = token(clock);
      assert.notEqual(await verifier.verify(presented), await verifier.verify(presented), 'fresh claims each time');
      assert.throws(() => createVerifier({ issuer, audience, keys, clock, cacheSize: -1 }), (error: unknown) => error instanceof VerifyError && error.code === 'invalid_options');
    });

    it('never caches a refusal, nor lets a cached token stand for a tampered one', async () => {
      const clock = new ManualClock(Date.UTC(2030, 0, 1));
      const verifier = createVerifier({ issuer, audience, keys, clock });
      const presented = token(clock);
      await verifier.verify(presented);
      const [h, p, s] = presented.split('.') as [string, string, string];
      const tampered = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'admin' })).toString('base64url')}.${s}`;
      assert.equal(await codeOf(verifier.verify(tampered)), 'invalid_token');
      assert.equal(await codeOf(verifier.verify(tampered)), 'invalid_token', 'refused again, not remembered as good');
    });
  });
}
