import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import { createVerifier } from 'fast-jwt';
import { jwtVerify } from 'jose';
import type { SigningAlg } from '../config/schema.js';
import { signCompactJws } from './jws.js';

function keyPair(alg: SigningAlg): KeyObject {
  if (alg === 'ES256') return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  if (alg === 'EdDSA') return generateKeyPairSync('ed25519').privateKey;
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
}

describe('compact JWS signing', () => {
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
