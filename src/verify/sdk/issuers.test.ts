import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { cryptoParameters, isHighS, toLowS, type JwsAlgorithm } from '../algorithms.js';
import { p256Order } from '../jws-structure.js';
import { VerifyError, type IssuerOptions, type IssuersVerifierOptions, type VerifyErrorCode } from './index.js';
import { sdkEntries } from './test-entries.js';

/*
 * One verifier trusting three issuers over real loopback HTTP: a real oidc-provider (v9) issuing
 * JWT access tokens for a resource indicator through its token endpoint (client_credentials),
 * found by discovery; Tessera-style tokens under static keys; and Cognito-style tokens (no aud,
 * client_id, token_use, cognito:groups) from a tiny discovery + JWKS server. Every fetch the SDK
 * makes goes through the global fetch, which this file counts.
 */

/** oidc-provider ships no types: the little of it used here, loaded by a name the compiler does not resolve. */
type ProviderClass = new (issuer: string, configuration: Record<string, unknown>) => { callback(): (request: IncomingMessage, response: ServerResponse) => unknown };
const oidcProvider = 'oidc-provider';
const { default: Provider } = (await import(oidcProvider)) as { default: ProviderClass };

const clientSecret = 'billing-secret-0123456789abcdef0123456789abcdef';

const b64json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A compact JWS over `header` and `payload` (ES256 with the low s unless `highS`). */
function signToken(header: Record<string, unknown>, payload: Record<string, unknown>, privateKey: KeyObject, highS = false): string {
  const input = `${b64json(header)}.${b64json(payload)}`;
  const [digest, keyInput] = cryptoParameters(header.alg as JwsAlgorithm, privateKey);
  let signature: Buffer = sign(digest, Buffer.from(input), keyInput as never);
  if (header.alg === 'ES256') {
    signature = toLowS(signature);
    if (highS) {
      const s = BigInt(`0x${signature.subarray(32).toString('hex')}`);
      signature = Buffer.concat([signature.subarray(0, 32), Buffer.from((p256Order - s).toString(16).padStart(64, '0'), 'hex')]);
    }
  }
  return `${input}.${signature.toString('base64url')}`;
}

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

function json(body: unknown, status = 200): Handler {
  return (_request, response) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    response.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
    response.end(text);
  };
}

interface PathServer {
  readonly origin: string;
  readonly routes: Map<string, Handler>;
  readonly seen: string[];
  close(): void;
}

