import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../clock.js';
import { AuthError } from '../errors/auth-error.js';
import { createEventBus, type SecurityEvent, type TokenRejectionReason } from '../events/bus.js';
import { KeyRing } from '../keys/key-ring.js';
import { createSealer } from '../keys/sealer.js';
import { sqlStores } from '../store/sql/sql-stores.js';
import { testSecret } from '../test-support/config.js';
import { pgliteBackend, type TestDatabase } from '../test-support/databases.js';
import type { RevokedReason } from '../revocation/revocation-cache.js';
import { createAccessTokens, type AccessTokenClaims, type AccessTokens } from './access-token.js';
import { refusalReasons, refuse } from '../verify/result.js';
import { createAccessVerifier, forgeryOf, type AccessVerifier } from './access-verifier.js';

const issuer = 'https://auth.test.example';
const audience = 'tessera';
const subject = {
  userId: '0b6f6f0e-8f4f-4a43-9d37-2a3f0d1c5e11',
  sessionId: '5d2b1f2c-7a0e-4c51-8a51-3c0f7d9e2b22',
  username: 'alice',
  roles: ['user'],
  permissions: [],
  amr: ['pwd'],
  tenant: null,
};
const origin = { context: { ip: '203.0.113.9' }, endpoint: '/auth/me' };

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/*
 * Which refused tokens count as forged (`token.rejected`, the forged_tokens detection rule, the
 * tessera_tokens_rejected_total metric) and under which reason. The classification is pinned
 * case by case, including the order of the checks (a refused header member is reported before an
 * unknown kid; a stranger's signature before a wrong typ), so moving the checks keeps it.
 */
