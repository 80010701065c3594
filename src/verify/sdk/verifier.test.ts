import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createUser, signIn, startTestApp, type TestApp } from '../../test-support/app.js';
import { testBackends } from '../../test-support/databases.js';
import { decodeSegment, serverKeys, signJws, unsigned, type ServerKeys } from '../../test-support/tokens.js';
import { VerifyError, type Verifier, type VerifyErrorCode } from './index.js';
import { sdkEntries } from './test-entries.js';

/*
 * The SDK against a running Tessera over real HTTP: its JWKS at /.well-known/jwks.json, its real
 * access tokens, and tokens forged with its own signing key. Every fetch the SDK makes goes
 * through the global fetch, which this file counts.
 */

const fetched: string[] = [];
const realFetch = globalThis.fetch;

async function refusal(promise: Promise<unknown>, code: VerifyErrorCode, token: unknown, label: string): Promise<VerifyError> {
  const error = await promise.then(
    () => assert.fail(`${label}: accepted`),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof VerifyError, `${label}: ${String(error)}`);
  assert.equal(error.code, code, `${label}: ${error.code} (${error.reason}) ${error.message}`);
  if (typeof token === 'string' && token.length > 0) {
    for (const part of token.split('.').filter((part) => part.length > 8)) {
      assert.ok(!error.message.includes(part), `${label}: the message carries the token`);
      assert.ok(!JSON.stringify(error).includes(part), `${label}: the error carries the token`);
    }
  }
  return error;
}

