import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { VerifyError, type Verifier, type VerifierOptions, type VerifyErrorCode } from './index.js';
import { sdkEntries } from './test-entries.js';

/*
 * The fetching key set against a JWKS server this file controls on 127.0.0.1: what it answers
 * (huge, slow, malformed, private, symmetric, duplicated), its Cache-Control, and how many
 * requests it gets. Time is a fake clock; only the slow answer waits, for 150 ms.
 */

const issuer = 'https://issuer.test';
const audience = 'orders';

interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  jwk: JsonWebKey;
}

function ed25519Key(kid: string): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { kid, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'EdDSA', use: 'sig' } };
}

const b64json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function mint(key: SigningKey, nowMs: number, extra: Record<string, unknown> = {}): string {
  const iat = Math.floor(nowMs / 1000);
  const payload = { iss: issuer, aud: audience, sub: 'user-1', client_id: 'tessera', iat, nbf: iat, exp: iat + 900, jti: `j-${Math.random()}`, sid: 's-1', roles: [], permissions: ['orders:read'], amr: ['pwd'], ...extra };
  const input = `${b64json({ alg: 'EdDSA', kid: key.kid, typ: 'at+jwt' })}.${b64json(payload)}`;
  return `${input}.${sign(null, Buffer.from(input), key.privateKey).toString('base64url')}`;
}

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

function serve(body: unknown, headers: Record<string, string> = {}): Handler {
  return (_request, response) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
    response.end(text);
  };
}

async function refusal(promise: Promise<unknown>, code: VerifyErrorCode, label: string): Promise<VerifyError> {
  const error = await promise.then(
    () => assert.fail(`${label}: accepted`),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof VerifyError, `${label}: ${String(error)}`);
  assert.equal(error.code, code, `${label}: ${error.code} ${error.message}`);
  return error;
}

