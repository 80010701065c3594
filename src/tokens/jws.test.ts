import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import { createVerifier } from 'fast-jwt';
import { jwtVerify } from 'jose';
import type { SigningAlg } from '../config/schema.js';
import { createVerificationKey, verifyJws, verifyJwsOffThread } from '../verify/jws.js';
import { signCompactJws } from './jws.js';

function keyPair(alg: SigningAlg): KeyObject {
  if (alg === 'ES256') return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  if (alg === 'EdDSA') return generateKeyPairSync('ed25519').privateKey;
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
}

describe('compact JWS signing', () => {
  it('issues ES256 signatures with a low s only, and refuses the high-s twin', async () => {
    const privateKey = keyPair('ES256');
    const publicKey = createPublicKey(privateKey);
    const key = createVerificationKey('ES256', publicKey);
    const n = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
    for (let i = 0; i < 20; i += 1) {
      const token = await signCompactJws({ alg: 'ES256', kid: 'k', typ: 'at+jwt' }, { i }, privateKey);
      const [h, p, sig] = token.split('.') as [string, string, string];
      const bytes = Buffer.from(sig, 'base64url');
      const s = BigInt(`0x${bytes.subarray(32).toString('hex')}`);
      assert.ok(s <= n >> 1n, 'low s');
      const verified = await verifyJwsOffThread(token, () => key);
      assert.deepEqual(verified.ok && verified.payload, { i });
      assert.deepEqual(verifyJws(token, () => key), verified, 'the synchronous path agrees');
      const twin = Buffer.concat([bytes.subarray(0, 32), Buffer.from((n - s).toString(16).padStart(64, '0'), 'hex')]);
      await assert.doesNotReject(jwtVerify(`${h}.${p}.${twin.toString('base64url')}`, publicKey), 'the twin is a valid ECDSA signature');
      assert.deepEqual(verifyJws(`${h}.${p}.${twin.toString('base64url')}`, () => key), { ok: false, reason: 'bad_signature', detail: 'high-s ECDSA signature' });
    }
  });

  for (const alg of ['RS256', 'PS256', 'ES256', 'EdDSA'] as const) {
    it(`produces ${alg} tokens that jose and fast-jwt both verify`, async () => {
      const privateKey = keyPair(alg);
      const publicKey = createPublicKey(privateKey);
      const now = Math.floor(Date.now() / 1000);
      const token = await signCompactJws({ alg, kid: 'k1', typ: 'at+jwt' }, { sub: 'u1', iat: now, exp: now + 60 }, privateKey);
      const { payload, protectedHeader } = await jwtVerify(token, publicKey, { algorithms: [alg], typ: 'at+jwt' });
      assert.equal(payload.sub, 'u1');
      assert.deepEqual(protectedHeader, { alg, kid: 'k1', typ: 'at+jwt' });
      const independent = createVerifier({
        key: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
        algorithms: [alg],
      });
      assert.equal(independent(token).sub, 'u1');
      // Tampering with the payload breaks the signature.
      const [h, , s] = token.split('.');
      const forged = `${h}.${Buffer.from(JSON.stringify({ sub: 'admin', iat: now, exp: now + 60 })).toString('base64url')}.${s}`;
      await assert.rejects(jwtVerify(forged, publicKey, { algorithms: [alg] }));
    });
  }
});
