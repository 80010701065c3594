import assert from 'node:assert/strict';
import { createHmac, createSecretKey, generateKeyPairSync, sign } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { ManualClock } from '../clock.js';
import { AuthError } from '../errors/auth-error.js';
import { KeyRing } from '../keys/key-ring.js';
import { createSealer } from '../keys/sealer.js';
import { sqlStores } from '../store/sql/sql-stores.js';
import { testSecret } from '../test-support/config.js';
import { pgliteBackend, type TestDatabase } from '../test-support/databases.js';
import { createAccessTokens, type AccessTokens } from './access-token.js';

const issuer = 'https://auth.test.example';
const audience = 'tessera';
const subject = {
  userId: '0b6f6f0e-8f4f-4a43-9d37-2a3f0d1c5e11',
  sessionId: '5d2b1f2c-7a0e-4c51-8a51-3c0f7d9e2b22',
  username: 'alice',
  roles: ['admin'],
  permissions: ['orders:read'],
  amr: ['pwd'],
  tenant: null,
};

function b64(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

describe('access tokens', () => {
  let database: TestDatabase;
  let ring: KeyRing;
  let tokens: AccessTokens;
  const clock = new ManualClock(Date.UTC(2030, 0, 1));

  before(async () => {
    database = await pgliteBackend.open();
    ring = await KeyRing.open({
      stores: sqlStores(database.db),
      sealer: createSealer(testSecret, 'signing-keys'),
      alg: 'RS256',
      clock,
      retiredKeyGraceMs: 16 * 60_000,
    });
    tokens = createAccessTokens({ keyRing: ring, clock, issuer, audience, ttlMs: 15 * 60_000 });
  });
  after(() => database.cleanup());

  async function rejects(token: string, why: string): Promise<void> {
    await assert.rejects(tokens.verify(token), (error: unknown) => {
      assert.ok(error instanceof AuthError, `${why}: ${String(error)}`);
      assert.equal(error.code, 'invalid_token', why);
      return true;
    });
  }

  /** Signs arbitrary header and claims with the ring's real active key. */
  async function forge(header: Record<string, unknown>, claims: Record<string, unknown>): Promise<string> {
    const key = ring.signingKey;
    return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header } as never).sign(key.privateKey);
  }

  /** Signs by hand, for headers jose refuses to produce (crit). */
  function signRaw(header: Record<string, unknown>, claims: Record<string, unknown>): string {
    const key = ring.signingKey;
    const input = `${b64({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header })}.${b64(claims)}`;
    return `${input}.${sign('sha256', Buffer.from(input), key.privateKey).toString('base64url')}`;
  }

  async function validClaims(): Promise<Record<string, unknown>> {
    const { claims } = await tokens.issue(subject);
    return { ...claims };
  }

  it('issues every SPEC §2 claim and verifies it', async () => {
    const { token, claims } = await tokens.issue(subject);
    const verified = await tokens.verify(token);
    assert.deepEqual(verified, claims);
    assert.equal(claims.iss, issuer);
    assert.equal(claims.aud, audience);
    assert.equal(claims.client_id, 'tessera');
    assert.equal(claims.exp - claims.iat, 900);
    assert.equal(claims.iat, Math.floor(clock.now() / 1000));
    assert.equal(claims.tenant, undefined);
    const other = await tokens.issue(subject);
    assert.notEqual(other.claims.jti, claims.jti, 'jti is unique');
  });

  it('accepts within the 30 s leeway and refuses past it', async () => {
    const { token } = await tokens.issue(subject);
    const issuedAt = clock.now();
    try {
      clock.set(issuedAt + 900_000 + 29_000);
      assert.equal((await tokens.verify(token)).sub, subject.userId);
      clock.set(issuedAt + 900_000 + 31_000);
      await rejects(token, 'expired beyond leeway');
      clock.set(issuedAt - 29_000);
      assert.equal((await tokens.verify(token)).sub, subject.userId, 'iat/nbf 29 s ahead is tolerated');
      clock.set(issuedAt - 31_000);
      await rejects(token, 'nbf and iat beyond leeway');
    } finally {
      clock.set(issuedAt);
    }
  });

  it('refuses a token whose exp - iat exceeds the configured TTL, by even a second', async () => {
    const claims = await validClaims();
    const iat = claims.iat as number;
    for (const [lifetime, accepted] of [[899, true], [900, true], [901, false], [3600, false]] as const) {
      const token = await forge({}, { ...claims, exp: iat + lifetime });
      if (accepted) assert.equal((await tokens.verify(token)).exp, iat + lifetime, `${lifetime} s`);
      else await rejects(token, `a ${lifetime} s lifetime under a 900 s TTL`);
    }
  });

  it('refuses a future iat even when nbf is fine', async () => {
    const claims = await validClaims();
    await rejects(await forge({}, { ...claims, iat: (claims.iat as number) + 3600, nbf: claims.iat }), 'iat in the future');
  });

  it('accepts the RFC 9068 media type spelled in full and an audience list that names us', async () => {
    const claims = await validClaims();
    assert.equal((await tokens.verify(signRaw({ typ: 'application/at+JWT' }, claims))).sub, subject.userId);
    assert.equal((await tokens.verify(signRaw({}, { ...claims, aud: ['other', audience] }))).sub, subject.userId);
  });

  it('refuses a signature with a second encoding or the wrong length', async () => {
    const claims = await validClaims();
    const valid = signRaw({}, claims);
    const [h, p, s] = valid.split('.') as [string, string, string];
    // 256 bytes encode to 342 characters with 4 spare bits: set them, the bytes stay the same.
    const last = s.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const twin = alphabet[(alphabet.indexOf(last) & ~0b1111) | 0b0001]!;
    assert.deepEqual(Buffer.from(`${s.slice(0, -1)}${twin}`, 'base64url'), Buffer.from(s, 'base64url'));
    await rejects(`${h}.${p}.${s.slice(0, -1)}${twin}`, 'non-canonical signature encoding');
    await rejects(`${h}.${p}.${s}AA`, 'signature too long');
    await rejects(`${h}.${p}.${s.slice(0, 300)}`, 'signature too short');
    await rejects(`${b64([{ alg: 'RS256' }])}.${p}.${s}`, 'header is an array');
    await rejects(`${h}.${b64('[1,2]')}.${s}`, 'payload is an array');
  });

  it('refuses tokens that fail a SPEC §2 check', async () => {
    const claims = await validClaims();
    const { kid } = ring.signingKey;
    const publicPem = ring.verificationKey(kid)!.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const hsInput = `${b64({ alg: 'HS256', kid, typ: 'at+jwt' })}.${b64(claims)}`;
    const hsConfusion = `${hsInput}.${createHmac('sha256', publicPem).update(hsInput).digest('base64url')}`;
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const foreign = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid, typ: 'at+jwt' }).sign(stranger);
    const valid = await forge({}, claims);
    const [h, p, s] = valid.split('.') as [string, string, string];

    const cases: [string, string | (() => Promise<string>)][] = [
      ['alg none', `${b64({ alg: 'none', kid, typ: 'at+jwt' })}.${b64(claims)}.`],
      ['alg none with a signature', `${b64({ alg: 'none', kid, typ: 'at+jwt' })}.${b64(claims)}.${s}`],
      ['HS256 keyed with our public key (alg confusion)', hsConfusion],
      ['HS256 with a random secret', () => new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' }).sign(createSecretKey(Buffer.alloc(32, 7)))],
      ['PS256 header on an RS256 key', `${b64({ alg: 'PS256', kid, typ: 'at+jwt' })}.${p}.${s}`],
      ['signed by a stranger under our kid', foreign],
      ['unknown kid', () => forge({ kid: 'no-such-kid' }, claims)],
      ['no kid', `${b64({ alg: 'RS256', typ: 'at+jwt' })}.${p}.${s}`],
      ['typ JWT', () => forge({ typ: 'JWT' }, claims)],
      ['no typ', `${b64({ alg: 'RS256', kid })}.${p}.${s}`],
      ['embedded jwk', () => forge({ jwk: ring.jwks().keys[0] }, claims)],
      ['jku', () => forge({ jku: 'http://127.0.0.1:9/jwks.json' }, claims)],
      ['x5u', () => forge({ x5u: 'http://127.0.0.1:9/cert.pem' }, claims)],
      ['x5c', () => forge({ x5c: ['MIIB'] }, claims)],
      ['crit', signRaw({ crit: ['exp'], exp: 1 }, claims)],
      ['valid signature but crit with an unknown member', signRaw({ crit: ['x-custom'], 'x-custom': true }, claims)],
      ['wrong issuer', () => forge({}, { ...claims, iss: 'https://evil.example' })],
      ['wrong audience', () => forge({}, { ...claims, aud: 'other-api' })],
      ['no exp', () => forge({}, { ...claims, exp: undefined })],
      ['no sid', () => forge({}, { ...claims, sid: undefined })],
      ['no jti', () => forge({}, { ...claims, jti: undefined })],
      // RFC 9068 §2.2: client_id is required (Tessera has always issued it).
      ['no client_id', () => forge({}, { ...claims, client_id: undefined })],
      ['roles not an array', () => forge({}, { ...claims, roles: 'admin' })],
      ['permissions with a number', () => forge({}, { ...claims, permissions: ['a', 1] })],
      ['exp as a string', () => forge({}, { ...claims, exp: String(claims.exp) })],
      ['tampered payload', `${h}.${b64({ ...claims, roles: ['admin', 'root'] })}.${s}`],
      ['tampered signature', `${h}.${p}.${s.slice(0, -4)}AAAA`],
      ['truncated', valid.slice(0, -10)],
      ['two segments', `${h}.${p}`],
      ['four segments', `${valid}.x`],
      ['over 8 KiB', () => forge({}, { ...claims, padding: 'x'.repeat(9000) })],
      ['garbage', 'not-a-token'],
      ['empty', ''],
      ['header not JSON', `${b64('not json')}.${p}.${s}`],
      ['payload not JSON', `${h}.${b64('not json')}.${s}`],
    ];
    assert.equal((await tokens.verify(signRaw({}, claims))).sub, subject.userId, 'the hand signer itself is sound');
    for (const [why, token] of cases) await rejects(typeof token === 'string' ? token : await token(), why);
  });
});