for (const { entry, createVerifier } of sdkEntries) {
  for (const backend of testBackends()) {
    describe(`tessera/verify against a running Tessera (${backend.name}) [${entry}]`, () => {
      let t: TestApp;
      let jwksUri: string;
      let keys: ServerKeys;
      let token: string;
      let userId: string;
      /** A server a token's jku, x5u or jwk would have the SDK fetch from: it must never be asked anything. */
      let lure: Server;
      let lureUrl: string;
      let lureRequests = 0;
      const verifierClock = { ms: 0, now: () => verifierClock.ms };

      before(async () => {
        globalThis.fetch = (input, init) => {
          fetched.push(String(input instanceof Request ? input.url : input));
          return realFetch(input, init);
        };
        t = await startTestApp(backend);
        await t.app.listen({ host: '127.0.0.1', port: 0 });
        jwksUri = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/.well-known/jwks.json`;
        userId = await createUser(t, 'sdk-alice', { permissions: ['orders:read', 'orders:write'] });
        token = (await signIn(t, 'sdk-alice')).access_token;
        keys = await serverKeys(t);
        lure = createServer((_request, response) => {
          lureRequests += 1;
          response.end('{"keys":[]}');
        });
        lure.listen(0, '127.0.0.1');
        await once(lure, 'listening');
        lureUrl = `http://127.0.0.1:${(lure.address() as AddressInfo).port}/jwks.json`;
      });

      after(async () => {
        globalThis.fetch = realFetch;
        lure.close();
        await t.close();
      });

      function verifier(overrides: Partial<Parameters<typeof createVerifier>[0]> = {}): Verifier {
        return createVerifier({ issuer: t.config.issuer, audience: t.config.audience, jwksUri, clock: t.clock, ...overrides });
      }

      it('verifies a real access token and returns its claims, checking the permissions asked for', async () => {
        const before = fetched.length;
        const sdk = verifier();
        const claims = await sdk.verify(token);
        assert.equal(claims.sub, userId);
        assert.equal(claims.iss, t.config.issuer);
        assert.deepEqual(claims.permissions.sort(), ['orders:read', 'orders:write']);
        assert.deepEqual(await sdk.verify(token, { permissions: ['orders:read'] }), claims);
        assert.deepEqual(fetched.slice(before), [jwksUri], 'one fetch, of the jwksUri');
        const missing = await refusal(sdk.verify(token, { permissions: ['orders:read', 'admin:all'] }), 'insufficient_permissions', token, 'missing permission');
        assert.ok(!missing.message.includes('admin:all'));
        await refusal(sdk.verify(token, { permissions: 'orders:read' as unknown as string[] }), 'invalid_options', token, 'permissions not a list');
        assert.equal(fetched.length, before + 1, 'later verifications use the cached key set');
      });

      it('refuses an expired token as token_expired, after the leeway', async () => {
        const exp = decodeSegment(token, 1).exp as number;
        verifierClock.ms = exp * 1000 + 29_000;
        const sdk = verifier({ clock: verifierClock });
        assert.equal((await sdk.verify(token)).sub, userId, 'within the 30 s leeway');
        verifierClock.ms = exp * 1000 + 30_000;
        const error = await refusal(sdk.verify(token), 'token_expired', token, 'expired');
        assert.equal(error.reason, 'expired');
        verifierClock.ms = exp * 1000 + 5_000;
        await refusal(verifier({ clock: verifierClock, clockTolerance: 0 }).verify(token), 'token_expired', token, 'no leeway');
      });

      it('refuses another issuer or audience', async () => {
        assert.equal((await refusal(verifier({ issuer: 'https://other.example' }).verify(token), 'invalid_token', token, 'iss')).reason, 'wrong_issuer');
        assert.equal((await refusal(verifier({ audience: 'billing' }).verify(token), 'invalid_token', token, 'aud')).reason, 'wrong_audience');
      });

      it('refuses forged, unsigned, mistyped, oversized and garbage tokens as invalid_token', async () => {
        const sdk = verifier();
        const payload = decodeSegment(token, 1);
        const [header, body, signature] = token.split('.') as [string, string, string];
        const tampered = `${header}.${Buffer.from(JSON.stringify({ ...payload, permissions: ['admin:all'] })).toString('base64url')}.${signature}`;
        const cases: [string, unknown, string][] = [
          ['forged signature', tampered, 'bad_signature'],
          ['signature of another key', signJws(keys.header, payload, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey), 'bad_signature'],
          ['alg none', unsigned(keys.header, payload), 'malformed'],
          ['alg none with a signature segment', `${unsigned(keys.header, payload)}AAAA`, 'unsupported_alg'],
          ['typ JWT', signJws({ ...keys.header, typ: 'JWT' }, payload, keys.privateKey), 'wrong_type'],
          ['no typ', signJws({ alg: keys.alg, kid: keys.kid }, payload, keys.privateKey), 'wrong_type'],
          ['no exp', signJws(keys.header, { ...payload, exp: undefined }, keys.privateKey), 'missing_claim'],
          ['larger than 8 KiB', signJws(keys.header, { ...payload, padding: 'x'.repeat(8192) }, keys.privateKey), 'too_large'],
          ['garbage', 'not a token at all', 'malformed'],
          ['empty', '', 'malformed'],
          ['not a string', 42, 'too_large'],
          ['two segments', `${header}.${body}`, 'malformed'],
        ];
        for (const [label, candidate, reason] of cases) {
          const error = await refusal(sdk.verify(candidate as string), 'invalid_token', candidate, label);
          assert.equal(error.reason, reason, label);
        }
      });

      it('never fetches a key named or carried by the token (jku, x5u, jwk), even with an unknown kid', async () => {
        const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
        const payload = decodeSegment(token, 1);
        const sdk = verifier();
        await sdk.verify(token);
        const before = fetched.length;
        const base = { alg: 'RS256', typ: 'at+jwt', kid: 'attacker-kid' };
        const headers = [
          { ...base, jku: lureUrl },
          { ...base, x5u: lureUrl },
          { ...base, jwk: attacker.publicKey.export({ format: 'jwk' }) },
          { ...base, kid: keys.kid, jku: lureUrl },
        ];
        for (const header of headers) {
          const forged = signJws(header, payload, attacker.privateKey);
          assert.equal((await refusal(sdk.verify(forged), 'invalid_token', forged, JSON.stringify(Object.keys(header)))).reason, 'forbidden_header');
        }
        assert.equal(lureRequests, 0, 'the URL in the token was never fetched');
        assert.deepEqual(fetched.slice(before), [], 'nothing fetched at all');
      });

      it('follows a key rotation: a new kid triggers one refetch, another unknown kid within 30 s none', async () => {
        // The verifier's clock stays near the start while Tessera's jumps to the new key's activation
        // (publish before sign); the leeway covers the gap, so the new key's tokens verify.
        verifierClock.ms = t.clock.now();
        const sdk = verifier({ clock: verifierClock, clockTolerance: 3600 });
        await sdk.verify(token);
        const before = fetched.length;
        const rotated = await t.tessera.keyRotation.rotate('sdk-test');
        const signingClockBefore = t.clock.now();
        t.clock.set(rotated.activatesAt);
        const fresh = (await signIn(t, 'sdk-alice')).access_token;
        t.clock.set(signingClockBefore);
        assert.equal(decodeSegment(fresh, 0).kid, rotated.kid);

        verifierClock.ms += 29_000;
        assert.equal((await refusal(sdk.verify(fresh), 'invalid_token', fresh, 'new kid within 30 s of the first fetch')).reason, 'unknown_kid');
        assert.equal(fetched.length, before, 'the cool-down holds from the first fetch');
        verifierClock.ms += 1_000;
        assert.equal((await sdk.verify(fresh)).sub, userId, 'the new key is fetched');
        assert.equal(fetched.length, before + 1);
        assert.equal((await sdk.verify(token)).sub, userId, 'the old key is still published');

        const stranger = signJws({ ...keys.header, kid: 'never-published' }, decodeSegment(token, 1), keys.privateKey);
        verifierClock.ms += 29_000;
        assert.equal((await refusal(sdk.verify(stranger), 'invalid_token', stranger, 'unknown kid in the cool-down')).reason, 'unknown_kid');
        assert.equal(fetched.length, before + 1, 'no fetch within 30 s of the last');
        verifierClock.ms += 1_000;
        await refusal(sdk.verify(stranger), 'invalid_token', stranger, 'unknown kid after the cool-down');
        assert.equal(fetched.length, before + 2, 'one fetch once the cool-down has passed');
      });
    });
  }
}
