import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { discoveryUrl, jwksUriOf } from './discovery.js';
import { VerifyError, type IssuerOptions, type Verifier, type VerifyErrorCode } from './index.js';
import { sdkEntries } from './test-entries.js';

/*
 * OpenID discovery against a loopback server this file controls: what the document says (another
 * issuer, keys elsewhere), how it answers (not JSON, huge, slow, a redirect), and when it is
 * fetched again (hourly, after a failed key-set fetch). Time is a fake clock; only the slow
 * answer waits, for 300 ms against a 100 ms timeout.
 */

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

function json(body: unknown, status = 200): Handler {
  return (_request, response) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    response.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
    response.end(text);
  };
}

const b64json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

interface Key {
  kid: string;
  privateKey: KeyObject;
  jwk: Record<string, unknown>;
}

function ed25519(kid: string): Key {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { kid, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'EdDSA', use: 'sig' } };
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

const documentPath = '/tenant/.well-known/openid-configuration';

for (const { entry, createVerifier } of sdkEntries) {
  describe(`tessera/verify: OpenID discovery [${entry}]`, () => {
    let server: Server;
    let lure: Server;
    let origin: string;
    let lureOrigin: string;
    let issuer: string;
    const routes = new Map<string, Handler>();
    const seen: string[] = [];
    let lureRequests = 0;
    const clock = { ms: Date.UTC(2030, 0, 1), now: () => clock.ms };
    const first = ed25519('k1');
    const second = ed25519('k2');

    before(async () => {
      server = createServer((request, response) => {
        seen.push(request.url ?? '');
        const handler = routes.get(request.url ?? '');
        if (handler) handler(request, response);
        else response.writeHead(404).end();
      });
      server.listen(0, '127.0.0.1');
      lure = createServer((_request, response) => {
        lureRequests += 1;
        response.end(JSON.stringify({ keys: [first.jwk] }));
      });
      lure.listen(0, '127.0.0.1');
      await Promise.all([once(server, 'listening'), once(lure, 'listening')]);
      origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      lureOrigin = `http://127.0.0.1:${(lure.address() as AddressInfo).port}`;
      issuer = `${origin}/tenant`;
    });

    after(() => {
      for (const each of [server, lure]) {
        each.closeAllConnections();
        each.close();
      }
    });

    beforeEach(() => {
      seen.length = 0;
      lureRequests = 0;
      routes.clear();
      routes.set(documentPath, json({ issuer, jwks_uri: `${issuer}/jwks` }));
      routes.set('/tenant/jwks', json({ keys: [first.jwk] }));
    });

    function mint(key: Key, extra: Record<string, unknown> = {}): string {
      const iat = Math.floor(clock.ms / 1000);
      const input = `${b64json({ alg: 'EdDSA', kid: key.kid, typ: 'JWT' })}.${b64json({ iss: issuer, aud: 'orders', sub: 'u-1', iat, exp: iat + 3 * 3600, scope: 'orders:read', ...extra })}`;
      return `${input}.${sign(null, Buffer.from(input), key.privateKey).toString('base64url')}`;
    }

    function verifier(options: Partial<IssuerOptions> = {}, fetchTimeoutMs?: number): Verifier {
      return createVerifier({ audience: 'orders', clock, ...(fetchTimeoutMs === undefined ? {} : { fetchTimeoutMs }), issuers: [{ issuer, kind: 'oidc', ...options }] });
    }

    it('fetches the document lazily, then its keys, once; ready() does it at once', async () => {
      const sdk = verifier();
      assert.deepEqual(seen, [], 'nothing fetched at creation');
      assert.deepEqual((await sdk.verify(mint(first))).permissions, ['orders:read']);
      await sdk.verify(mint(first));
      assert.deepEqual(seen, [documentPath, '/tenant/jwks']);
      seen.length = 0;
      const eager = verifier();
      await eager.ready();
      assert.deepEqual(seen, [documentPath, '/tenant/jwks']);
      await eager.verify(mint(first));
      assert.equal(seen.length, 2, 'verify after ready() fetches nothing');
    });

    const bad: [string, () => void][] = [
      ['a document naming another issuer', () => routes.set(documentPath, json({ issuer: `${origin}/other`, jwks_uri: `${issuer}/jwks` }))],
      ['a document naming the issuer with a trailing slash', () => routes.set(documentPath, json({ issuer: `${issuer}/`, jwks_uri: `${issuer}/jwks` }))],
      ['a jwks_uri on another origin', () => routes.set(documentPath, json({ issuer, jwks_uri: `${lureOrigin}/jwks` }))],
      ['a jwks_uri on another port of the same host', () => routes.set(documentPath, json({ issuer, jwks_uri: `http://localhost:${new URL(origin).port}/tenant/jwks` }))],
      ['a jwks_uri that is https where the issuer is http', () => routes.set(documentPath, json({ issuer, jwks_uri: `https://127.0.0.1:${new URL(origin).port}/tenant/jwks` }))],
      ['no jwks_uri', () => routes.set(documentPath, json({ issuer }))],
      ['a body that is not JSON', () => routes.set(documentPath, json('<html>hello</html>'))],
      ['a JSON array', () => routes.set(documentPath, json([{ issuer, jwks_uri: `${issuer}/jwks` }]))],
      ['a body over 1 MiB', () => routes.set(documentPath, json({ issuer, jwks_uri: `${issuer}/jwks`, padding: 'x'.repeat(1024 * 1024) }))],
      ['a 500', () => routes.set(documentPath, json({ issuer, jwks_uri: `${issuer}/jwks` }, 500))],
      ['a redirect to a good document', () => {
        routes.set('/elsewhere', json({ issuer, jwks_uri: `${issuer}/jwks` }));
        routes.set(documentPath, (_request, response) => response.writeHead(302, { location: `${origin}/elsewhere` }).end());
      }],
    ];

    for (const [label, arrange] of bad) {
      it(`refuses ${label}: jwks_unavailable, and no key set is fetched`, async () => {
        arrange();
        const token = mint(first);
        const error = await refusal(verifier().verify(token), 'jwks_unavailable', label);
        assert.ok(!error.message.includes(token.split('.')[1]!), 'no token in the message');
        assert.deepEqual(seen, [documentPath], 'only the document was asked for');
        assert.equal(lureRequests, 0, 'the other origin was never asked');
      });
    }

    it('gives up on a document slower than fetchTimeoutMs', async () => {
      routes.set(documentPath, (request, response) => {
        setTimeout(() => json({ issuer, jwks_uri: `${issuer}/jwks` })(request, response), 300).unref();
      });
      const started = performance.now();
      const error = await refusal(verifier({}, 100).verify(mint(first)), 'jwks_unavailable', 'slow');
      assert.match(error.message, /within 100 ms/);
      assert.ok(performance.now() - started < 290, 'did not wait for the answer');
    });

    it('keeps the last good document and keys when both later fail, and looks again hourly', async () => {
      const sdk = verifier();
      await sdk.verify(mint(first));
      routes.set(documentPath, json('nope', 500));
      routes.set('/tenant/jwks', json('nope', 500));
      clock.ms += 61 * 60_000;
      seen.length = 0;
      assert.equal((await sdk.verify(mint(first))).sub, 'u-1', 'served from the last good keys');
      assert.deepEqual(seen, [documentPath, '/tenant/jwks'], 'the document asked again after an hour, and the keys');
      clock.ms += 29_000;
      assert.equal((await sdk.verify(mint(first))).sub, 'u-1');
      assert.equal(seen.length, 2, 'nothing asked again within the cool-down');
      clock.ms += 1_000;
      routes.set(documentPath, json({ issuer, jwks_uri: `${issuer}/jwks` }));
      routes.set('/tenant/jwks', json({ keys: [first.jwk, second.jwk] }));
      assert.equal((await sdk.verify(mint(second))).sub, 'u-1', 'recovered once the issuer answers');
      assert.deepEqual(seen.slice(2), [documentPath, '/tenant/jwks']);
    });

    it('re-reads the document within the hour only when the key set cannot be fetched, and follows a moved jwks_uri', async () => {
      const sdk = verifier();
      await sdk.verify(mint(first));
      clock.ms += 10 * 60_000;
      seen.length = 0;
      await sdk.verify(mint(first));
      assert.deepEqual(seen, ['/tenant/jwks'], 'a stale key set alone is fetched again, not the document');

      routes.set('/tenant/jwks', json('gone', 404));
      routes.set(documentPath, json({ issuer, jwks_uri: `${issuer}/keys-v2` }));
      routes.set('/tenant/keys-v2', json({ keys: [second.jwk] }));
      clock.ms += 10 * 60_000;
      seen.length = 0;
      assert.equal((await sdk.verify(mint(second))).sub, 'u-1', 'the key at the new jwks_uri');
      assert.deepEqual(seen, ['/tenant/jwks', documentPath, '/tenant/keys-v2']);
      assert.equal((await refusal(sdk.verify(mint(first)), 'invalid_token', 'a key the new set does not publish')).reason, 'unknown_kid');
    });

    it('skips discovery when jwksUri is given, even on another origin', async () => {
      const sdk = verifier({ jwksUri: `${lureOrigin}/jwks` });
      assert.equal((await sdk.verify(mint(first))).sub, 'u-1');
      assert.deepEqual(seen, [], 'the document was never asked for');
      assert.equal(lureRequests, 1);
    });

    it('finds the document of an issuer ending in a slash (Auth0) without a double slash', () => {
      assert.equal(discoveryUrl('https://tenant.auth0.test/').href, 'https://tenant.auth0.test/.well-known/openid-configuration');
      assert.equal(discoveryUrl('https://cognito.test/us-east-1_X').href, 'https://cognito.test/us-east-1_X/.well-known/openid-configuration');
    });

    it('accepts a jwks_uri only on the issuer’s own origin and scheme', () => {
      const https = 'https://issuer.test/t';
      assert.equal(jwksUriOf({ issuer: https, jwks_uri: 'https://issuer.test/t/jwks' }, https).href, 'https://issuer.test/t/jwks');
      for (const jwksUri of ['http://issuer.test/t/jwks', 'https://keys.issuer.test/jwks', 'https://issuer.test:8443/jwks', 'https://user:pw@issuer.test/jwks', 'not a url', 42]) {
        assert.throws(() => jwksUriOf({ issuer: https, jwks_uri: jwksUri }, https), String(jwksUri));
      }
      assert.throws(() => jwksUriOf({ issuer: 'https://issuer.test/T', jwks_uri: 'https://issuer.test/t/jwks' }, https), 'issuer compared exactly');
      assert.throws(() => jwksUriOf(null, https));
    });
  });
}
