import assert from 'node:assert/strict';
import { createHmac, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import { jwtVerify } from 'jose';
import { createAccessTokenVerifier, maxTokenBytes, type AccessTokenResult } from './access-token.js';
import { cryptoParameters, toLowS, type JwsAlgorithm } from './algorithms.js';
import { createVerificationKey, type VerificationKey } from './jws.js';
import { refusalReasons, type RefusalReason } from './result.js';

/*
 * Every reason code, each from tokens that differ from a valid one in one respect, through the
 * synchronous and the thread-pool path. jose is the independent check: every token we accept, jose
 * accepts with the same claims; where jose accepts and we refuse, the case is one where we are
 * stricter on purpose, and the list of them is pinned below.
 */

const issuer = 'https://auth.test.example';
const audience = 'tessera';
const nowMs = Date.UTC(2030, 0, 1);
const now = nowMs / 1000;
const leeway = 30;
const ttl = 900;

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const privateKeys: Record<JwsAlgorithm, KeyObject> = {
  RS256: rsa,
  PS256: rsa,
  ES256: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
  EdDSA: generateKeyPairSync('ed25519').privateKey,
};
const keys = new Map<string, VerificationKey>(
  Object.entries(privateKeys).map(([alg, key]) => [`k-${alg}`, createVerificationKey(alg as JwsAlgorithm, createPublicKey(key))]),
);
const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

const verifier = createAccessTokenVerifier({
  keys: (kid) => keys.get(kid),
  issuer: [issuer, 'https://second.test.example'],
  audience,
  clock: { now: () => nowMs },
  leewaySeconds: leeway,
  maxLifetimeSeconds: ttl,
});

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: issuer,
    aud: audience,
    sub: 'user-1',
    client_id: 'tessera',
    iat: now,
    nbf: now,
    exp: now + ttl,
    jti: 'jti-1',
    sid: 'sid-1',
    roles: ['admin'],
    permissions: ['orders:read'],
    amr: ['pwd'],
    username: 'alice',
    ...overrides,
  };
}

/** Signs what it is given, as a forger with (or without) the right key would. */
function token(options: { alg?: JwsAlgorithm; header?: Record<string, unknown>; payload?: unknown; key?: KeyObject } = {}): string {
  const alg = options.alg ?? 'RS256';
  const input = `${b64({ alg, kid: `k-${alg}`, typ: 'at+jwt', ...options.header })}.${b64(options.payload ?? claims())}`;
  const [digest, key] = cryptoParameters(alg, options.key ?? privateKeys[alg]);
  const raw = sign(digest, Buffer.from(input), key);
  return `${input}.${(alg === 'ES256' ? toLowS(raw) : raw).toString('base64url')}`;
}

function withSignature(valid: string, signature: string): string {
  return `${valid.split('.').slice(0, 2).join('.')}.${signature}`;
}

const valid = token();
const [h, p, s] = valid.split('.') as [string, string, string];
const rsaPem = keys.get('k-RS256')!.publicKey.export({ format: 'pem', type: 'spki' }).toString();
const hsInput = `${b64({ alg: 'HS256', kid: 'k-RS256', typ: 'at+jwt' })}.${p}`;
const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const spareBits = alphabet[(alphabet.indexOf(s.at(-1)!) & ~0b1111) | 0b0001]!;
const es = token({ alg: 'ES256' }).split('.') as [string, string, string];
const n = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const esBytes = Buffer.from(es[2], 'base64url');
const highS = Buffer.concat([esBytes.subarray(0, 32), Buffer.from((n - BigInt(`0x${esBytes.subarray(32).toString('hex')}`)).toString(16).padStart(64, '0'), 'hex')]);
const without = (name: string) => claims({ [name]: undefined });