async function startPathServer(): Promise<PathServer> {
  const routes = new Map<string, Handler>();
  const seen: string[] = [];
  const server: Server = createServer((request, response) => {
    seen.push(request.url ?? '');
    const handler = routes.get(request.url ?? '');
    if (handler) handler(request, response);
    else response.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    routes,
    seen,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}

async function refusal(promise: Promise<unknown>, code: VerifyErrorCode, label: string, reason?: string): Promise<VerifyError> {
  const error = await promise.then(
    () => assert.fail(`${label}: accepted`),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof VerifyError, `${label}: ${String(error)}`);
  assert.equal(error.code, code, `${label}: ${error.code} (${error.reason}) ${error.message}`);
  if (reason !== undefined) assert.equal(error.reason, reason, `${label}: ${error.message}`);
  return error;
}

for (const { entry, createVerifier } of sdkEntries) {
  describe(`tessera/verify: several issuers (oidc-provider, Tessera, Cognito-style) in one verifier [${entry}]`, () => {
    let op: { issuer: string; server: Server; requests: string[] };
    let cognito: PathServer;
    let cognitoIssuer: string;
    let lure: PathServer;
    const opKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const tesseraKey = generateKeyPairSync('ed25519');
    const cognitoKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const cognitoEcKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const tesseraIssuer = 'https://auth.tessera.test';
    const fetched: string[] = [];
    const realFetch = globalThis.fetch;

    const jwkOf = (key: KeyObject, kid: string, alg: string) => ({ ...key.export({ format: 'jwk' }), kid, alg, use: 'sig' });
    const now = () => Math.floor(Date.now() / 1000);

    before(async () => {
      globalThis.fetch = (input, init) => {
        fetched.push(String(input instanceof Request ? input.url : input));
        return realFetch(input, init);
      };
      const server = createServer();
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const provider = new Provider(issuer, {
        jwks: { keys: [{ ...opKey.privateKey.export({ format: 'jwk' }), kid: 'op-1', alg: 'ES256', use: 'sig' }] },
        clients: [{ client_id: 'billing', client_secret: clientSecret, grant_types: ['client_credentials'], redirect_uris: [], response_types: [], scope: 'orders:read orders:write', id_token_signed_response_alg: 'ES256' }],
        scopes: ['orders:read', 'orders:write'],
        features: {
          clientCredentials: { enabled: true },
          devInteractions: { enabled: false },
          resourceIndicators: {
            enabled: true,
            defaultResource: () => 'https://orders.example',
            useGrantedResource: () => true,
            getResourceServerInfo: () => ({ scope: 'orders:read orders:write', audience: 'orders', accessTokenFormat: 'jwt', accessTokenTTL: 600, jwt: { sign: { alg: 'ES256' } } }),
          },
        },
      });
      const requests: string[] = [];
      const callback = provider.callback();
      server.on('request', (request, response) => {
        requests.push(request.url ?? '');
        void callback(request, response);
      });
      op = { issuer, server, requests };

      cognito = await startPathServer();
      // A path component, as Cognito's issuers have: the document is under it (OpenID Discovery §4).
      cognitoIssuer = `${cognito.origin}/us-east-1_Test`;
      cognito.routes.set('/us-east-1_Test/.well-known/openid-configuration', json({ issuer: cognitoIssuer, jwks_uri: `${cognitoIssuer}/.well-known/jwks.json` }));
      cognito.routes.set('/us-east-1_Test/.well-known/jwks.json', json({ keys: [jwkOf(cognitoKey.publicKey, 'cog-rsa', 'RS256'), jwkOf(cognitoEcKey.publicKey, 'cog-ec', 'ES256')] }));
      lure = await startPathServer();
      lure.routes.set('/.well-known/openid-configuration', json({ issuer: lure.origin, jwks_uri: `${lure.origin}/jwks` }));
    });

    after(() => {
      globalThis.fetch = realFetch;
      op.server.closeAllConnections();
      op.server.close();
      cognito.close();
      lure.close();
    });

    async function opToken(scope: string): Promise<string> {
      const response = await realFetch(`${op.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`billing:${clientSecret}`).toString('base64')}` },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource: 'https://orders.example' }),
      });
      const body = (await response.json()) as { access_token?: string };
      assert.equal(response.status, 200, JSON.stringify(body));
      return body.access_token!;
    }

    function tesseraToken(extra: Record<string, unknown> = {}, key: KeyObject = tesseraKey.privateKey, kid = 'tes-1'): string {
      const iat = now();
      const payload = { iss: tesseraIssuer, aud: 'orders', sub: 'user-1', client_id: 'tessera', iat, nbf: iat, exp: iat + 900, jti: 'j-1', sid: 's-1', roles: ['staff'], permissions: ['orders:read'], amr: ['pwd'], ...extra };
      return signToken({ alg: 'EdDSA', kid, typ: 'at+jwt' }, payload, key);
    }

    function cognitoToken(extra: Record<string, unknown> = {}, header: Record<string, unknown> = {}, highS = false): string {
      const iat = now();
      const payload = { sub: 'c0ffee-user', 'cognito:groups': ['admins', 'staff'], iss: cognitoIssuer, version: 2, client_id: 'app-client-1', token_use: 'access', scope: 'orders:read orders:write', auth_time: iat, exp: iat + 3600, iat, jti: 'cj-1', username: 'carol', ...extra };
      const alg = header.alg ?? 'RS256';
      return signToken({ alg, kid: alg === 'ES256' ? 'cog-ec' : 'cog-rsa', ...header }, payload, alg === 'ES256' ? cognitoEcKey.privateKey : cognitoKey.privateKey, highS);
    }

    const tesseraJwks = () => ({ keys: [jwkOf(tesseraKey.publicKey, 'tes-1', 'EdDSA')] });

    function verifier(overrides: Partial<IssuersVerifierOptions> = {}) {
      return createVerifier({
        audience: 'orders',
        issuers: [
          { issuer: op.issuer, kind: 'oidc' },
          { issuer: tesseraIssuer, keys: tesseraJwks() },
          { issuer: cognitoIssuer, kind: 'oidc', audience: 'app-client-1', tokenUse: 'access' },
        ],
        ...overrides,
      });
    }

    it('verifies real oidc-provider tokens through discovery, with permissions from scope', async () => {
      const sdk = verifier();
      const before = op.requests.length;
      // ES256 from a signer that does not normalise s: about half of these are high-s.
      const tokens = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map(() => opToken('orders:read')));
      op.requests.splice(before);
      for (const token of tokens) {
        const claims = await sdk.verify(token, { permissions: ['orders:read'] });
        assert.equal(claims.iss, op.issuer);
        assert.equal(claims.sub, 'billing');
        assert.equal(claims.client_id, 'billing');
        assert.deepEqual(claims.permissions, ['orders:read']);
        assert.deepEqual(claims.roles, []);
        assert.equal(claims.scope, 'orders:read');
      }
      assert.deepEqual(op.requests.slice(before), ['/.well-known/openid-configuration', '/jwks'], 'one discovery, one JWKS fetch');
      const write = await opToken('orders:read orders:write');
      assert.deepEqual((await sdk.verify(write, { permissions: ['orders:write', 'orders:read'] })).permissions, ['orders:read', 'orders:write']);
      const missing = await refusal(sdk.verify(tokens[0]!, { permissions: ['orders:write'] }), 'insufficient_permissions', 'scope lacks orders:write');
      assert.ok(!missing.message.includes('orders:write'));
    });

    it('verifies Tessera tokens with static keys in the same verifier, with all of Tessera’s checks', async () => {
      const sdk = verifier();
      const claims = await sdk.verify(tesseraToken(), { permissions: ['orders:read'] });
      assert.equal(claims.sid, 's-1');
      assert.deepEqual(claims.roles, ['staff']);
      await refusal(sdk.verify(tesseraToken(), { permissions: ['orders:write'] }), 'insufficient_permissions', 'tessera lacks orders:write');
      await refusal(sdk.verify(tesseraToken({ sid: undefined })), 'invalid_token', 'no sid', 'missing_claim');
      const untyped = signToken({ alg: 'EdDSA', kid: 'tes-1' }, { ...JSON.parse(Buffer.from(tesseraToken().split('.')[1]!, 'base64url').toString()) }, tesseraKey.privateKey);
      await refusal(sdk.verify(untyped), 'invalid_token', 'tessera token without typ', 'wrong_type');
    });

    it('verifies a Cognito-style access token: no aud, client_id, token_use, scope and cognito:groups', async () => {
      const sdk = verifier();
      const claims = await sdk.verify(cognitoToken(), { permissions: ['orders:write'] });
      assert.equal(claims.sub, 'c0ffee-user');
      assert.deepEqual(claims.permissions, ['orders:read', 'orders:write']);
      assert.deepEqual(claims.roles, ['admins', 'staff']);
      assert.deepEqual(claims['cognito:groups'], ['admins', 'staff'], 'the raw claims are kept, and typed as there');
      assert.equal(claims.username, 'carol');
      assert.equal(claims.token_use, 'access');
      for (const typ of ['JWT', 'jwt', 'at+jwt', 'application/at+JWT', 'application/jwt']) assert.equal((await sdk.verify(cognitoToken({}, { typ }))).sub, 'c0ffee-user', typ);
      assert.equal((await sdk.verify(cognitoToken({}, { alg: 'ES256' }, true))).sub, 'c0ffee-user', 'a high-s ES256 signature from an external signer');
      assert.equal((await sdk.verify(cognitoToken({}, { alg: 'ES256' }, false))).sub, 'c0ffee-user', 'and its low-s twin');
    });

    it('refuses Cognito ID tokens, ID-token-ish types, wrong clients and bad claims', async () => {
      const sdk = verifier();
      const cases: [string, string, string][] = [
        ['token_use id', cognitoToken({ token_use: 'id', aud: 'app-client-1' }), 'wrong_type'],
        ['no token_use', cognitoToken({ token_use: undefined }), 'wrong_type'],
        ['typ id_token+jwt', cognitoToken({}, { typ: 'id_token+jwt' }), 'wrong_type'],
        ['typ secevent+jwt', cognitoToken({}, { typ: 'secevent+jwt' }), 'wrong_type'],
        ['typ dpop+jwt', cognitoToken({}, { typ: 'dpop+jwt' }), 'wrong_type'],
        ['typ not a string', cognitoToken({}, { typ: 7 }), 'wrong_type'],
        ['another app client', cognitoToken({ client_id: 'app-client-2' }), 'wrong_audience'],
        ['an aud that is not ours, whatever client_id says', cognitoToken({ aud: 'billing' }), 'wrong_audience'],
        ['no sub', cognitoToken({ sub: undefined }), 'missing_claim'],
        ['no exp', cognitoToken({ exp: undefined }), 'missing_claim'],
        ['exp a string', cognitoToken({ exp: String(now() + 60) }), 'invalid_claim'],
        ['iat ahead', cognitoToken({ iat: now() + 600 }), 'issued_in_future'],
        ['nbf ahead', cognitoToken({ nbf: now() + 600 }), 'not_yet_valid'],
        ['cognito:groups not a list', cognitoToken({ 'cognito:groups': { admin: true } }), 'invalid_claim'],
        ['alg none', `${cognitoToken().split('.').slice(0, 2).join('.')}.`, 'malformed'],
        ['jku in the header', cognitoToken({}, { jku: `${lure.origin}/jwks` }), 'forbidden_header'],
      ];
      for (const [label, token, reason] of cases) await refusal(sdk.verify(token), 'invalid_token', label, reason);
      await refusal(sdk.verify(cognitoToken({ exp: now() - 120 })), 'token_expired', 'expired', 'expired');
      assert.deepEqual(lure.seen, [], 'nothing named by a token was fetched');
    });

    it('refuses a token of an issuer not configured, without fetching anything', async () => {
      const sdk = verifier();
      await sdk.ready();
      const before = fetched.length;
      const stranger = signToken({ alg: 'RS256', kid: 'cog-rsa' }, { iss: lure.origin, sub: 'x', exp: now() + 60, client_id: 'app-client-1', token_use: 'access' }, cognitoKey.privateKey);
      await refusal(sdk.verify(stranger), 'invalid_token', 'unknown iss', 'wrong_issuer');
      await refusal(sdk.verify(cognitoToken({ iss: `${cognitoIssuer}/` })), 'invalid_token', 'iss with a trailing slash', 'wrong_issuer');
      await refusal(sdk.verify(cognitoToken({ iss: 42 })), 'invalid_token', 'iss not a string', 'invalid_claim');
      await refusal(sdk.verify(cognitoToken({ iss: undefined })), 'invalid_token', 'no iss', 'missing_claim');
      await refusal(sdk.verify('a.b'), 'invalid_token', 'garbage', 'malformed');
      await refusal(sdk.verify('x'.repeat(9000)), 'invalid_token', 'huge', 'too_large');
      assert.deepEqual(fetched.slice(before), [], 'no fetch at all');
      assert.deepEqual(lure.seen, [], 'the stranger issuer was never asked');
    });

    it("refuses a token of issuer A signed with issuer B's key", async () => {
      const sdk = verifier();
      await sdk.ready();
      const tesseraSignedByCognito = signToken({ alg: 'RS256', kid: 'cog-rsa', typ: 'at+jwt' }, JSON.parse(Buffer.from(tesseraToken().split('.')[1]!, 'base64url').toString()), cognitoKey.privateKey);
      await refusal(sdk.verify(tesseraSignedByCognito), 'invalid_token', "Tessera's iss, Cognito's key", 'unknown_kid');
      const cognitoSignedByTessera = signToken({ alg: 'EdDSA', kid: 'cog-rsa' }, JSON.parse(Buffer.from(cognitoToken().split('.')[1]!, 'base64url').toString()), tesseraKey.privateKey);
      await refusal(sdk.verify(cognitoSignedByTessera), 'invalid_token', "Cognito's iss and kid, Tessera's key", 'alg_mismatch');
      const sameKidOtherKey = signToken({ alg: 'RS256', kid: 'cog-rsa' }, JSON.parse(Buffer.from(cognitoToken().split('.')[1]!, 'base64url').toString()), generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
      await refusal(sdk.verify(sameKidOtherKey), 'invalid_token', 'a stranger key under a known kid', 'bad_signature');
    });

    it('refuses external tokens where the issuer is configured as tessera (the default kind)', async () => {
      const sdk = createVerifier({
        audience: 'orders',
        issuers: [
          { issuer: op.issuer, jwksUri: `${op.issuer}/jwks` },
          { issuer: cognitoIssuer, audience: 'app-client-1', jwksUri: `${cognitoIssuer}/.well-known/jwks.json` },
        ],
      });
      for (const token of await Promise.all([1, 2, 3, 4].map(() => opToken('orders:read')))) {
        // Tessera's checks refuse the high-s half of them at the signature already, the rest for the claims Tessera requires.
        const reason = isHighS(Buffer.from(token.split('.')[2]!, 'base64url')) ? 'bad_signature' : 'missing_claim';
        await refusal(sdk.verify(token), 'invalid_token', 'oidc-provider token at a tessera issuer', reason);
      }
      await refusal(sdk.verify(cognitoToken()), 'invalid_token', 'Cognito token at a tessera issuer', 'wrong_type');
      // ES256 high-s stays refused for Tessera's own tokens.
      const tesseraEs = createVerifier({ issuer: cognitoIssuer, audience: 'app-client-1', keys: [jwkOf(cognitoEcKey.publicKey, 'cog-ec', 'ES256')] });
      const highS = signToken({ alg: 'ES256', kid: 'cog-ec', typ: 'at+jwt' }, JSON.parse(Buffer.from(tesseraToken({ iss: cognitoIssuer, aud: 'app-client-1' }).split('.')[1]!, 'base64url').toString()), cognitoEcKey.privateKey, true);
      await refusal(tesseraEs.verify(highS), 'invalid_token', 'high-s at a tessera issuer', 'bad_signature');
    });

    it('maps permissions and roles as configured, refusing what a mapping cannot read', async () => {
      const sdk = (permissions: IssuerOptions['permissions'], roles?: IssuerOptions['roles']) =>
        createVerifier({ audience: 'app-client-1', issuers: [{ issuer: cognitoIssuer, kind: 'oidc', keys: [jwkOf(cognitoKey.publicKey, 'cog-rsa', 'RS256')], ...(permissions ? { permissions } : {}), ...(roles ? { roles } : {}) }] });
      assert.deepEqual((await sdk('scope').verify(cognitoToken({ permissions: ['p:1'] }))).permissions, ['orders:read', 'orders:write'], 'scope chosen over permissions');
      assert.deepEqual((await sdk(undefined).verify(cognitoToken({ permissions: ['p:1'] }))).permissions, ['p:1'], 'permissions first by default');
      assert.deepEqual((await sdk('scp').verify(cognitoToken({ scp: ['a', 'b'] }))).permissions, ['a', 'b'], 'a named list claim');
      assert.deepEqual((await sdk('scp').verify(cognitoToken())).permissions, [], 'an absent claim is no permission');
      assert.deepEqual((await sdk((claims) => [`tenant:${String(claims.username)}`], 'realm_roles').verify(cognitoToken({ realm_roles: 'a  b' }))).permissions, ['tenant:carol']);
      assert.deepEqual((await sdk(undefined, 'realm_roles').verify(cognitoToken({ realm_roles: 'a  b' }))).roles, ['a', 'b']);
      const throwing = sdk(() => {
        throw new Error('boom');
      });
      await refusal(throwing.verify(cognitoToken()), 'invalid_token', 'a mapping that throws', 'invalid_claim');
      await refusal(sdk(() => 'x' as unknown as string[]).verify(cognitoToken()), 'invalid_token', 'a mapping that returns no list', 'invalid_claim');
      await refusal(sdk('scp').verify(cognitoToken({ scp: [1] })), 'invalid_token', 'a claim that is no list of strings', 'invalid_claim');
    });

    it('refuses unusable options with invalid_options, before any fetch', () => {
      const before = fetched.length;
      const keys = tesseraJwks();
      const bad: [string, unknown][] = [
        ['both issuer and issuers', { issuer: tesseraIssuer, audience: 'orders', keys, issuers: [{ issuer: tesseraIssuer, keys }] }],
        ['neither', { audience: 'orders', keys }],
        ['empty issuers', { audience: 'orders', issuers: [] }],
        ['no audience anywhere', { issuers: [{ issuer: tesseraIssuer, keys }] }],
        ['an issuer twice', { audience: 'orders', issuers: [{ issuer: tesseraIssuer, keys }, { issuer: tesseraIssuer, keys }] }],
        ['tokenUse on a tessera issuer', { audience: 'orders', issuers: [{ issuer: tesseraIssuer, keys, tokenUse: 'access' }] }],
        ['permissions on a tessera issuer', { audience: 'orders', issuers: [{ issuer: tesseraIssuer, keys, permissions: 'scope' }] }],
        ['an unknown kind', { audience: 'orders', issuers: [{ issuer: tesseraIssuer, keys, kind: 'saml' }] }],
        ['a mapping that is neither', { audience: 'orders', issuers: [{ issuer: tesseraIssuer, keys, kind: 'oidc', roles: 42 }] }],
        ['jwksUri and keys', { audience: 'orders', issuers: [{ issuer: tesseraIssuer, keys, jwksUri: `${cognito.origin}/jwks` }] }],
        ['discovery of an http issuer off loopback', { audience: 'orders', issuers: [{ issuer: 'http://auth.example.com', kind: 'oidc' }] }],
        ['discovery of a non-URL issuer', { audience: 'orders', issuers: [{ issuer: 'tessera', kind: 'oidc' }] }],
        ['single form without keys (no discovery there)', { issuer: cognitoIssuer, audience: 'orders' }],
      ];
      for (const [label, options] of bad) {
        assert.throws(() => createVerifier(options as IssuersVerifierOptions), (error: unknown) => error instanceof VerifyError && error.code === 'invalid_options', label);
      }
      assert.equal(fetched.length, before);
    });
  });
}