for (const { entry, createVerifier } of sdkEntries) {
  describe(`tessera/verify: the fetched key set [${entry}]`, () => {
    let server: Server;
    let uri: string;
    let handler: Handler;
    let requests = 0;
    const clock = { ms: Date.UTC(2030, 0, 1), now: () => clock.ms };
    const first = ed25519Key('k1');
    const second = ed25519Key('k2');

    before(async () => {
      server = createServer((request, response) => {
        requests += 1;
        handler(request, response);
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
    });

    after(() => {
      server.closeAllConnections();
      server.close();
    });

    beforeEach(() => {
      requests = 0;
      handler = serve({ keys: [first.jwk] });
    });

    function verifier(options: Partial<VerifierOptions> = {}): Verifier {
      return createVerifier({ issuer, audience, jwksUri: uri, clock, ...options });
    }

    const bad: [string, Handler][] = [
      ['a body over 1 MiB with its length', serve({ keys: [first.jwk], padding: 'x'.repeat(1024 * 1024) })],
      [
        'a body over 1 MiB streamed without a length',
        (_request, response) => {
          response.writeHead(200, { 'content-type': 'application/json' });
          const chunk = 'x'.repeat(64 * 1024);
          response.write(`{"keys":[],"padding":"`);
          for (let i = 0; i < 17; i += 1) response.write(chunk);
          response.end('"}');
        },
      ],
      ['malformed JSON', serve('{"keys": [')],
      ['JSON that is no key set', serve({ hello: 'world' })],
      ['a 500', (_request, response) => response.writeHead(500).end(JSON.stringify({ keys: [first.jwk] }))],
      ['a redirect', (_request, response) => response.writeHead(302, { location: 'http://127.0.0.1:1/jwks.json' }).end()],
      ['a private member', serve({ keys: [{ ...generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }), kid: 'k1', alg: 'EdDSA' }] })],
      ['an RSA private key', serve({ keys: [{ ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256' }] })],
      ['an oct key', serve({ keys: [first.jwk, { kty: 'oct', kid: 'h', alg: 'HS256', k: 'c2VjcmV0' }] })],
      ['duplicate kids', serve({ keys: [first.jwk, { ...second.jwk, kid: 'k1' }] })],
      ['a key without kid', serve({ keys: [{ ...first.jwk, kid: undefined }] })],
      ['an unsupported alg', serve({ keys: [{ ...first.jwk, alg: 'HS256' }] })],
      ['an alg the key cannot do', serve({ keys: [{ ...first.jwk, alg: 'ES256' }] })],
      ['an encryption key', serve({ keys: [{ ...first.jwk, use: 'enc' }] })],
      ['an RSA key under 2048 bits', serve({ keys: [{ ...generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256' }] })],
    ];

    for (const [label, answer] of bad) {
      it(`a first fetch that answers ${label} is jwks_unavailable; after it, the last good set is kept`, async () => {
        handler = answer;
        const token = mint(first, clock.ms);
        const error = await refusal(verifier().verify(token), 'jwks_unavailable', label);
        assert.ok(!error.message.includes(token.split('.')[1]!), 'no token in the message');
        assert.ok(!/"d"|"k":|c2VjcmV0/.test(error.message), `no key material in the message: ${error.message}`);

        handler = serve({ keys: [first.jwk] });
        const sdk = verifier();
        await sdk.verify(token);
        handler = answer;
        clock.ms += 10 * 60_000;
        const later = mint(first, clock.ms);
        assert.equal((await sdk.verify(later)).sub, 'user-1', 'served from the last good set');
        assert.equal(requests, 3, 'the stale set was fetched again');
      });
    }

    it('a fetch slower than the timeout is jwks_unavailable, and so is an unreachable issuer', async () => {
      handler = (_request, response) => {
        setTimeout(() => serve({ keys: [first.jwk] })(_request, response), 150).unref();
      };
      await refusal(verifier({ fetchTimeoutMs: 50 }).verify(mint(first, clock.ms)), 'jwks_unavailable', 'slow headers');
      handler = (_request, response) => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.write('{"keys":');
        setTimeout(() => response.end(`[${JSON.stringify(first.jwk)}]}`), 150).unref();
      };
      await refusal(verifier({ fetchTimeoutMs: 50 }).verify(mint(first, clock.ms)), 'jwks_unavailable', 'slow body');
      await refusal(createVerifier({ issuer, audience, jwksUri: 'http://127.0.0.1:1/jwks.json', clock }).verify(mint(first, clock.ms)), 'jwks_unavailable', 'connection refused');
    });

    it('after a failed first fetch, retries only once the cool-down has passed', async () => {
      handler = serve('nope');
      const sdk = verifier();
      const token = mint(first, clock.ms);
      await refusal(sdk.verify(token), 'jwks_unavailable', 'first');
      handler = serve({ keys: [first.jwk] });
      clock.ms += 29_000;
      await refusal(sdk.verify(token), 'jwks_unavailable', 'within the cool-down');
      assert.equal(requests, 1);
      clock.ms += 1_000;
      assert.equal((await sdk.verify(token)).sub, 'user-1');
      assert.equal(requests, 2);
    });

    it('honours Cache-Control max-age, bounded to 1 min–24 h, 5 min without one', async () => {
      const cases: [string | undefined, number][] = [
        ['public, max-age=600', 600_000],
        [undefined, 300_000],
        ['max-age=1', 60_000],
        ['no-store', 60_000],
        ['no-cache, max-age=3600', 60_000],
        ['max-age=0', 60_000],
        ['max-age=31536000', 24 * 3_600_000],
      ];
      for (const [cacheControl, freshMs] of cases) {
        requests = 0;
        handler = serve({ keys: [first.jwk] }, cacheControl === undefined ? {} : { 'cache-control': cacheControl });
        const sdk = verifier({ clockTolerance: 0 });
        const start = clock.ms;
        await sdk.verify(mint(first, clock.ms));
        clock.ms = start + freshMs - 1;
        await sdk.verify(mint(first, clock.ms));
        assert.equal(requests, 1, `${cacheControl}: fresh until ${freshMs} ms`);
        clock.ms = start + freshMs;
        await sdk.verify(mint(first, clock.ms));
        assert.equal(requests, 2, `${cacheControl}: fetched again at ${freshMs} ms`);
      }
    });

    it('concurrent verifications share one fetch, first load and unknown kid alike', async () => {
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      handler = (request, response) => {
        void gate.then(() => serve({ keys: requests === 1 ? [first.jwk] : [first.jwk, second.jwk] })(request, response));
      };
      const sdk = verifier();
      const firstLoad = Array.from({ length: 20 }, () => sdk.verify(mint(first, clock.ms)));
      release();
      assert.equal((await Promise.all(firstLoad)).length, 20);
      assert.equal(requests, 1);

      clock.ms += 30_000;
      const rotated = Array.from({ length: 20 }, () => sdk.verify(mint(second, clock.ms)));
      assert.ok((await Promise.all(rotated)).every((claims) => claims.sub === 'user-1'));
      assert.equal(requests, 2, 'one refetch for twenty tokens of the new kid');
    });

    it('refetches on a rotation to a new kid once, then not again within 30 s', async () => {
      const sdk = verifier();
      await sdk.verify(mint(first, clock.ms));
      handler = serve({ keys: [first.jwk, second.jwk] });
      clock.ms += 30_000;
      assert.equal((await sdk.verify(mint(second, clock.ms))).sub, 'user-1');
      assert.equal(requests, 2);
      const third = ed25519Key('k3');
      handler = serve({ keys: [first.jwk, second.jwk, third.jwk] });
      clock.ms += 29_999;
      const error = await refusal(sdk.verify(mint(third, clock.ms)), 'invalid_token', 'third kid in the cool-down');
      assert.equal(error.reason, 'unknown_kid');
      assert.equal(requests, 2);
      clock.ms += 1;
      assert.equal((await sdk.verify(mint(third, clock.ms))).sub, 'user-1');
      assert.equal(requests, 3);
    });

    it('refuses unusable options with invalid_options, and never fetches for them', async () => {
      const cases: [string, Partial<VerifierOptions>][] = [
        ['an http: jwksUri off loopback', { jwksUri: 'http://auth.example.com/jwks.json' }],
        ['a file: jwksUri', { jwksUri: 'file:///etc/passwd' }],
        ['a jwksUri that is no URL', { jwksUri: 'not a url' }],
        ['credentials in the jwksUri', { jwksUri: 'https://user:pw@auth.example.com/jwks.json' }],
        ['both jwksUri and keys', { keys: [first.jwk] }],
        ['neither', { jwksUri: undefined }],
        ['no issuer', { issuer: '' }],
        ['an unknown algorithm', { algorithms: ['HS256' as 'RS256'] }],
        ['a negative clockTolerance', { clockTolerance: -1 }],
      ];
      for (const [label, options] of cases) {
        assert.throws(() => verifier(options), (error: unknown) => error instanceof VerifyError && error.code === 'invalid_options', label);
      }
      assert.equal(requests, 0);
    });
  });

  describe(`tessera/verify: static keys [${entry}]`, () => {
    const clock = { now: () => Date.UTC(2030, 0, 1) };
    const key = ed25519Key('k1');

    it('verifies with a JWKS document or a list of JWKs, with the algorithm from the key', async () => {
      for (const keys of [{ keys: [key.jwk] }, [key.jwk], [{ ...key.jwk, alg: undefined }]]) {
        const sdk = createVerifier({ issuer, audience, keys, clock });
        assert.equal((await sdk.verify(mint(key, clock.now()), { permissions: ['orders:read'] })).sub, 'user-1');
        const stranger = mint({ ...ed25519Key('k1'), kid: 'k1' }, clock.now());
        assert.equal((await refusal(sdk.verify(stranger), 'invalid_token', 'another key under the same kid')).reason, 'bad_signature');
      }
    });

    it('pins an RSA key without alg only when the allowed algorithms leave one', async () => {
      const rsa = { ...generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }), kid: 'r1' };
      assert.throws(() => createVerifier({ issuer, audience, keys: [rsa], clock }), /invalid_options|alg/);
      assert.doesNotThrow(() => createVerifier({ issuer, audience, keys: [rsa], clock, algorithms: ['PS256'] }));
      assert.throws(() => createVerifier({ issuer, audience, keys: [{ ...key.jwk }], clock, algorithms: ['RS256'] }), VerifyError, 'alg outside the allowed list');
    });

    it('refuses private, symmetric, duplicated and kid-less keys at creation', () => {
      const cases: [string, unknown][] = [
        ['a private key', [{ ...generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }), kid: 'p', alg: 'EdDSA' }]],
        ['an oct key', [{ kty: 'oct', kid: 'h', k: 'c2VjcmV0' }]],
        ['duplicate kids', [key.jwk, key.jwk]],
        ['no kid', [{ ...key.jwk, kid: undefined }]],
        ['an unknown kty', [{ ...key.jwk, kty: 'XYZ' }]],
        ['not a key set', 'keys'],
        ['a key that is not an object', [null]],
      ];
      for (const [label, keys] of cases) {
        assert.throws(
          () => createVerifier({ issuer, audience, keys, clock }),
          (error: unknown) => error instanceof VerifyError && error.code === 'invalid_options' && !error.message.includes('c2VjcmV0'),
          label,
        );
      }
    });
  });
}