const refused: [RefusalReason, string, unknown][] = [
  ['too_large', 'over 8 KiB', token({ payload: claims({ padding: 'x'.repeat(maxTokenBytes) }) })],
  ['too_large', 'not a string', 42],
  ['malformed', 'garbage', 'not-a-token'],
  ['malformed', 'empty', ''],
  ['malformed', 'two segments', `${h}.${p}`],
  ['malformed', 'four segments', `${valid}.x`],
  ['malformed', 'an empty signature (alg none)', `${b64({ alg: 'none', kid: 'k-RS256' })}.${p}.`],
  ['malformed', 'padding in a segment', `${h}=.${p}.${s}`],
  ['malformed', 'header not JSON', `${b64('not json')}.${p}.${s}`],
  ['malformed', 'header an array', `${b64([{ alg: 'RS256', kid: 'k-RS256' }])}.${p}.${s}`],
  ['malformed', 'payload not JSON, validly signed', token({ payload: 'not json' })],
  ['malformed', 'payload an array, validly signed', token({ payload: [claims()] })],
  ...['jwk', 'jku', 'x5u', 'x5c', 'x5t', 'x5t#S256', 'b64', 'zip', 'enc'].map(
    (member): [RefusalReason, string, unknown] => ['forbidden_header', `header member ${member}`, token({ header: { [member]: member === 'b64' ? false : 'x' } })],
  ),
  ['unsupported_crit', 'crit naming exp', token({ header: { crit: ['exp'], exp: 1 } })],
  ['unsupported_crit', 'crit naming an unknown member', token({ header: { crit: ['x-custom'], 'x-custom': true } })],
  ['missing_kid', 'no kid', token({ header: { kid: undefined } })],
  ['missing_kid', 'a numeric kid', token({ header: { kid: 1 } })],
  ['unknown_kid', 'a kid we never published', token({ header: { kid: 'k-other' }, key: stranger })],
  ['unsupported_alg', 'alg none', `${b64({ alg: 'none', kid: 'k-RS256', typ: 'at+jwt' })}.${p}.${s}`],
  ['unsupported_alg', 'HS256 keyed with our public key', `${hsInput}.${createHmac('sha256', rsaPem).update(hsInput).digest('base64url')}`],
  ['unsupported_alg', 'RS512', `${b64({ alg: 'RS512', kid: 'k-RS256', typ: 'at+jwt' })}.${p}.${s}`],
  ['unsupported_alg', 'no alg', `${b64({ kid: 'k-RS256', typ: 'at+jwt' })}.${p}.${s}`],
  ['alg_mismatch', 'PS256 header on the RS256 key', `${b64({ alg: 'PS256', kid: 'k-RS256', typ: 'at+jwt' })}.${p}.${s}`],
  ['alg_mismatch', 'RS256 header on the ES256 key', token({ header: { kid: 'k-ES256' } })],
  ['bad_signature', 'tampered payload', `${h}.${b64(claims({ roles: ['admin', 'root'] }))}.${s}`],
  ['bad_signature', 'a stranger signed under our kid', token({ key: stranger })],
  ['bad_signature', 'a stranger signed a wrong typ', token({ key: stranger, header: { typ: 'JWT' } })],
  ['bad_signature', 'signature too short', withSignature(valid, s.slice(0, 300))],
  ['bad_signature', 'signature too long', withSignature(valid, `${s}AA`)],
  ['bad_signature', 'a second encoding of the signature', withSignature(valid, `${s.slice(0, -1)}${spareBits}`)],
  ['bad_signature', 'the high-s twin of an ES256 signature', `${es[0]}.${es[1]}.${highS.toString('base64url')}`],
  ['bad_signature', 'PS256 signed with PKCS#1 v1.5', (() => withSignature(token({ alg: 'PS256' }), token({ header: { alg: 'PS256', kid: 'k-PS256' } }).split('.')[2]!))()],
  ['bad_signature', 'EdDSA tampered', `${token({ alg: 'EdDSA' }).split('.').slice(0, 2).join('.')}.${'A'.repeat(86)}`],
  ['wrong_type', 'typ JWT', token({ header: { typ: 'JWT' } })],
  ['wrong_type', 'no typ', token({ header: { typ: undefined } })],
  ['wrong_type', 'typ at+jwt with a suffix', token({ header: { typ: 'at+jwt; v=1' } })],
  ['wrong_issuer', 'another issuer', token({ payload: claims({ iss: 'https://evil.example' }) })],
  ['wrong_audience', 'another audience', token({ payload: claims({ aud: 'other-api' }) })],
  ['wrong_audience', 'a list without us', token({ payload: claims({ aud: ['a', 'b'] }) })],
  ['expired', 'exp exactly the leeway ago', token({ payload: claims({ iat: now - ttl - leeway, nbf: now - ttl - leeway, exp: now - leeway }) })],
  ['not_yet_valid', 'nbf past the leeway', token({ payload: claims({ nbf: now + leeway + 1 }) })],
  ['issued_in_future', 'iat past the leeway, nbf fine', token({ payload: claims({ iat: now + leeway + 1, exp: now + leeway + 1 + ttl }) })],
  ...['iss', 'exp', 'aud', 'sub', 'client_id', 'iat', 'jti', 'sid', 'roles', 'permissions', 'amr'].map(
    (name): [RefusalReason, string, unknown] => ['missing_claim', `no ${name}`, token({ payload: without(name) })],
  ),
  ['invalid_claim', 'exp a string', token({ payload: claims({ exp: String(now + ttl) }) })],
  ['invalid_claim', 'iat a string', token({ payload: claims({ iat: String(now) }) })],
  ['invalid_claim', 'nbf a string', token({ payload: claims({ nbf: String(now) }) })],
  ['invalid_claim', 'sub a number', token({ payload: claims({ sub: 1 }) })],
  ['invalid_claim', 'aud a list with a number', token({ payload: claims({ aud: [audience, 1] }) })],
  ['invalid_claim', 'roles a string', token({ payload: claims({ roles: 'admin' }) })],
  ['invalid_claim', 'permissions with a number', token({ payload: claims({ permissions: ['a', 1] }) })],
  ['invalid_claim', 'amr an object', token({ payload: claims({ amr: { pwd: true } }) })],
  ['invalid_claim', 'username a number', token({ payload: claims({ username: 7 }) })],
  ['invalid_claim', 'tenant null', token({ payload: claims({ tenant: null }) })],
  ['invalid_claim', 'scope a list', token({ payload: claims({ scope: ['a'] }) })],
  ['lifetime_too_long', 'exp - iat one second over the TTL', token({ payload: claims({ exp: now + ttl + 1 }) })],
];