describe('access verifier: forgery classification', () => {
  let database: TestDatabase;
  let ring: KeyRing;
  let tokens: AccessTokens;
  let verifier: AccessVerifier;
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const rejected: SecurityEvent[] = [];
  let revoked: RevokedReason | undefined;

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
    const events = createEventBus({ now: () => clock.now() });
    events.subscribe((event) => {
      if (event.type === 'token.rejected') rejected.push(event);
    });
    verifier = createAccessVerifier({ tokens, revocations: { check: () => revoked }, clock, events });
  });
  after(() => database.cleanup());

  function signWith(key: KeyObject, header: Record<string, unknown>, claims: unknown): string {
    const input = `${b64({ alg: 'RS256', kid: ring.signingKey.kid, typ: 'at+jwt', ...header })}.${b64(claims)}`;
    return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
  }

  it('reports forged and tampered tokens with their reason, and nothing else', async () => {
    const { token: real, claims } = await tokens.issue(subject);
    const ours = ring.signingKey.privateKey;
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const [h, p, s] = real.split('.') as [string, string, string];
    const { kid } = ring.signingKey;
    const publicPem = ring.verificationKey(kid)!.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const hsInput = `${b64({ alg: 'HS256', kid, typ: 'at+jwt' })}.${p}`;
    const last = s.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const twin = alphabet[(alphabet.indexOf(last) & ~0b1111) | 0b0001]!;

    const cases: [string, string, TokenRejectionReason | undefined][] = [
      ['tampered payload', `${h}.${b64({ ...claims, roles: ['admin'] })}.${s}`, 'bad_signature'],
      ['a stranger signed under our kid', signWith(stranger, {}, claims), 'bad_signature'],
      ['signature too short', `${h}.${p}.${s.slice(0, 300)}`, 'bad_signature'],
      ['signature zeroed', `${h}.${p}.${'A'.repeat(342)}`, 'bad_signature'],
      ['a second encoding of the signature', `${h}.${p}.${s.slice(0, -1)}${twin}`, 'bad_signature'],
      ['a stranger signed a wrong typ', signWith(stranger, { typ: 'JWT' }, claims), 'bad_signature'],
      ['a stranger signed a payload that is not JSON', signWith(stranger, {}, 'not json'), 'bad_signature'],
      ['unknown kid', signWith(stranger, { kid: 'not-ours' }, claims), 'unknown_key'],
      ['alg none under an unknown kid', `${b64({ alg: 'none', kid: 'not-ours' })}.${p}.${s}`, 'unknown_key'],
      ['no kid', `${b64({ alg: 'RS256', typ: 'at+jwt' })}.${p}.${s}`, 'bad_header'],
      ['jku', signWith(stranger, { jku: 'https://evil.example/jwks' }, claims), 'bad_header'],
      ['jku under an unknown kid', signWith(stranger, { jku: 'https://evil.example/jwks', kid: 'not-ours' }, claims), 'bad_header'],
      ['embedded jwk', signWith(ours, { jwk: ring.jwks().keys[0] }, claims), 'bad_header'],
      ['crit, validly signed', signWith(ours, { crit: ['exp'], exp: 1 }, claims), 'bad_header'],
      ['zip', signWith(ours, { zip: 'DEF' }, claims), 'bad_header'],
      ['alg none under our kid', `${b64({ alg: 'none', kid })}.${p}.${s}`, 'bad_header'],
      ['HS256 keyed with our public key', `${hsInput}.${createHmac('sha256', publicPem).update(hsInput).digest('base64url')}`, 'bad_header'],
      ['PS256 on our RS256 key', `${b64({ alg: 'PS256', kid, typ: 'at+jwt' })}.${p}.${s}`, 'bad_header'],
      ['no alg', `${b64({ kid, typ: 'at+jwt' })}.${p}.${s}`, 'bad_header'],
      // Not forgery: malformed, oversized, or validly signed but failing a claim.
      ['garbage', 'not-a-jwt', undefined],
      ['alg none with an empty signature', `${b64({ alg: 'none', kid })}.${p}.`, undefined],
      ['header not JSON', `${b64('not json')}.${p}.${s}`, undefined],
      ['header an array', `${b64([{ alg: 'RS256', kid }])}.${p}.${s}`, undefined],
      ['over 8 KiB', signWith(ours, {}, { ...claims, padding: 'x'.repeat(9000) }), undefined],
      ['payload not JSON, validly signed', signWith(ours, {}, 'not json'), undefined],
      ['typ JWT, validly signed', signWith(ours, { typ: 'JWT' }, claims), undefined],
      ['wrong issuer', signWith(ours, {}, { ...claims, iss: 'https://evil.example' }), undefined],
      ['wrong audience', signWith(ours, {}, { ...claims, aud: 'other' }), undefined],
      ['expired', signWith(ours, {}, { ...claims, exp: claims.iat - 60, iat: claims.iat - 120, nbf: claims.iat - 120 }), undefined],
      ['no sid', signWith(ours, {}, { ...claims, sid: undefined }), undefined],
    ];
    for (const [why, token, reason] of cases) {
      rejected.length = 0;
      await assert.rejects(verifier.verify(token, origin), (error: unknown) => error instanceof AuthError && error.code === 'invalid_token', why);
      assert.deepEqual(
        rejected.map((event) => event.type === 'token.rejected' && [event.payload.reason, event.payload.endpoint, event.context.ip]),
        reason ? [[reason, '/auth/me', '203.0.113.9']] : [],
        why,
      );
    }
  });

  it('reports nothing without an origin, and nothing for a revoked token', async () => {
    rejected.length = 0;
    const { token } = await tokens.issue(subject);
    const [h, p] = token.split('.');
    await assert.rejects(verifier.verify(`${h}.${p}.${'A'.repeat(342)}`), AuthError);
    revoked = 'token_revoked';
    try {
      await assert.rejects(verifier.verify(token, origin), (error: unknown) => {
        assert.ok(error instanceof AuthError);
        assert.equal(error.description, 'The access token has been revoked.');
        assert.equal(error.detail, 'token_revoked');
        return true;
      });
    } finally {
      revoked = undefined;
    }
    assert.deepEqual(rejected, []);
    assert.equal((await verifier.verify(token, origin)).sub, subject.userId);
  });

  it('answers from the cache only a token verified before, still valid, and checks its revocation every time', async () => {
    const { token } = await tokens.issue(subject);
    assert.equal(verifier.verifyCached(token), undefined, 'never verified');
    const claims = await verifier.verify(token, origin);
    assert.equal(verifier.verifyCached(token), claims, 'the same claims object');
    revoked = 'session_revoked';
    try {
      assert.throws(() => verifier.verifyCached(token), (error: unknown) => {
        assert.ok(error instanceof AuthError);
        assert.equal(error.code, 'invalid_token');
        assert.equal(error.detail, 'session_revoked');
        return true;
      });
    } finally {
      revoked = undefined;
    }
    assert.equal(verifier.verifyCached(token), claims);
    // Past its expiry (and the leeway) it leaves the cache: `verify` decides, and refuses it.
    const saved = clock.now();
    clock.set(saved + 16 * 60_000 + 31_000);
    try {
      assert.equal(verifier.verifyCached(token), undefined);
      await assert.rejects(verifier.verify(token, origin), AuthError);
    } finally {
      clock.set(saved);
    }
    assert.equal(verifier.verifyCached(token), undefined, 'dropped, not kept');
  });

  it('classifies every reason code of the verification core', () => {
    assert.deepEqual(Object.fromEntries(refusalReasons.map((reason) => [reason, forgeryOf(reason) ?? null])), {
      too_large: null,
      malformed: null,
      forbidden_header: 'bad_header',
      unsupported_crit: 'bad_header',
      missing_kid: 'bad_header',
      unknown_kid: 'unknown_key',
      unsupported_alg: 'bad_header',
      alg_mismatch: 'bad_header',
      bad_signature: 'bad_signature',
      wrong_type: null,
      wrong_issuer: null,
      wrong_audience: null,
      expired: null,
      not_yet_valid: null,
      issued_in_future: null,
      missing_claim: null,
      invalid_claim: null,
      lifetime_too_long: null,
    });
  });
});

