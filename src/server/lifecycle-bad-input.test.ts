import assert from 'node:assert/strict';
import { generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { createUser, signIn, startTestApp, type TestApp } from '../test-support/app.js';
import { testBackends } from '../test-support/databases.js';
import {
  assertApiError,
  decodeSegment,
  get,
  hs256,
  jsonOf,
  postForm,
  postJson,
  refresh,
  serverKeys,
  signInWith,
  signJws,
  unknownRefreshToken,
  unsigned,
  verifyGet,
  type Json,
  type ServerKeys,
  type SignedIn,
} from '../test-support/tokens.js';
import { startCanary, type Canary } from '../test-support/canary.js';

/*
 * Hostile input for the token lifecycle (issue 4, "Bad input"): refresh tokens, verification,
 * revocation and introspection bodies, Authorization header oddities and forged access tokens on
 * GET /auth/verify, and the trusted-proxy setting. Every refusal is 400 or 401 in the SPEC shape,
 * never 200 or 5xx, never `valid: true`, and no URL named in a token header is ever fetched.
 */

interface Expected {
  status: number;
  error: string;
}
const invalidRequest: Expected = { status: 400, error: 'invalid_request' };
const invalidGrant: Expected = { status: 401, error: 'invalid_grant' };
const invalidToken: Expected = { status: 401, error: 'invalid_token' };

/** The response is one of `allowed`, in the SPEC error shape (plus `extra` on a 401 where given). */
function assertRefused(response: LightMyRequestResponse, allowed: readonly Expected[], label: string, extraOn401: Json = {}): void {
  assert.ok(response.statusCode < 500, `${label}: ${response.statusCode} ${response.body}`);
  assert.notEqual(response.statusCode, 200, `${label}: accepted: ${response.body}`);
  const body = jsonOf(response, label);
  assert.notEqual(body.valid, true, `${label}: valid: true`);
  assert.notEqual(body.active, true, `${label}: active: true`);
  assert.equal(body.access_token, undefined, `${label}: issued a token`);
  const match = allowed.find((expected) => expected.status === response.statusCode && expected.error === body.error);
  assert.ok(match, `${label}: ${response.statusCode} ${response.body}, expected one of ${JSON.stringify(allowed)}`);
  assertApiError(response, match.status, match.error, label, match.status === 401 ? extraOn401 : {});
}

const kib = (n: number, char = 'a') => char.repeat(n * 1024);

/** Wrong JSON types and operator objects for one field. */
function wrongTypes(field: string, base: Json, right: string): [string, Json][] {
  const values: [string, unknown][] = [
    ['number', 42],
    ['boolean', true],
    ['null', null],
    ['empty array', []],
    ['array of the right value', [right]],
    ['empty object', {}],
    ['{"$ne": null}', { $ne: null }],
    ['{"$gt": ""}', { $gt: '' }],
    ['empty string', ''],
    ['20 KiB string', kib(20)],
  ];
  return values.map(([label, value]) => [`${field} as ${label}`, { ...base, [field]: value }]);
}

/** What the forged-token cases need, made once per app. */
interface Forgery {
  valid: string;
  refresh: string;
  claims: Json;
  parts: [string, string, string];
  keys: ServerKeys;
  now: number;
  forge(header: Json, claims?: Json): string;
  byAttacker(header: Json, claims?: Json): string;
  attackerJwk: JsonWebKey;
  canaryUrl: string;
}

let attackerKey: { privateKey: KeyObject; publicKey: KeyObject } | undefined;

async function forgeryFor(t: TestApp, session: SignedIn, canary: Canary): Promise<Forgery> {
  const keys = await serverKeys(t);
  assert.equal(keys.alg, 'RS256', 'the forgery cases assume the default RS256');
  attackerKey ??= generateKeyPairSync('rsa', { modulusLength: 2048 });
  const attacker = attackerKey;
  const attackerJwk: JsonWebKey = { ...attacker.publicKey.export({ format: 'jwk' }), kid: 'attacker', alg: keys.alg, use: 'sig' };
  canary.jwks = { keys: [attackerJwk] };
  const claims = decodeSegment(session.access_token, 1);
  return {
    valid: session.access_token,
    refresh: session.refresh_token,
    claims,
    parts: session.access_token.split('.') as [string, string, string],
    keys,
    now: Math.floor(t.clock.now() / 1000),
    forge: (header, payload = claims) => signJws(header, payload, keys.privateKey),
    byAttacker: (header, payload = claims) => signJws(header, payload, attacker.privateKey),
    attackerJwk,
    canaryUrl: canary.url,
  };
}

/** Authorization header values for GET /auth/verify that must be refused (401). */
function headerCases(): [string, (f: Forgery) => string][] {
  return [
    ['Basic', () => `Basic ${Buffer.from('admin:correct horse battery staple').toString('base64')}`],
    ['Digest', () => 'Digest username="admin", realm="tessera", nonce="x", uri="/auth/verify", response="y"'],
    ['ApiKey with an access token', (f) => `ApiKey ${f.valid}`],
    ['Token scheme', (f) => `Token ${f.valid}`],
    ['no scheme', (f) => f.valid],
    ['BearerX scheme', (f) => `BearerX ${f.valid}`],
    ['empty header', () => ''],
    ['"Bearer" alone', () => 'Bearer'],
    ['"Bearer " alone', () => 'Bearer '],
    ['double space before garbage', () => 'Bearer  garbage.token.here'],
    ['tab after Bearer', (f) => `Bearer\t${f.valid}`],
    ['tab before the token after a space', (f) => `Bearer \t${f.valid}`],
    ['two tokens', (f) => `Bearer ${f.valid} ${f.valid}`],
    ['two tokens, double space', (f) => `Bearer  ${f.valid}  ${f.valid}`],
    ['two credentials, comma-separated', (f) => `Bearer ${f.valid}, Bearer ${f.valid}`],
    ['two credentials, no space', (f) => `Bearer ${f.valid},Bearer ${f.valid}`],
    ['quoted token', (f) => `Bearer "${f.valid}"`],
    ['token with a trailing comma', (f) => `Bearer ${f.valid},`],
    ['token=value auth-param', (f) => `Bearer token=${f.valid}`],
  ];
}

/** Access tokens that must be refused wherever an access token is expected. */
function tokenCases(): [string, (f: Forgery) => string][] {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return [
    ['garbage', () => 'garbage'],
    ['a.b.c', () => 'a.b.c'],
    ['three empty parts', () => '..'],
    ['header only', (f) => f.parts[0]],
    ['four parts', (f) => `${f.valid}.${f.parts[2]}`],
    ['JWE-shaped (five parts)', (f) => `${f.parts[0]}..${f.parts[1]}.${f.parts[2]}.${f.parts[2]}`],
    ['the refresh token', (f) => f.refresh],
    ['an unknown refresh token', () => unknownRefreshToken()],
    ['tampered signature', (f) => `${f.parts[0]}.${f.parts[1]}.${f.parts[2].slice(0, 10)}${f.parts[2][10] === 'A' ? 'B' : 'A'}${f.parts[2].slice(11)}`],
    ['no signature', (f) => `${f.parts[0]}.${f.parts[1]}.`],
    ['payload swapped for admin roles', (f) => `${f.parts[0]}.${b64({ ...f.claims, roles: ['admin'] })}.${f.parts[2]}`],
    ['alg none, empty signature', (f) => unsigned(f.keys.header, f.claims)],
    ['alg none, original signature', (f) => `${b64({ ...f.keys.header, alg: 'none' })}.${f.parts[1]}.${f.parts[2]}`],
    ['alg None', (f) => `${b64({ ...f.keys.header, alg: 'None' })}.${f.parts[1]}.${f.parts[2]}`],
    ['HS256 signed with the published public key PEM', (f) => hs256({ ...f.keys.header, alg: 'HS256' }, f.claims, f.keys.publicPem)],
    ['HS256 signed with the PEM without its final newline', (f) => hs256({ ...f.keys.header, alg: 'HS256' }, f.claims, f.keys.publicPem.trimEnd())],
    ['HS256 signed with the PEM, no kid', (f) => hs256({ alg: 'HS256', typ: 'at+jwt' }, f.claims, f.keys.publicPem)],
    ['HS256 signed with the JWK JSON', (f) => hs256({ ...f.keys.header, alg: 'HS256' }, f.claims, JSON.stringify(f.keys.published))],
    ["PS256 with the server's RSA key", (f) => f.forge({ ...f.keys.header, alg: 'PS256' })],
    ['embedded jwk, attacker key', (f) => f.byAttacker({ alg: f.keys.alg, typ: 'at+jwt', jwk: f.attackerJwk })],
    ['embedded jwk with the kid attacker', (f) => f.byAttacker({ alg: f.keys.alg, typ: 'at+jwt', kid: 'attacker', jwk: f.attackerJwk })],
    ['embedded jwk, server key and kid', (f) => f.forge({ ...f.keys.header, jwk: f.keys.published })],
    ['jku, attacker key', (f) => f.byAttacker({ alg: f.keys.alg, typ: 'at+jwt', kid: 'attacker', jku: `${f.canaryUrl}/jwks.json` })],
    ['jku, server key and kid', (f) => f.forge({ ...f.keys.header, jku: `${f.canaryUrl}/jwks.json` })],
    ['x5u, attacker key', (f) => f.byAttacker({ alg: f.keys.alg, typ: 'at+jwt', kid: 'attacker', x5u: `${f.canaryUrl}/cert.pem` })],
    ['x5c, server key and kid', (f) => f.forge({ ...f.keys.header, x5c: ['MIIB'] })],
    ['crit, server key and kid', (f) => f.forge({ ...f.keys.header, crit: ['exp'] })],
    ['unknown kid, server key', (f) => f.forge({ ...f.keys.header, kid: 'unknown-kid' })],
    ['unknown kid, attacker key', (f) => f.byAttacker({ ...f.keys.header, kid: 'attacker' })],
    ['no kid, server key', (f) => f.forge({ alg: f.keys.alg, typ: 'at+jwt' })],
    ['__proto__ kid', (f) => f.forge({ ...f.keys.header, kid: '__proto__' })],
    ['typ JWT, server key', (f) => f.forge({ ...f.keys.header, typ: 'JWT' })],
    ['no typ, server key', (f) => f.forge({ alg: f.keys.alg, kid: f.keys.kid })],
    ['another issuer', (f) => f.forge(f.keys.header, { ...f.claims, iss: 'https://evil.example.com' })],
    ['another audience', (f) => f.forge(f.keys.header, { ...f.claims, aud: 'another-api' })],
    ['expired an hour ago', (f) => f.forge(f.keys.header, { ...f.claims, iat: f.now - 7200, nbf: f.now - 7200, exp: f.now - 3600 })],
    ['not valid for an hour', (f) => f.forge(f.keys.header, { ...f.claims, nbf: f.now + 3600 })],
    ['issued an hour from now', (f) => f.forge(f.keys.header, { ...f.claims, iat: f.now + 3600 })],
    ['no exp', (f) => f.forge(f.keys.header, { ...f.claims, exp: undefined })],
    ['no jti', (f) => f.forge(f.keys.header, { ...f.claims, jti: undefined })],
    ['no sid', (f) => f.forge(f.keys.header, { ...f.claims, sid: undefined })],
    ['roles as a string', (f) => f.forge(f.keys.header, { ...f.claims, roles: 'admin' })],
    ['garbage over 8 KiB', () => 'A'.repeat(8193)],
    ['a correctly signed token over 8 KiB', (f) => f.forge(f.keys.header, { ...f.claims, pad: 'p'.repeat(8192) })],
  ];
}

for (const backend of testBackends()) {
  describe(`token lifecycle hostile input (${backend.name})`, () => {
    let t: TestApp;
    let trustLoopback: TestApp;
    let trustTenSlash8: TestApp;
    let canary: Canary;
    let admin: SignedIn;

    before(async () => {
      [t, trustLoopback, trustTenSlash8, canary] = await Promise.all([
        startTestApp(backend),
        startTestApp(backend, { env: { TESSERA_TRUST_PROXY: '127.0.0.1' } }),
        startTestApp(backend, { env: { TESSERA_TRUST_PROXY: '10.0.0.0/8' } }),
        startCanary(),
      ]);
      await createUser(t, 'bi-admin', { roles: ['admin'] });
      admin = await signIn(t, 'bi-admin');
    });
    after(async () => {
      await Promise.all([t?.close(), trustLoopback?.close(), trustTenSlash8?.close()]);
      await new Promise<void>((resolve) => (canary ? canary.server.close(() => resolve()) : resolve()));
    });

    describe('POST /auth/refresh', () => {
      let s: SignedIn;
      before(async () => {
        await createUser(t, 'bi-refresh');
        s = await signIn(t, 'bi-refresh');
      });

      const cases: [string, (s: SignedIn) => unknown, Expected[]][] = [
        ['unknown well-formed token', () => ({ refresh_token: unknownRefreshToken() }), [invalidGrant]],
        ['truncated by one character', (s) => ({ refresh_token: s.refresh_token.slice(0, -1) }), [invalidGrant]],
        ['truncated to the id', (s) => ({ refresh_token: s.refresh_token.split('.')[0] }), [invalidGrant]],
        ['one extra character', (s) => ({ refresh_token: `${s.refresh_token}A` }), [invalidGrant]],
        ['an extra segment', (s) => ({ refresh_token: `${s.refresh_token}.AAAA` }), [invalidGrant]],
        ['surrounded by spaces', (s) => ({ refresh_token: ` ${s.refresh_token} ` }), [invalidGrant, invalidRequest]],
        ['in capitals', (s) => ({ refresh_token: s.refresh_token.toUpperCase() }), [invalidGrant]],
        ['wrong secret for a real id', (s) => ({ refresh_token: `${s.refresh_token.split('.')[0]}.${unknownRefreshToken().split('.')[1]}` }), [invalidGrant]],
        ['a real secret with another id', (s) => ({ refresh_token: `${unknownRefreshToken().split('.')[0]}.${s.refresh_token.split('.')[1]}` }), [invalidGrant]],
        ...wrongTypes('refresh_token', {}, 'x').map(([name, body]): [string, () => unknown, Expected[]] => [name, () => body, [invalidRequest]]),
        ['the real token in an array', (s) => ({ refresh_token: [s.refresh_token] }), [invalidRequest]],
        ['a NUL byte at the end', (s) => ({ refresh_token: `${s.refresh_token.slice(0, -1)}\u0000` }), [invalidGrant, invalidRequest]],
        ['a NUL byte after the token', (s) => ({ refresh_token: `${s.refresh_token}\u0000` }), [invalidGrant, invalidRequest]],
        ['66 NUL bytes', () => ({ refresh_token: '\u0000'.repeat(66) }), [invalidGrant, invalidRequest]],
        ['an access token', (s) => ({ refresh_token: s.access_token }), [invalidGrant]],
        ['a JWT-looking string', () => ({ refresh_token: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.' }), [invalidGrant]],
        ['an SQL-looking string', () => ({ refresh_token: "' OR '1'='1' --" }), [invalidGrant]],
        ['no refresh_token', () => ({}), [invalidRequest]],
        ['the real token plus an unknown field', (s) => ({ refresh_token: s.refresh_token, admin: true }), [invalidRequest]],
        ['the real token plus grant_type', (s) => ({ refresh_token: s.refresh_token, grant_type: 'refresh_token' }), [invalidRequest]],
        ['a JSON array body', (s) => [s.refresh_token], [invalidRequest]],
        ['a JSON string body', (s) => s.refresh_token, [invalidRequest]],
      ];
      for (const [name, body, expected] of cases) {
        it(name, async () => assertRefused(await postJson(t, '/auth/refresh', body(s)), expected, name));
      }

      it('the real refresh token is still unused and rotates (no case consumed it or ended the session)', async () => {
        const response = await refresh(t, s.refresh_token);
        assert.equal(response.statusCode, 200, response.body);
        assert.notEqual((response.json() as SignedIn).refresh_token, s.refresh_token);
      });
    });

    describe('POST /auth/verify bodies', () => {
      let s: SignedIn;
      before(async () => {
        await createUser(t, 'bi-verify', { permissions: ['docs:read'] });
        s = await signIn(t, 'bi-verify');
      });
      const cases: [string, (s: SignedIn) => unknown][] = [
        ['empty object', () => ({})],
        ...wrongTypes('token', {}, 'x').map(([name, body]): [string, () => unknown] => [name, () => body]),
        ['the real token in an array', (s) => ({ token: [s.access_token] })],
        ['unknown field with a valid token', (s) => ({ token: s.access_token, admin: true })],
        ['access_token instead of token', (s) => ({ access_token: s.access_token })],
        ['required_permissions as a string', (s) => ({ token: s.access_token, required_permissions: 'docs:read' })],
        ['required_permissions as an object', (s) => ({ token: s.access_token, required_permissions: { $ne: null } })],
        ['required_permissions of numbers', (s) => ({ token: s.access_token, required_permissions: [42] })],
        ['required_permissions with null', (s) => ({ token: s.access_token, required_permissions: [null] })],
        ['required_permissions with an empty string', (s) => ({ token: s.access_token, required_permissions: [''] })],
        ['required_permissions with a control character', (s) => ({ token: s.access_token, required_permissions: ['docs:read\n'] })],
        ['65 required_permissions', (s) => ({ token: s.access_token, required_permissions: Array.from({ length: 65 }, (_, i) => `p${i}`) })],
        ['a JSON array body', (s) => [s.access_token]],
        ['null body', () => null],
      ];
      for (const [name, body] of cases) {
        it(name, async () => assertRefused(await postJson(t, '/auth/verify', body(s)), [invalidRequest, invalidToken], name, { valid: false }));
      }
      it('the token itself is valid (the cases failed on their shape)', async () => {
        const response = await postJson(t, '/auth/verify', { token: s.access_token, required_permissions: ['docs:read'] });
        assert.equal(response.statusCode, 200, response.body);
        assert.equal(response.json().valid, true);
      });
    });

    describe('POST /auth/revoke bodies', () => {
      let victim: SignedIn;
      before(async () => {
        await createUser(t, 'bi-revoke');
        victim = await signIn(t, 'bi-revoke');
      });
      const json: [string, (s: SignedIn) => unknown][] = [
        ['empty object', () => ({})],
        ...wrongTypes('token', {}, 'x').map(([name, body]): [string, () => unknown] => [name, () => body]),
        ['the real refresh token in an array', (s) => ({ token: [s.refresh_token] })],
        ['the real refresh token plus an unknown field', (s) => ({ token: s.refresh_token, admin: true })],
        ['the real access token plus roles', (s) => ({ token: s.access_token, roles: ['admin'] })],
        ['token_type_hint as a number', (s) => ({ token: s.refresh_token, token_type_hint: 42 })],
        ['token_type_hint as an array', (s) => ({ token: s.refresh_token, token_type_hint: ['refresh_token'] })],
        ['token_type_hint as an object', (s) => ({ token: s.refresh_token, token_type_hint: { $ne: null } })],
        ['token_type_hint with a newline', (s) => ({ token: s.refresh_token, token_type_hint: 'refresh_token\n' })],
        ['token_type_hint of 65 characters', (s) => ({ token: s.refresh_token, token_type_hint: 'h'.repeat(65) })],
        ['refresh_token instead of token', (s) => ({ refresh_token: s.refresh_token })],
        ['a JSON array body', (s) => [s.refresh_token]],
      ];
      for (const [name, body] of json) {
        it(`JSON: ${name}`, async () => assertRefused(await postJson(t, '/auth/revoke', body(victim)), [invalidRequest], name));
      }
      const forms: [string, (s: SignedIn) => string][] = [
        ['empty form', () => ''],
        ['no token', () => 'token_type_hint=refresh_token'],
        ['empty token', () => 'token='],
        ['repeated token', (s) => `token=${s.refresh_token}&token=${s.refresh_token}`],
        ['repeated hint', (s) => `token=${s.refresh_token}&token_type_hint=a&token_type_hint=b`],
        ['unknown field', (s) => `token=${s.refresh_token}&admin=1`],
        ['token[] array syntax', (s) => `token[]=${s.refresh_token}`],
        ['token[$ne] operator syntax', () => 'token[$ne]=x'],
        ['20 KiB token', () => `token=${kib(20)}`],
      ];
      for (const [name, form] of forms) {
        it(`form: ${name}`, async () => assertRefused(await postForm(t, '/auth/revoke', form(victim)), [invalidRequest], name));
      }
      it('the victim session was not revoked by any of them', async () => {
        assert.equal((await verifyGet(t, victim.access_token)).statusCode, 200);
        assert.equal((await refresh(t, victim.refresh_token)).statusCode, 200);
      });
    });

    describe('POST /auth/introspect bodies', () => {
      let s: SignedIn;
      before(async () => {
        await createUser(t, 'bi-introspect');
        s = await signIn(t, 'bi-introspect');
      });
      const json: [string, (s: SignedIn) => unknown][] = [
        ['empty object', () => ({})],
        ...wrongTypes('token', {}, 'x').map(([name, body]): [string, () => unknown] => [name, () => body]),
        ['the real token in an array', (s) => ({ token: [s.access_token] })],
        ['unknown field', (s) => ({ token: s.access_token, admin: true })],
        ['token_type_hint as a number', (s) => ({ token: s.access_token, token_type_hint: 1 })],
        ['token_type_hint as an object', (s) => ({ token: s.access_token, token_type_hint: { $ne: null } })],
        ['a JSON array body', (s) => [s.access_token]],
      ];
      for (const [name, body] of json) {
        it(`JSON: ${name}`, async () => {
          assertRefused(await postJson(t, '/auth/introspect', body(s), { token: admin.access_token }), [invalidRequest], `admin, ${name}`);
          assertRefused(await postJson(t, '/auth/introspect', body(s)), [invalidRequest, invalidToken], `no bearer, ${name}`);
        });
      }
      const forms: [string, (s: SignedIn) => string][] = [
        ['empty form', () => ''],
        ['repeated token', (s) => `token=${s.access_token}&token=${s.access_token}`],
        ['unknown field', (s) => `token=${s.access_token}&admin=1`],
        ['token[] array syntax', (s) => `token[]=${s.access_token}`],
        ['20 KiB token', () => `token=${kib(20)}`],
      ];
      for (const [name, form] of forms) {
        it(`form: ${name}`, async () => {
          assertRefused(await postForm(t, '/auth/introspect', form(s), { token: admin.access_token }), [invalidRequest], name);
        });
      }
    });

    describe('GET /auth/verify: Authorization header oddities and forged tokens', () => {
      let f: Forgery;
      before(async () => {
        await createUser(t, 'bi-forge', { roles: ['viewer'] });
        f = await forgeryFor(t, await signInWith(t, 'bi-forge'), canary);
      });

      it('no Authorization header', async () => assertRefused(await get(t, '/auth/verify'), [invalidToken], 'none'));

      for (const [name, header] of headerCases()) {
        it(`header: ${name}`, async () => {
          const response = await get(t, '/auth/verify', { headers: { authorization: header(f) } });
          assertRefused(response, [invalidToken, invalidRequest], name);
          assert.equal(response.headers['x-user-id'], undefined, `${name}: identity headers`);
        });
      }

      for (const [name, token] of tokenCases()) {
        it(`token: ${name}`, async () => {
          const forged = token(f);
          const response = await get(t, '/auth/verify', { headers: { authorization: `Bearer ${forged}` } });
          assertRefused(response, [invalidToken], name);
          assert.equal(response.headers['x-user-id'], undefined, `${name}: identity headers`);
          if (forged.length <= 16_384) {
            assertRefused(await postJson(t, '/auth/verify', { token: forged }), [invalidToken], `POST /auth/verify: ${name}`, { valid: false });
          }
          // The real refresh token is rightly active as a refresh token; every other case is no token at all.
          if (forged.length <= 16_384 && forged !== f.refresh) {
            const introspected = await postJson(t, '/auth/introspect', { token: forged }, { token: admin.access_token });
            assert.equal(introspected.statusCode, 200, `introspect ${name}: ${introspected.body}`);
            assert.deepEqual(introspected.json(), { active: false }, `introspect ${name}`);
          }
        });
      }

      it('accepts the valid token with the scheme in any case and 1*SP before it (RFC 7235 §2.1, RFC 6750 §2.1)', async () => {
        for (const authorization of [`Bearer ${f.valid}`, `bearer ${f.valid}`, `BEARER ${f.valid}`, `bEaReR ${f.valid}`, `Bearer  ${f.valid}`]) {
          const response = await get(t, '/auth/verify', { headers: { authorization } });
          assert.equal(response.statusCode, 200, `${authorization.slice(0, 12)}: ${response.body}`);
          assert.equal(response.headers['x-user-id'], f.claims.sub);
        }
      });

      it('never fetched a URL named in a token header', () => {
        assert.deepEqual(canary.requests, []);
      });
    });

    describe('trusted proxies (TESSERA_TRUST_PROXY)', () => {
      const spoofed = { 'x-forwarded-for': '203.0.113.9' };

      async function sessionIp(app: TestApp, s: SignedIn): Promise<string | null> {
        const response = await get(app, '/auth/sessions', { token: s.access_token });
        assert.equal(response.statusCode, 200, response.body);
        const sessions = (response.json() as { sessions: { id: string; ip: string | null }[] }).sessions;
        const session = sessions.find((candidate) => candidate.id === s.session_id);
        assert.ok(session, 'the session is listed');
        return session.ip;
      }

      it('by default ignores X-Forwarded-For (and Forwarded, X-Real-IP) at sign-in and on refresh', async () => {
        await createUser(t, 'px-default');
        const s = await signInWith(t, 'px-default', {
          headers: { ...spoofed, forwarded: 'for=203.0.113.9', 'x-real-ip': '203.0.113.9' },
        });
        assert.equal(await sessionIp(t, s), '127.0.0.1');
        const next = await t.app.inject({
          method: 'POST',
          url: '/auth/refresh',
          headers: { 'content-type': 'application/json', ...spoofed },
          payload: JSON.stringify({ refresh_token: s.refresh_token }),
        });
        assert.equal(next.statusCode, 200, next.body);
        assert.equal(await sessionIp(t, next.json() as SignedIn), '127.0.0.1', 'refresh from a spoofed address');
      });

      it('with TESSERA_TRUST_PROXY=127.0.0.1 takes the client from X-Forwarded-For', async () => {
        await createUser(trustLoopback, 'px-loopback');
        const s = await signInWith(trustLoopback, 'px-loopback', { headers: spoofed });
        assert.equal(await sessionIp(trustLoopback, s), '203.0.113.9');
        // Only one hop is trusted: a client-supplied entry to the left of it is not believed.
        const chained = await signInWith(trustLoopback, 'px-loopback', { headers: { 'x-forwarded-for': '198.51.100.7, 203.0.113.9' } });
        assert.equal(await sessionIp(trustLoopback, chained), '203.0.113.9');
        const without = await signInWith(trustLoopback, 'px-loopback');
        assert.equal(await sessionIp(trustLoopback, without), '127.0.0.1');
      });

      it('with TESSERA_TRUST_PROXY=10.0.0.0/8 ignores the header from an untrusted peer and believes a trusted one', async () => {
        await createUser(trustTenSlash8, 'px-cidr');
        const untrusted = await signInWith(trustTenSlash8, 'px-cidr', { headers: spoofed, remoteAddress: '192.0.2.1' });
        assert.equal(await sessionIp(trustTenSlash8, untrusted), '192.0.2.1');
        const trusted = await signInWith(trustTenSlash8, 'px-cidr', { headers: spoofed, remoteAddress: '10.1.2.3' });
        assert.equal(await sessionIp(trustTenSlash8, trusted), '203.0.113.9');
        const twoHops = await signInWith(trustTenSlash8, 'px-cidr', {
          headers: { 'x-forwarded-for': '198.51.100.7, 203.0.113.9, 10.9.9.9' },
          remoteAddress: '10.1.2.3',
        });
        assert.equal(await sessionIp(trustTenSlash8, twoHops), '203.0.113.9', 'the first untrusted address from the right');
        // Loopback is not in 10.0.0.0/8: the header from it is ignored too.
        const loopback = await signInWith(trustTenSlash8, 'px-cidr', { headers: spoofed });
        assert.equal(await sessionIp(trustTenSlash8, loopback), '127.0.0.1');
      });
    });
  });
}