const accepted: [string, string][] = [
  ['RS256', valid],
  ['PS256', token({ alg: 'PS256' })],
  ['ES256', token({ alg: 'ES256' })],
  ['EdDSA', token({ alg: 'EdDSA' })],
  ['the media type in full, any case', token({ header: { typ: 'application/AT+JWT' } })],
  ['an audience list that names us', token({ payload: claims({ aud: ['other', audience] }) })],
  ['the second trusted issuer', token({ payload: claims({ iss: 'https://second.test.example' }) })],
  ['exp one second inside the leeway', token({ payload: claims({ iat: now - ttl - leeway + 1, nbf: now - ttl, exp: now - leeway + 1 }) })],
  ['nbf and iat at the leeway', token({ payload: claims({ iat: now + leeway, nbf: now + leeway, exp: now + leeway + ttl }) })],
  ['no nbf', token({ payload: claims({ nbf: undefined }) })],
  ['a space-delimited scope and a tenant', token({ payload: claims({ scope: 'a b', tenant: 'acme' }) })],
  ['exp - iat exactly the TTL', token({ payload: claims({ exp: now + ttl }) })],
];

async function bothPaths(input: unknown): Promise<AccessTokenResult> {
  const sync = verifier.verify(input);
  assert.deepEqual(await verifier.verifyOffThread(input), sync, 'both paths agree');
  return sync;
}