describe('access verifier: the verified-token cache', () => {
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const now = Math.floor(clock.now() / 1000);
  const checked: string[] = [];
  const cacheEvents = createEventBus({ now: () => clock.now() });
  const claimsOf = (token: string): AccessTokenClaims => ({
    iss: issuer,
    aud: audience,
    sub: token,
    client_id: 'tessera',
    iat: now,
    nbf: now,
    exp: now + 900,
    jti: token,
    sid: subject.sessionId,
    roles: ['user'],
    permissions: [],
    amr: ['pwd'],
  });
  const verifier = createAccessVerifier({
    tokens: {
      check: async (token) => {
        checked.push(token);
        return token.startsWith('forged') ? refuse('bad_signature', 'bad signature') : { ok: true, claims: claimsOf(token) };
      },
    },
    revocations: { check: () => undefined },
    clock,
    events: cacheEvents,
    cacheSize: 4,
  });
  const reported: SecurityEvent[] = [];
  cacheEvents.subscribe((event) => {
    if (event.type === 'token.rejected') reported.push(event);
  });

  it('holds at most cacheSize tokens and always the last half of them used; a dropped token is verified again', async () => {
    const cached = (tokens: string[]) => tokens.filter((token) => verifier.verifyCached(token) !== undefined);
    for (const token of ['a', 'b', 'c', 'd', 'e', 'f']) await verifier.verify(token);
    // The two used last are cached, and never more than four.
    assert.deepEqual(cached(['e', 'f']), ['e', 'f']);
    assert.ok(cached(['a', 'b', 'c', 'd']).length <= 2);
    assert.equal(verifier.verifyCached('a'), undefined, 'the least recently used is gone');
    // A token in use stays however many new ones arrive.
    for (const token of ['h', 'i', 'j', 'k', 'l', 'm']) {
      await verifier.verify(token);
      assert.ok(verifier.verifyCached('f'), `f after ${token}`);
    }
    assert.equal(checked.filter((token) => token === 'f').length, 1, 'verified once');
    assert.equal((await verifier.verify('a')).sub, 'a');
    assert.equal(checked.filter((token) => token === 'a').length, 2, 'a dropped token is verified again');
  });

  it('hands back the same claims object while cached, and none once the token has expired', async () => {
    await verifier.verify('g');
    assert.equal(verifier.verifyCached('g'), verifier.verifyCached('g'));
    clock.advance(901_000 + 30_000);
    assert.equal(verifier.verifyCached('g'), undefined);
  });

  it('checks a refused token once when a check without an origin (the fast path) is followed by the route\'s, and reports it once', async () => {
    const refusedBy = async (origin?: typeof sampleOrigin) =>
      verifier.verify('forged-1', origin).then(
        () => assert.fail('accepted'),
        (error: unknown) => (error as AuthError).code,
      );
    const sampleOrigin = { context: { ip: '203.0.113.7' }, endpoint: '/auth/verify' };
    assert.equal(await refusedBy(), 'invalid_token');
    assert.equal(reported.length, 0, 'no origin, no event');
    assert.equal(await refusedBy(sampleOrigin), 'invalid_token');
    assert.equal(checked.filter((token) => token === 'forged-1').length, 1, 'one signature check');
    assert.equal(reported.length, 1);
    // Taken once: the next presentation is checked and reported again.
    assert.equal(await refusedBy(sampleOrigin), 'invalid_token');
    assert.equal(checked.filter((token) => token === 'forged-1').length, 2);
    assert.equal(reported.length, 2);
    // Kept for a second at most.
    assert.equal(await refusedBy(), 'invalid_token');
    clock.advance(1_001);
    assert.equal(await refusedBy(sampleOrigin), 'invalid_token');
    assert.equal(checked.filter((token) => token === 'forged-1').length, 4);
  });
});
