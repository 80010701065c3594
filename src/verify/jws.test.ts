import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { isHighS, jwsAlgorithms, keyFitsAlgorithm, toLowS, type JwsAlgorithm } from './algorithms.js';
import { createVerificationKey, verifyJws, verifyJwsOffThread } from './jws.js';

const pairs = {
  rsa: generateKeyPairSync('rsa', { modulusLength: 2048 }),
  small: generateKeyPairSync('rsa', { modulusLength: 1024 }),
  p256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  p384: generateKeyPairSync('ec', { namedCurve: 'P-384' }),
  ed25519: generateKeyPairSync('ed25519'),
};
const keyOf: Record<JwsAlgorithm, KeyObject> = { RS256: pairs.rsa.privateKey, PS256: pairs.rsa.privateKey, ES256: pairs.p256.privateKey, EdDSA: pairs.ed25519.privateKey };

describe('verification core: compact JWS', () => {
  for (const alg of jwsAlgorithms) {
    it(`verifies ${alg} tokens that jose signed, on both paths, and refuses them under another key`, async () => {
      const key = createVerificationKey(alg, createPublicKey(keyOf[alg]));
      const signed = await new SignJWT({ sub: 'u1', n: [1, 2] }).setProtectedHeader({ alg, kid: 'k1', typ: 'at+jwt' }).sign(keyOf[alg]);
      const [h, p, s] = signed.split('.') as [string, string, string];
      // jose's ECDSA signatures have a high s half the time: we refuse those and accept their low-s twin.
      const high = alg === 'ES256' && isHighS(Buffer.from(s, 'base64url'));
      if (high) assert.deepEqual(verifyJws(signed, () => key), { ok: false, reason: 'bad_signature', detail: 'high-s ECDSA signature' });
      const token = high ? `${h}.${p}.${toLowS(Buffer.from(s, 'base64url')).toString('base64url')}` : signed;
      const result = verifyJws(token, (kid) => (kid === 'k1' ? key : undefined));
      assert.deepEqual(result, { ok: true, header: { alg, kid: 'k1', typ: 'at+jwt' }, payload: { sub: 'u1', n: [1, 2] }, key });
      assert.deepEqual(await verifyJwsOffThread(token, () => key), result);
      const other = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('rsa', { modulusLength: 2048 });
      const stranger = createVerificationKey(alg, other.publicKey);
      assert.deepEqual(verifyJws(token, () => stranger), { ok: false, reason: 'bad_signature', detail: 'bad signature' });
      assert.deepEqual(await verifyJwsOffThread(token, () => stranger), { ok: false, reason: 'bad_signature', detail: 'bad signature' });
    });
  }

  it('asks the key lookup for the kid only, and never with a kid from anywhere else', async () => {
    const asked: string[] = [];
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: 'the-kid', jku: 'https://evil.example/jwks' }).sign(keyOf.RS256);
    assert.equal(verifyJws(token, (kid) => (asked.push(kid), undefined)).ok, false);
    assert.equal(asked.length, 0, 'a refused header member is refused before any lookup');
    const plain = await new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: 'the-kid' }).sign(keyOf.RS256);
    assert.deepEqual(verifyJws(plain, (kid) => (asked.push(kid), undefined)), { ok: false, reason: 'unknown_kid', detail: 'unknown kid' });
    assert.deepEqual(asked, ['the-kid']);
  });

  it('takes a key only with an algorithm it fits (RFC 8725 §3.1)', () => {
    const fits: [JwsAlgorithm, KeyObject, boolean][] = [
      ['RS256', pairs.rsa.publicKey, true],
      ['PS256', pairs.rsa.publicKey, true],
      ['RS256', pairs.small.publicKey, false],
      ['RS256', pairs.p256.publicKey, false],
      ['ES256', pairs.p256.publicKey, true],
      ['ES256', pairs.p384.publicKey, false],
      ['ES256', pairs.rsa.publicKey, false],
      ['EdDSA', pairs.ed25519.publicKey, true],
      ['EdDSA', pairs.p256.publicKey, false],
    ];
    for (const [alg, key, ok] of fits) {
      assert.equal(keyFitsAlgorithm(alg, key), ok, `${alg} with ${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? key.asymmetricKeyDetails?.modulusLength}`);
      if (ok) assert.ok(Object.isFrozen(createVerificationKey(alg, key)));
      else assert.throws(() => createVerificationKey(alg, key), TypeError);
    }
    assert.throws(() => createVerificationKey('RS256', pairs.rsa.privateKey), TypeError, 'a private key is not a verification key');
    assert.throws(() => createVerificationKey('HS256' as JwsAlgorithm, pairs.rsa.publicKey), TypeError);
  });
});