async function joseAccepts(input: unknown): Promise<Record<string, unknown> | undefined> {
  if (typeof input !== 'string') return undefined;
  try {
    const { payload } = await jwtVerify(
      input,
      (header) => {
        const key = typeof header.kid === 'string' ? keys.get(header.kid) : undefined;
        if (!key || header.alg !== key.alg) throw new Error('no key');
        return key.publicKey;
      },
      { issuer: [issuer, 'https://second.test.example'], audience, typ: 'at+jwt', clockTolerance: leeway, currentDate: new Date(nowMs), requiredClaims: ['iss', 'aud', 'exp', 'iat', 'sub', 'jti'] },
    );
    return payload as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

describe('verification core: access tokens', () => {
  it('refuses every case with its reason code, and the table covers every code', async () => {
    for (const [reason, why, input] of refused) {
      const result = await bothPaths(input);
      assert.equal(result.ok, false, why);
      assert.equal(!result.ok && result.reason, reason, `${why}: ${!result.ok && result.detail}`);
    }
    assert.deepEqual([...new Set(refused.map(([reason]) => reason))].sort(), [...refusalReasons].sort());
  });

  it('accepts the controls, with exactly the signed claims', async () => {
    for (const [why, input] of accepted) {
      const result = await bothPaths(input);
      assert.ok(result.ok, `${why}: ${!result.ok && result.detail}`);
      assert.deepEqual(result.claims, JSON.parse(Buffer.from(input.split('.')[1]!, 'base64url').toString()), why);
    }
  });

  it('never accepts what jose refuses; it is stricter than jose only where it means to be', async () => {
    for (const [why, input] of accepted) {
      const result = verifier.verify(input);
      assert.deepEqual(await joseAccepts(input), result.ok && result.claims, `jose agrees: ${why}`);
    }
    const stricter: string[] = [];
    for (const [reason, why, input] of refused) if (await joseAccepts(input)) stricter.push(`${reason}: ${why}`);
    assert.deepEqual(stricter, [
      // The size cap comes before any parsing (SPEC §2); jose has none.
      'too_large: over 8 KiB',
      // Header members that carry or point to a key, or change the encoding: jose ignores them
      // (or uses `jwk` only when asked to); we refuse them (RFC 8725 §3.10).
      ...['jwk', 'jku', 'x5u', 'x5c', 'x5t', 'x5t#S256', 'b64', 'zip', 'enc'].map((member) => `forbidden_header: header member ${member}`),
      // One encoding per signature (ECDSA malleability, spare base64url bits).
      'bad_signature: a second encoding of the signature',
      'bad_signature: the high-s twin of an ES256 signature',
      // jose checks iat only against maxTokenAge; SPEC §2 checks it with the leeway.
      'issued_in_future: iat past the leeway, nbf fine',
      // Tessera's profile: RFC 9068's client_id and Tessera's own claims are required, with their shapes.
      'missing_claim: no client_id',
      'missing_claim: no sid',
      'missing_claim: no roles',
      'missing_claim: no permissions',
      'missing_claim: no amr',
      'invalid_claim: sub a number',
      'invalid_claim: aud a list with a number',
      'invalid_claim: roles a string',
      'invalid_claim: permissions with a number',
      'invalid_claim: amr an object',
      'invalid_claim: username a number',
      'invalid_claim: tenant null',
      'invalid_claim: scope a list',
      // No token outlives the issuer's TTL.
      'lifetime_too_long: exp - iat one second over the TTL',
    ]);
  });

  it('reads the injected clock on every call', () => {
    let clockMs = nowMs;
    const moving = createAccessTokenVerifier({ keys: (kid) => keys.get(kid), issuer, audience, clock: { now: () => clockMs } });
    assert.ok(moving.verify(valid).ok);
    clockMs = nowMs + (ttl + 29) * 1000;
    assert.ok(moving.verify(valid).ok, 'inside the default 30 s leeway');
    clockMs = nowMs + (ttl + 30) * 1000;
    assert.deepEqual(moving.verify(valid), { ok: false, reason: 'expired', detail: 'expired' });
  });
});
