import assert from 'node:assert/strict';
import {
  constants,
  createHmac,
  createPublicKey,
  generateKeyPairSync,
  sign,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { createUser, signIn, startTestApp, strongPassword, type TestApp } from '../test-support/app.js';
import { testBackends } from '../test-support/databases.js';
import { bodyLimitBytes } from './app.js';
import { startCanary, type Canary } from '../test-support/canary.js';

/*
 * Hostile input, route by route, through HTTP. Every case asserts the exact status and error code,
 * the `{error, error_description}` shape, that nothing internal leaks, that nobody got signed in,
 * and the headers every response carries.
 */

const pw = strongPassword;
const jsonType = 'application/json';
const uuidV4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** What must never appear in an error body: stack frames, exception names, paths, SQL, framework codes. */
const internalDetail =
  /\n\s+at |\bat [\w.<>]+ \(|Error:|[A-Za-z]:\\|\/(?:src|work|home|usr|tmp|app|node_modules)\/|\.[cm]?[jt]s\b|\b(?:SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM|WHERE)\b|duplicate key|violates|relation "|FST_ERR|ERR_[A-Z]|statusCode/;

interface Expected {
  status: number;
  error: string;
}
const invalidRequest: Expected = { status: 400, error: 'invalid_request' };
const invalidCredentials: Expected = { status: 401, error: 'invalid_credentials' };
const tooLarge: Expected = { status: 413, error: 'payload_too_large' };
const unsupportedType: Expected = { status: 415, error: 'unsupported_media_type' };
const notFound: Expected = { status: 404, error: 'not_found' };

let ipCounter = 0;
/** A fresh client address per request, so per-IP rate limits and IP blocks never decide a case. */
function nextIp(): string {
  ipCounter += 1;
  return `10.${(ipCounter >> 16) & 255}.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}

function assertCommonHeaders(response: LightMyRequestResponse, label: string): void {
  assert.match(String(response.headers['x-request-id'] ?? ''), /^[A-Za-z0-9._:-]{1,128}$/, `${label}: x-request-id`);
  assert.equal(response.headers['x-content-type-options'], 'nosniff', `${label}: x-content-type-options`);
  assert.equal(response.headers['x-frame-options'], 'DENY', `${label}: x-frame-options`);
  assert.ok(response.headers['referrer-policy'], `${label}: referrer-policy`);
  assert.equal(response.headers['x-powered-by'], undefined, `${label}: x-powered-by`);
}

/** The one error contract (SPEC §3), plus: no 5xx, no sign-in, no echo of submitted secrets. */
function assertError(response: LightMyRequestResponse, expected: Expected, label: string, secrets: readonly string[] = []): void {
  assert.ok(response.statusCode < 500, `${label}: ${response.statusCode} ${response.body}`);
  assert.equal(response.statusCode, expected.status, `${label}: ${response.body}`);
  assertCommonHeaders(response, label);
  assert.match(String(response.headers['content-type']), /^application\/json\b/, `${label}: content-type`);
  assert.doesNotMatch(response.body, internalDetail, `${label}: internal detail in ${response.body}`);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(response.body) as Record<string, unknown>;
  } catch {
    assert.fail(`${label}: body is not JSON: ${response.body}`);
  }
  const keys = expected.error === 'weak_password' ? ['error', 'error_description', 'reasons'] : ['error', 'error_description'];
  assert.deepEqual(Object.keys(body).sort(), keys, `${label}: body members`);
  assert.equal(body.error, expected.error, `${label}: ${response.body}`);
  assert.equal(typeof body.error_description, 'string', label);
  assert.ok((body.error_description as string).length > 0, label);
  assert.equal(body.access_token, undefined, `${label}: signed in`);
  assert.equal(body.refresh_token, undefined, `${label}: signed in`);
  for (const secret of secrets) {
    assert.ok(!(body.error_description as string).includes(secret), `${label}: echoes a submitted value`);
  }
  if (response.statusCode === 401) {
    assert.match(String(response.headers['www-authenticate']), /^Bearer realm="tessera"/, `${label}: www-authenticate`);
  }
}

// ---------------------------------------------------------------------------------------------
// Request bodies

interface BodyCase {
  name: string;
  /** Sent as JSON text; ignored when `raw` is given. */
  body?: unknown;
  /** Sent as is. */
  raw?: string;
  /** Content-Type; default application/json; null sends none. */
  type?: string | null;
  headers?: Record<string, string>;
  expect: Expected;
}

function postBody(t: TestApp, url: string, c: BodyCase): Promise<LightMyRequestResponse> {
  const type = c.type === undefined ? jsonType : c.type;
  return t.app.inject({
    method: 'POST',
    url,
    headers: { ...(type === null ? {} : { 'content-type': type }), ...c.headers },
    payload: c.raw ?? JSON.stringify(c.body),
    remoteAddress: nextIp(),
  });
}

const deepObject = (depth: number, leaf: string) => '{"a":'.repeat(depth) + leaf + '}'.repeat(depth);
const deepArray = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const kib = (n: number, char = 'a') => char.repeat(n * 1024);

/** A JSON body of exactly `bytes` bytes whose password pads it out. */
function bodyOfBytes(bytes: number, username = 'admin'): string {
  const head = `{"username":${JSON.stringify(username)},"password":"`;
  const text = `${head}${'x'.repeat(bytes - Buffer.byteLength(head) - 2)}"}`;
  assert.equal(Buffer.byteLength(text), bytes);
  return text;
}

/** Cases every JSON route shares: broken JSON, non-objects, wrong media types, sizes, nesting. */
function shapeCases(valid: Record<string, unknown>): BodyCase[] {
  const validText = JSON.stringify(valid);
  const nested: BodyCase[] = [
    { name: '5000-deep object as username', raw: `{"username":${deepObject(5000, '"admin"')},"password":"${pw}"}`, expect: invalidRequest },
    { name: '5000-deep array as password', raw: `{"username":"admin","password":${deepArray(5000)}}`, expect: invalidRequest },
    { name: '5000-deep array as the body', raw: deepArray(5000), expect: invalidRequest },
    { name: '5000-deep object as the body', raw: deepObject(5000, '1'), expect: invalidRequest },
  ];
  for (const c of nested) assert.ok(Buffer.byteLength(c.raw!) < bodyLimitBytes, `${c.name} fits the body limit`);
  return [
    { name: 'truncated JSON', raw: validText.slice(0, -5), expect: invalidRequest },
    { name: 'single-quoted JSON', raw: validText.replaceAll('"', "'"), expect: invalidRequest },
    { name: 'trailing comma', raw: `${validText.slice(0, -1)},}`, expect: invalidRequest },
    { name: 'two JSON documents', raw: `${validText}${validText}`, expect: invalidRequest },
    { name: 'empty body with a JSON content type', raw: '', expect: invalidRequest },
    { name: 'whitespace body', raw: '  \n ', expect: invalidRequest },
    { name: 'JSON array', raw: `[${validText}]`, expect: invalidRequest },
    { name: 'JSON string', raw: JSON.stringify(validText), expect: invalidRequest },
    { name: 'JSON number', raw: '42', expect: invalidRequest },
    { name: 'JSON null', raw: 'null', expect: invalidRequest },
    { name: 'JSON true', raw: 'true', expect: invalidRequest },
    { name: 'empty object', body: {}, expect: invalidRequest },
    { name: 'huge number literal as password', raw: `{"username":"admin","password":1${'0'.repeat(5000)}}`, expect: invalidRequest },
    ...nested,
    { name: '60 KiB username (under the body limit)', body: { ...valid, username: kib(60) }, expect: invalidRequest },
    { name: '60 KiB password (under the body limit)', body: { ...valid, password: kib(60) }, expect: invalidRequest },
    { name: '100 KiB username', body: { ...valid, username: kib(100) }, expect: tooLarge },
    { name: '100 KiB password', body: { ...valid, password: kib(100) }, expect: tooLarge },
    { name: '100 KiB unknown field', body: { ...valid, pad: kib(100) }, expect: tooLarge },
    { name: '100 KiB device name', body: { ...valid, device: { name: kib(100) } }, expect: tooLarge },
    { name: 'body of exactly the limit + 1 byte', raw: bodyOfBytes(bodyLimitBytes + 1), expect: tooLarge },
    { name: 'body of exactly the limit (password too long)', raw: bodyOfBytes(bodyLimitBytes), expect: invalidRequest },
    { name: 'content-length shorter than the body', raw: validText, headers: { 'content-length': '3' }, expect: invalidRequest },
    // A simple cross-site form can send these without a CORS preflight: they must never be parsed.
    { name: 'text/plain', raw: validText, type: 'text/plain', expect: unsupportedType },
    { name: 'text/plain; charset=utf-8', raw: validText, type: 'text/plain; charset=utf-8', expect: unsupportedType },
    { name: 'form-urlencoded', raw: new URLSearchParams(valid as Record<string, string>).toString(), type: 'application/x-www-form-urlencoded', expect: unsupportedType },
    {
      name: 'multipart/form-data',
      raw: `--XX\r\nContent-Disposition: form-data; name="username"\r\n\r\nadmin\r\n--XX--\r\n`,
      type: 'multipart/form-data; boundary=XX',
      expect: unsupportedType,
    },
    { name: 'application/xml', raw: '<login><username>admin</username></login>', type: 'application/xml', expect: unsupportedType },
    { name: 'text/xml', raw: '<login/>', type: 'text/xml', expect: unsupportedType },
    { name: 'application/jsonx', raw: validText, type: 'application/jsonx', expect: unsupportedType },
    { name: 'application/json-seq', raw: validText, type: 'application/json-seq', expect: unsupportedType },
    { name: 'application/octet-stream', raw: validText, type: 'application/octet-stream', expect: unsupportedType },
    { name: 'no content type', raw: validText, type: null, expect: unsupportedType },
  ];
}

/** Wrong JSON types for one field; `same` is the field's right value wrapped in an array. */
function wrongTypes(field: string, base: Record<string, unknown>, same: string): BodyCase[] {
  const values: [string, unknown][] = [
    ['number', 42],
    ['boolean', true],
    ['null', null],
    ['empty array', []],
    ['array of the right value', [same]],
    ['empty object', {}],
    ['{"$ne": null}', { $ne: null }],
    ['{"$gt": ""}', { $gt: '' }],
    ['empty string', ''],
  ];
  return values.map(([label, value]) => ({ name: `${field} as ${label}`, body: { ...base, [field]: value }, expect: invalidRequest }));
}

/** Prototype-poisoning keys: Fastify's parser refuses them (they would otherwise reach validation). */
function poisonCases(valid: Record<string, unknown>): BodyCase[] {
  const inner = JSON.stringify(valid).slice(1, -1);
  return [
    { name: '__proto__ with roles', raw: `{${inner},"__proto__":{"roles":["admin"]}}`, expect: invalidRequest },
    { name: '__proto__ first', raw: `{"__proto__":{"username":"admin"},${inner}}`, expect: invalidRequest },
    { name: 'constructor.prototype', raw: `{${inner},"constructor":{"prototype":{"roles":["admin"]}}}`, expect: invalidRequest },
    { name: 'nested __proto__', raw: `{${inner},"device":{"__proto__":{"name":"x"}}}`, expect: invalidRequest },
    { name: 'nested constructor.prototype', raw: `{${inner},"device":{"constructor":{"prototype":{"name":"x"}}}}`, expect: invalidRequest },
  ];
}

/** Passwords that must be refused before hashing, whatever the account. */
function passwordCases(base: Record<string, unknown>): BodyCase[] {
  const inner = JSON.stringify({ ...base, password: undefined }).slice(1, -1);
  const lone = (text: string): BodyCase => ({ name: `lone surrogate password ${text}`, raw: `{${inner},"password":"${text}"}`, expect: invalidRequest });
  return [
    lone('\\ud800abc'),
    lone('abc\\udfff'),
    lone('\\udc00\\ud800 reversed pair'),
    { name: 'password with NUL', body: { ...base, password: `${pw}\u0000` }, expect: invalidRequest },
    { name: 'password of 1025 ASCII bytes', body: { ...base, password: 'a'.repeat(1025) }, expect: invalidRequest },
    { name: 'password of 400 three-byte characters (1200 bytes)', body: { ...base, password: '€'.repeat(400) }, expect: invalidRequest },
    { name: 'password of 300 emoji (1200 bytes)', body: { ...base, password: '😀'.repeat(300) }, expect: invalidRequest },
  ];
}

const controlText: [string, string][] = [
  ['NUL at the end', 'x\u0000'],
  ['NUL at the start', '\u0000x'],
  ['CRLF header injection', 'x\r\nX-Injected: 1'],
  ['newline log injection', 'x\n2030-01-01 INFO login ok user=root'],
  ['ANSI escape', 'x\u001b[2J'],
  ['OSC terminal title', 'x\u001b]0;pwned\u0007'],
  ['DEL', 'x\u007f'],
  ['tab', 'x\t'],
  ['backspace', 'x\u0008'],
  // C1 controls are control characters too (Unicode Cc); NEL ends a line in some log viewers.
  ['C1 NEL', 'x\u0085y'],
  ['C1 CSI', 'x\u009b31m'],
];

function loginCases(): BodyCase[] {
  const valid = { username: 'admin', password: pw };
  const cases: BodyCase[] = [
    ...shapeCases(valid),
    ...wrongTypes('username', valid, 'admin'),
    ...wrongTypes('password', valid, pw),
    ...wrongTypes('email', { password: pw }, 'admin@example.com'),
    ...[['string', 'laptop'], ['number', 1], ['array', []], ['null', null], ['boolean', true], ['name as number', { name: 42 }],
      ['name as {"$ne": null}', { name: { $ne: null } }], ['fingerprint as array', { fingerprint: ['x'] }], ['unknown member', { name: 'x', admin: true }],
      ['empty name', { name: '' }], ['name of 129 characters', { name: 'n'.repeat(129) }], ['fingerprint of 257 characters', { fingerprint: 'f'.repeat(257) }],
    ].map(([label, device]): BodyCase => ({ name: `device ${String(label)}`, body: { ...valid, device }, expect: invalidRequest })),
    ...['admin', 'roles', 'permissions', 'grant_type', 'client_id', 'sub', 'Username', 'password ', ''].map((field): BodyCase => ({
      name: `unknown field ${JSON.stringify(field)}`,
      body: { ...valid, [field]: field === 'roles' ? ['admin'] : true },
      expect: invalidRequest,
    })),
    ...poisonCases(valid),
    ...passwordCases(valid),
    { name: 'username and email together', body: { ...valid, email: 'admin@example.com' }, expect: invalidRequest },
    { name: 'neither username nor email', body: { password: pw }, expect: invalidRequest },
    { name: 'neither username nor email, with a device', body: { password: pw, device: { name: 'x' } }, expect: invalidRequest },
    { name: 'no password', body: { username: 'admin' }, expect: invalidRequest },
    { name: 'username of 257 characters', body: { ...valid, username: 'a'.repeat(257) }, expect: invalidRequest },
    { name: 'email of 321 characters', body: { email: `${'a'.repeat(309)}@example.com`, password: pw }, expect: invalidRequest },
    { name: 'password of exactly 1024 bytes (wrong)', body: { ...valid, password: 'p'.repeat(1024) }, expect: invalidCredentials },
  ];
  for (const [label, text] of controlText) {
    // Right credentials, so only the control character can be the reason for refusing.
    cases.push({ name: `username with ${label}`, body: { ...valid, username: text.replace('x', 'admin') }, expect: invalidRequest });
    cases.push({ name: `email with ${label}`, body: { email: text.replace('x', 'admin@example.com'), password: pw }, expect: invalidRequest });
    cases.push({ name: `device name with ${label}`, body: { ...valid, device: { name: text.replace('x', 'laptop') } }, expect: invalidRequest });
    cases.push({ name: `device fingerprint with ${label}`, body: { ...valid, device: { fingerprint: text.replace('x', 'fp') } }, expect: invalidRequest });
  }
  // With the real password of "admin": an injectable lookup would find admin and sign in.
  const injections = [
    "admin' OR '1'='1",
    "admin' --",
    "admin'--",
    'admin--',
    "admin' #",
    'admin"; DROP TABLE users; --',
    "' OR 1=1 --",
    "' UNION SELECT * FROM users --",
    '*',
    '*)(uid=*))',
    '*)(uid=*))(|(uid=*',
    'admin)(|(password=*))',
    '%',
    'admin%',
    '_dmin',
    'adm_n',
    'admin\\',
  ];
  for (const username of injections) cases.push({ name: `injection-like username ${username}`, body: { username, password: pw }, expect: invalidCredentials });
  for (const email of ["admin@example.com' --", '%@example.com', '_dmin@example.com', "' OR '1'='1'@example.com", '*@example.com']) {
    cases.push({ name: `injection-like email ${email}`, body: { email, password: pw }, expect: invalidCredentials });
  }
  return cases;
}

function registerCases(): BodyCase[] {
  const valid = { username: 'newcomer', password: pw };
  const cases: BodyCase[] = [
    ...shapeCases(valid),
    ...wrongTypes('username', valid, 'newcomer'),
    ...wrongTypes('password', valid, pw),
    ...wrongTypes('email', valid, 'newcomer@example.com'),
    ...(
      [['roles', ['admin']], ['permissions', ['*']], ['admin', true], ['is_admin', true], ['id', '00000000-0000-4000-8000-000000000000'],
        ['password_hash', '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA'], ['disabled', false], ['tenant', 'acme'], ['email_verified', true], ['device', { name: 'x' }]] as const
    ).map(([field, value]): BodyCase => ({ name: `unknown field ${field}`, body: { ...valid, [field]: value }, expect: invalidRequest })),
    ...poisonCases(valid),
    ...passwordCases(valid),
    { name: 'no username', body: { password: pw }, expect: invalidRequest },
    { name: 'no password', body: { username: 'newcomer' }, expect: invalidRequest },
    { name: 'username of 65 characters', body: { ...valid, username: 'a'.repeat(65) }, expect: invalidRequest },
    { name: 'username of 257 characters', body: { ...valid, username: 'a'.repeat(257) }, expect: invalidRequest },
    { name: 'username with a right-to-left override', body: { ...valid, username: '\u202enimda' }, expect: invalidRequest },
    { name: 'username with a zero-width space', body: { ...valid, username: 'new\u200bcomer' }, expect: invalidRequest },
    { name: 'username with a BOM', body: { ...valid, username: '\ufeffnewcomer' }, expect: invalidRequest },
    { name: 'username with a space', body: { ...valid, username: 'new comer' }, expect: invalidRequest },
    { name: 'e-mail without a domain', body: { ...valid, email: 'newcomer' }, expect: invalidRequest },
    { name: 'e-mail without a dot', body: { ...valid, email: 'a@b' }, expect: invalidRequest },
    { name: 'taken username', body: { ...valid, username: 'admin' }, expect: { status: 409, error: 'username_taken' } },
    { name: 'taken username in capitals', body: { ...valid, username: 'ADMIN' }, expect: { status: 409, error: 'username_taken' } },
    { name: 'taken username in fullwidth', body: { ...valid, username: 'ａｄｍｉｎ' }, expect: { status: 409, error: 'username_taken' } },
    { name: 'taken e-mail', body: { ...valid, email: 'ADMIN@example.com' }, expect: { status: 409, error: 'email_taken' } },
    { name: 'short password', body: { ...valid, password: 'short pw' }, expect: { status: 400, error: 'weak_password' } },
  ];
  for (const [label, text] of controlText) {
    cases.push({ name: `username with ${label}`, body: { ...valid, username: text.replace('x', 'newcomer') }, expect: invalidRequest });
    cases.push({ name: `email with ${label}`, body: { ...valid, email: text.replace('x', 'newcomer@example.com') }, expect: invalidRequest });
  }
  for (const username of ["admin' OR '1'='1", 'admin"; DROP TABLE users; --', "' OR 1=1 --", '*)(uid=*))', '*', '%', '_dmin', '../admin']) {
    cases.push({ name: `injection-like username ${username}`, body: { ...valid, username }, expect: invalidRequest });
  }
  return cases;
}

/** What a response to a body case may not echo: the secrets and the hostile strings sent. */
function submitted(c: BodyCase): string[] {
  const values = [pw];
  if (c.body && typeof c.body === 'object') {
    for (const value of Object.values(c.body)) if (typeof value === 'string' && value.length >= 6) values.push(value);
  }
  return values;
}

// ---------------------------------------------------------------------------------------------
// Tokens

type Claims = Record<string, unknown>;
const b64json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const decodePart = (token: string, index: number) => JSON.parse(Buffer.from(token.split('.')[index] ?? '', 'base64url').toString()) as Claims;

/** A compact JWS signed with node:crypto whatever its header says, so forbidden members can be set. */
function signJws(header: Claims, payload: Claims, key: KeyObject): string {
  const input = `${b64json(header)}.${b64json(payload)}`;
  const data = Buffer.from(input);
  let signature: Buffer;
  if (key.asymmetricKeyType === 'ed25519') signature = sign(null, data, key);
  else if (key.asymmetricKeyType === 'ec') signature = sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
  else if (header.alg === 'PS256') {
    signature = sign('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST });
  } else signature = sign(header.alg === 'RS512' ? 'sha512' : 'sha256', data, key);
  return `${input}.${signature.toString('base64url')}`;
}

function hs256(header: Claims, payload: Claims, secret: string | Buffer): string {
  const input = `${b64json(header)}.${b64json(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

function keyPairLike(key: KeyObject): { privateKey: KeyObject; publicKey: KeyObject } {
  if (key.asymmetricKeyType === 'ec') return generateKeyPairSync('ec', { namedCurve: 'P-256' });
  if (key.asymmetricKeyType === 'ed25519') return generateKeyPairSync('ed25519');
  return generateKeyPairSync('rsa', { modulusLength: 2048 });
}

/** Everything needed to forge tokens against one running app. */
interface Forgery {
  valid: string;
  refresh: string;
  claims: Claims;
  /** The header the server issues: alg, kid, typ at+jwt. */
  good: Claims;
  kid: string;
  alg: string;
  now: number;
  parts: [string, string, string];
  /** Signed with the server's own private key. */
  forge(header: Claims, claims?: Claims): string;
  /** Signed with a key the attacker made (published at the canary). */
  byAttacker(header: Claims): string;
  attackerJwk: JsonWebKey;
  published: JsonWebKey;
  hmacSecrets: Record<'SPKI PEM' | 'SPKI PEM without the final newline' | 'SPKI DER' | 'PKCS#1 PEM' | 'JWK JSON', string | Buffer>;
  otherUserId: string;
  canaryUrl: string;
}

interface MeCase {
  name: string;
  authorization?: (f: Forgery) => string;
  url?: (f: Forgery) => string;
  /** plain: only `Bearer realm="tessera"` (no credentials were sent, RFC 6750 §3.1); error: with error="invalid_token". */
  challenge: 'plain' | 'error';
}

function meCases(): MeCase[] {
  const plain = (name: string, authorization: (f: Forgery) => string): MeCase => ({ name, authorization, challenge: 'plain' });
  const bad = (name: string, token: (f: Forgery) => string): MeCase => ({ name, authorization: (f) => `Bearer ${token(f)}`, challenge: 'error' });
  const header = (name: string, authorization: (f: Forgery) => string): MeCase => ({ name, authorization, challenge: 'error' });
  const hmac = ['SPKI PEM', 'SPKI PEM without the final newline', 'SPKI DER', 'PKCS#1 PEM', 'JWK JSON'] as const;
  return [
    { name: 'no Authorization header', challenge: 'plain' },
    { name: 'token in the query string only', url: (f) => `/auth/me?access_token=${f.valid}`, challenge: 'plain' },
    plain('Basic', () => `Basic ${Buffer.from(`admin:${pw}`).toString('base64')}`),
    plain('Digest', () => 'Digest username="admin", realm="tessera", nonce="x", uri="/auth/me", response="y"'),
    plain('Token scheme', (f) => `Token ${f.valid}`),
    plain('ApiKey scheme', (f) => `ApiKey ${f.valid}`),
    plain('no scheme', (f) => f.valid),
    plain('BearerX scheme', (f) => `BearerX ${f.valid}`),
    plain('empty header', () => ''),
    header('"Bearer" with nothing', () => 'Bearer'),
    header('"Bearer " with nothing', () => 'Bearer '),
    header('tab after Bearer', (f) => `Bearer\t${f.valid}`),
    header('two tabs after Bearer', (f) => `Bearer\t\t${f.valid}`),
    header('two tokens', (f) => `Bearer ${f.valid} ${f.valid}`),
    header('two Bearer credentials, comma-separated', (f) => `Bearer ${f.valid}, Bearer ${f.valid}`),
    header('two Bearer credentials, no space', (f) => `Bearer ${f.valid},Bearer ${f.valid}`),
    header('extra spaces around a garbage token', () => 'Bearer   garbage   x'),
    header('quoted token', (f) => `Bearer "${f.valid}"`),
    bad('garbage', () => 'garbage'),
    bad('punctuation', () => '!!!$$$'),
    bad('three empty parts', () => '..'),
    bad('a.b.c', () => 'a.b.c'),
    bad('header only', (f) => f.parts[0]),
    bad('four parts', (f) => `${f.valid}.${f.parts[2]}`),
    bad('JWE-shaped (five parts)', (f) => `${f.parts[0]}..${f.parts[1]}.${f.parts[2]}.${f.parts[2]}`),
    bad('the refresh token', (f) => f.refresh),
    bad('bad signature', (f) => {
      const s = f.parts[2];
      return `${f.parts[0]}.${f.parts[1]}.${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`;
    }),
    bad('no signature', (f) => `${f.parts[0]}.${f.parts[1]}.`),
    bad('payload swapped for admin roles', (f) => `${f.parts[0]}.${b64json({ ...f.claims, roles: ['admin'] })}.${f.parts[2]}`),
    bad('garbage over 8 KiB', () => 'A'.repeat(9000)),
    bad('a correctly signed token over 8 KiB', (f) => f.forge(f.good, { ...f.claims, pad: 'p'.repeat(8192) })),
    bad('alg none, empty signature', (f) => `${b64json({ ...f.good, alg: 'none' })}.${f.parts[1]}.`),
    bad('alg none, with a signature', (f) => `${b64json({ ...f.good, alg: 'none' })}.${f.parts[1]}.${f.parts[2]}`),
    bad('alg None', (f) => `${b64json({ ...f.good, alg: 'None' })}.${f.parts[1]}.${f.parts[2]}`),
    bad('alg NONE', (f) => `${b64json({ ...f.good, alg: 'NONE' })}.${f.parts[1]}.${f.parts[2]}`),
    ...hmac.map((form) => bad(`HS256 signed with the public key as ${form}`, (f) => hs256({ ...f.good, alg: 'HS256' }, f.claims, f.hmacSecrets[form]))),
    bad('HS256 with the public key, no kid', (f) => hs256({ alg: 'HS256', typ: 'at+jwt' }, f.claims, f.hmacSecrets['SPKI PEM'])),
    bad("the other RSA padding (PS256 for RS256 keys) with the server's key", (f) => f.forge({ ...f.good, alg: f.alg === 'PS256' ? 'RS256' : 'PS256' })),
    bad("RS512 with the server's key", (f) => f.forge({ ...f.good, alg: 'RS512' })),
    bad('embedded jwk, attacker key', (f) => f.byAttacker({ alg: f.alg, typ: 'at+jwt', jwk: f.attackerJwk })),
    bad('embedded jwk and its kid, attacker key', (f) => f.byAttacker({ alg: f.alg, typ: 'at+jwt', kid: 'attacker', jwk: f.attackerJwk })),
    bad('embedded jwk, server key', (f) => f.forge({ ...f.good, jwk: f.published })),
    bad('jku, attacker key', (f) => f.byAttacker({ alg: f.alg, typ: 'at+jwt', kid: 'attacker', jku: `${f.canaryUrl}/jwks.json` })),
    bad('jku, server key', (f) => f.forge({ ...f.good, jku: `${f.canaryUrl}/jwks.json` })),
    bad('x5u, attacker key', (f) => f.byAttacker({ alg: f.alg, typ: 'at+jwt', kid: 'attacker', x5u: `${f.canaryUrl}/cert.pem` })),
    bad('x5u, server key', (f) => f.forge({ ...f.good, x5u: `${f.canaryUrl}/cert.pem` })),
    bad('x5c, server key', (f) => f.forge({ ...f.good, x5c: [Buffer.from(f.hmacSecrets['SPKI DER']).toString('base64')] })),
    bad('x5t, server key', (f) => f.forge({ ...f.good, x5t: 'AAAA' })),
    bad('crit exp, server key', (f) => f.forge({ ...f.good, crit: ['exp'] })),
    bad('crit with an unknown extension, server key', (f) => f.forge({ ...f.good, crit: ['urn:x'], 'urn:x': 1 })),
    bad('crit b64 false, server key', (f) => f.forge({ ...f.good, crit: ['b64'], b64: false })),
    bad('unknown kid, attacker key', (f) => f.byAttacker({ ...f.good, kid: 'attacker' })),
    bad('unknown kid, server key', (f) => f.forge({ ...f.good, kid: 'unknown-kid' })),
    bad('no kid, server key', (f) => f.forge({ alg: f.alg, typ: 'at+jwt' })),
    bad('numeric kid', (f) => f.forge({ ...f.good, kid: 1 })),
    bad('path-traversal kid', (f) => f.forge({ ...f.good, kid: '../../../../etc/passwd' })),
    bad('SQL-ish kid', (f) => f.forge({ ...f.good, kid: `${f.kid}' OR '1'='1` })),
    bad('__proto__ kid', (f) => f.forge({ ...f.good, kid: '__proto__' })),
    bad('right kid, typ JWT', (f) => f.forge({ ...f.good, typ: 'JWT' })),
    bad('right kid, no typ', (f) => f.forge({ alg: f.alg, kid: f.kid })),
    bad('right kid, another typ', (f) => f.forge({ ...f.good, typ: 'reset+jwt' })),
    bad('another issuer', (f) => f.forge(f.good, { ...f.claims, iss: 'https://evil.example.com' })),
    bad('another audience', (f) => f.forge(f.good, { ...f.claims, aud: 'another-api' })),
    bad('expired', (f) => f.forge(f.good, { ...f.claims, iat: f.now - 7200, nbf: f.now - 7200, exp: f.now - 3600 })),
    bad('not yet valid', (f) => f.forge(f.good, { ...f.claims, nbf: f.now + 3600 })),
    bad('issued in the future', (f) => f.forge(f.good, { ...f.claims, iat: f.now + 3600 })),
    bad('no exp', (f) => f.forge(f.good, { ...f.claims, exp: undefined })),
    bad('exp as a string', (f) => f.forge(f.good, { ...f.claims, exp: String(f.now + 600) })),
    bad('no sid', (f) => f.forge(f.good, { ...f.claims, sid: undefined })),
    bad('unknown sid', (f) => f.forge(f.good, { ...f.claims, sid: '00000000-0000-4000-8000-000000000000' })),
    bad('another user as sub', (f) => f.forge(f.good, { ...f.claims, sub: f.otherUserId })),
    bad('roles as a string', (f) => f.forge(f.good, { ...f.claims, roles: 'admin' })),
  ];
}

async function forgeryFor(t: TestApp, username: string, otherUserId: string, canary: Canary): Promise<Forgery> {
  const session = await signIn(t, username);
  const valid = session.access_token;
  const parts = valid.split('.') as [string, string, string];
  const { kid, alg } = decodePart(valid, 0) as { kid: string; alg: string };
  const claims = decodePart(valid, 1);
  const serverKey = t.tessera.keyRing.signingKey;
  assert.equal(serverKey.kid, kid);

  const attacker = keyPairLike(serverKey.privateKey);
  const attackerJwk: JsonWebKey = { ...attacker.publicKey.export({ format: 'jwk' }), kid: 'attacker', alg, use: 'sig' };
  canary.jwks = { keys: [attackerJwk] };

  const jwks = (await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: JsonWebKey[] };
  const published = jwks.keys.find((key) => key.kid === kid);
  assert.ok(published, 'the signing key is published');
  const publicKey = createPublicKey({ key: published, format: 'jwk' });
  const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  return {
    valid,
    refresh: session.refresh_token,
    claims,
    good: { alg, kid, typ: 'at+jwt' },
    kid,
    alg,
    now: Math.floor(t.clock.now() / 1000),
    parts,
    forge: (header, payload = claims) => signJws(header, payload, serverKey.privateKey),
    byAttacker: (header) => signJws(header, claims, attacker.privateKey),
    attackerJwk,
    published,
    hmacSecrets: {
      'SPKI PEM': pem,
      'SPKI PEM without the final newline': pem.trimEnd(),
      'SPKI DER': publicKey.export({ format: 'der', type: 'spki' }),
      'PKCS#1 PEM': publicKey.asymmetricKeyType === 'rsa' ? publicKey.export({ format: 'pem', type: 'pkcs1' }).toString() : pem,
      'JWK JSON': JSON.stringify(published),
    },
    otherUserId,
    canaryUrl: canary.url,
  };
}

function me(t: TestApp, authorization?: string, url = '/auth/me'): Promise<LightMyRequestResponse> {
  const options: InjectOptions = { method: 'GET', url, remoteAddress: nextIp() };
  if (authorization !== undefined) options.headers = { authorization };
  return t.app.inject(options);
}

// ---------------------------------------------------------------------------------------------

const errorFor = (status: number): Expected => ({ status, error: status === 404 ? 'not_found' : 'invalid_request' });

let canary: Canary;
before(async () => {
  canary = await startCanary();
});
after(() => new Promise<void>((resolve) => canary.server.close(() => resolve())));

for (const backend of testBackends()) {
  describe(`hostile input over HTTP (${backend.name})`, () => {
    /** Sign-up open, CORS for one origin, https issuer. */
    let t: TestApp;
    /** Every default: sign-up closed, no CORS. */
    let closed: TestApp;
    /** A plain-http issuer: no HSTS. */
    let plain: TestApp;
    let adminId: string;

    before(async () => {
      [t, closed, plain] = await Promise.all([
        startTestApp(backend, { env: { TESSERA_SIGNUP: 'open', TESSERA_CORS_ORIGINS: 'https://app.example.com' } }),
        startTestApp(backend),
        startTestApp(backend, { env: { TESSERA_ISSUER: 'http://127.0.0.1:8080' } }),
      ]);
      adminId = await createUser(t, 'admin', { email: 'admin@example.com' });
      await createUser(t, 'reader');
    });
    after(async () => {
      await Promise.all([t?.close(), closed?.close(), plain?.close()]);
    });

    describe('POST /auth/login', () => {
      let sessionsBefore: number;
      before(async () => {
        sessionsBefore = (await t.stores.sessions.listActiveByUser(adminId, new Date(t.clock.now()))).length;
      });
      for (const c of loginCases()) {
        it(c.name, async () => assertError(await postBody(t, '/auth/login', c), c.expect, c.name, submitted(c)));
      }
      it('opened no session for admin, and the account still signs in', async () => {
        const sessions = await t.stores.sessions.listActiveByUser(adminId, new Date(t.clock.now()));
        assert.equal(sessions.length, sessionsBefore, `sessions opened: ${JSON.stringify(sessions.map((s) => s.deviceName))}`);
        assert.equal((await signIn(t, 'admin')).user.username, 'admin');
      });
    });

    describe('POST /auth/register (sign-up open)', () => {
      let usersBefore: number;
      before(async () => {
        usersBefore = await t.stores.users.count();
      });
      for (const c of registerCases()) {
        it(c.name, async () => assertError(await postBody(t, '/auth/register', c), c.expect, c.name, submitted(c)));
      }
      it('created no user, and a weak password names its reasons', async () => {
        assert.equal(await t.stores.users.count(), usersBefore);
        const weak = await postBody(t, '/auth/register', { name: 'weak', body: { username: 'newcomer', password: 'short pw' }, expect: invalidRequest });
        assert.deepEqual(weak.json().reasons, ['too_short', 'too_weak']);
      });
    });

    it('refuses POST /auth/register with 403 signup_disabled when sign-up is closed (the default)', async () => {
      const usersBefore = await closed.stores.users.count();
      const cases: BodyCase[] = [
        { name: 'a valid body', body: { username: 'newcomer', password: pw }, expect: { status: 403, error: 'signup_disabled' } },
        { name: 'a valid body with e-mail', body: { username: 'newcomer', email: 'n@example.com', password: pw }, expect: { status: 403, error: 'signup_disabled' } },
        { name: 'roles in the body', body: { username: 'newcomer', password: pw, roles: ['admin'] }, expect: invalidRequest },
        { name: 'text/plain', raw: JSON.stringify({ username: 'newcomer', password: pw }), type: 'text/plain', expect: unsupportedType },
      ];
      for (const c of cases) assertError(await postBody(closed, '/auth/register', c), c.expect, `closed: ${c.name}`, submitted(c));
      assert.equal(await closed.stores.users.count(), usersBefore);
    });

    describe('GET /auth/me', () => {
      let f: Forgery;
      before(async () => {
        f = await forgeryFor(t, 'reader', adminId, canary);
      });

      it('accepts the controls: the real token and tokens forged with the server key and the right header', async () => {
        for (const authorization of [
          `Bearer ${f.valid}`,
          `bearer ${f.valid}`,
          `Bearer ${f.forge(f.good)}`,
          `Bearer ${f.forge(f.good, { ...f.claims, pad: 'p'.repeat(2000) })}`,
        ]) {
          const response = await me(t, authorization);
          assert.equal(response.statusCode, 200, `${authorization.slice(0, 30)}: ${response.body}`);
          assert.match(String(response.headers['cache-control']), /\bno-store\b/);
        }
      });

      for (const c of meCases()) {
        it(c.name, async () => {
          const authorization = c.authorization?.(f);
          const response = await me(t, authorization, c.url?.(f));
          assertError(response, { status: 401, error: 'invalid_token' }, c.name);
          const challenge = String(response.headers['www-authenticate']);
          assert.doesNotMatch(challenge, /[\r\n]/);
          if (c.challenge === 'plain') assert.equal(challenge, 'Bearer realm="tessera"');
          else assert.match(challenge, /^Bearer realm="tessera", error="invalid_token"/);
          if (typeof authorization === 'string' && authorization.length > 47) {
            assert.ok(!response.body.includes(authorization.slice(7, 47)), 'echoes the token');
            assert.ok(!challenge.includes(authorization.slice(7, 47)), 'echoes the token in the challenge');
          }
        });
      }

      it('never fetched a URL named in a token header', () => {
        assert.deepEqual(canary.requests, []);
      });
    });

    it('answers unknown routes and wrong methods with 404 not_found', async () => {
      const cases: [InjectOptions['method'], string][] = [
        ['GET', '/'],
        ['GET', '/nope'],
        ['GET', '/auth'],
        ['GET', '/auth/nope'],
        ['POST', '/auth/loginx'],
        ['POST', '/auth/login.json'],
        ['GET', '/AUTH/ME'],
        ['GET', '/.env'],
        ['GET', '/.git/config'],
        ['GET', '/%2e%2e/%2e%2e/etc/passwd'],
        ['GET', '/auth/me%00'],
        ['GET', `/${'a'.repeat(10_000)}`],
        ['GET', '/auth/login'],
        ['PUT', '/auth/login'],
        ['DELETE', '/auth/login'],
        ['PATCH', '/auth/login'],
        ['GET', '/auth/register'],
        ['DELETE', '/auth/register'],
        ['POST', '/auth/me'],
        ['PUT', '/auth/me'],
        ['DELETE', '/auth/me'],
        ['POST', '/.well-known/jwks.json'],
        ['DELETE', '/.well-known/jwks.json'],
        ['POST', '/healthz'],
      ];
      for (const [method, url] of cases) {
        const withBody = method !== 'GET' && method !== 'DELETE';
        const response = await t.app.inject({
          method,
          url,
          remoteAddress: nextIp(),
          ...(withBody ? { headers: { 'content-type': jsonType }, payload: '{}' } : {}),
        });
        assertError(response, notFound, `${method} ${url.slice(0, 40)}`);
      }
    });

    it('answers a URL that cannot be percent-decoded with 400 invalid_request in the error shape', async () => {
      for (const url of ['/%', '/auth/%E0%A4%A', '/auth/me%', '/auth/login%zz']) {
        const response = await t.app.inject({ method: 'GET', url, remoteAddress: nextIp(), headers: { 'x-request-id': 'bad-url-1' } });
        assertError(response, invalidRequest, `GET ${url}`);
        assert.equal(response.headers['x-request-id'], 'bad-url-1', `GET ${url}: x-request-id echoed`);
      }
    });

    it('echoes a sane x-request-id and replaces any other with a fresh UUID', async () => {
      const requests: InjectOptions[] = [
        { method: 'GET', url: '/healthz' },
        { method: 'GET', url: '/nope' },
        { method: 'GET', url: '/auth/me' },
        { method: 'POST', url: '/auth/login', headers: { 'content-type': jsonType }, payload: '{' },
        { method: 'POST', url: '/auth/login', headers: { 'content-type': 'text/plain' }, payload: '{}' },
        { method: 'POST', url: '/auth/login', headers: { 'content-type': jsonType }, payload: bodyOfBytes(bodyLimitBytes + 1) },
      ];
      for (const request of requests) {
        const label = `${request.method} ${String(request.url)}`;
        const echoed = await t.app.inject({ ...request, remoteAddress: nextIp(), headers: { ...request.headers, 'x-request-id': 'abc-123' } });
        assert.ok(echoed.statusCode < 500, label);
        assert.equal(echoed.headers['x-request-id'], 'abc-123', label);
        const generated = await t.app.inject({ ...request, remoteAddress: nextIp() });
        assert.match(String(generated.headers['x-request-id']), uuidV4, label);
      }

      const longest = 'a'.repeat(128);
      assert.equal((await t.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': longest } })).headers['x-request-id'], longest);

      const insane: (string | string[])[] = [
        'a'.repeat(129),
        'abc 123',
        'abc"123',
        "abc'123",
        'abc%0D%0ASet-Cookie:%20session=x',
        'abc\tdef',
        '<script>alert(1)</script>',
        'abc;def',
        'abc,def',
        '../../etc/passwd',
        '${jndi:ldap://x}',
        'abcé',
        '',
        ['abc-123', 'def-456'],
      ];
      const seen = new Set<string>();
      for (const id of insane) {
        const label = `x-request-id ${JSON.stringify(id).slice(0, 40)}`;
        const response = await t.app.inject({ method: 'GET', url: '/nope', headers: { 'x-request-id': id } });
        const returned = String(response.headers['x-request-id']);
        assert.match(returned, uuidV4, label);
        assert.ok(!seen.has(returned), `${label}: each generated id is new`);
        seen.add(returned);
        assertError(response, notFound, label);
      }
    });

    it('sends the security headers on every response, HSTS only behind an https issuer', async () => {
      const requests: InjectOptions[] = [
        { method: 'GET', url: '/healthz' },
        { method: 'GET', url: '/.well-known/jwks.json' },
        { method: 'GET', url: '/nope' },
        { method: 'GET', url: '/auth/me' },
        { method: 'POST', url: '/auth/login', headers: { 'content-type': jsonType }, payload: '[]' },
        { method: 'POST', url: '/auth/login', headers: { 'content-type': 'text/plain' }, payload: '{}' },
      ];
      for (const app of [t, closed, plain]) {
        const https = app.config.issuer.startsWith('https:');
        assert.equal(https, app !== plain);
        for (const request of requests) {
          const label = `${app.config.issuer} ${request.method} ${String(request.url)}`;
          const response = await app.app.inject({ ...request, remoteAddress: nextIp() });
          assert.ok(response.statusCode < 500, label);
          assertCommonHeaders(response, label);
          if (https) assert.match(String(response.headers['strict-transport-security']), /^max-age=\d{7,}/, label);
          else assert.equal(response.headers['strict-transport-security'], undefined, label);
        }
      }
    });

    it('marks tokens and user data no-store and lets the JWKS be cached', async () => {
      const signedIn = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'reader', password: pw }, remoteAddress: nextIp() });
      assert.equal(signedIn.statusCode, 200);
      assert.match(String(signedIn.headers['cache-control']), /\bno-store\b/);
      const whoami = await me(t, `Bearer ${signedIn.json().access_token as string}`);
      assert.equal(whoami.statusCode, 200);
      assert.match(String(whoami.headers['cache-control']), /\bno-store\b/);
      const failed = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'reader', password: 'wrong password!' }, remoteAddress: nextIp() });
      assertError(failed, invalidCredentials, 'failed login');
      assert.match(String(failed.headers['cache-control']), /\bno-store\b/);
      const jwks = await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
      assert.equal(jwks.statusCode, 200);
      assert.match(String(jwks.headers['cache-control']), /\bmax-age=\d+/);
      assert.doesNotMatch(String(jwks.headers['cache-control']), /no-store/);
    });

    it('answers CORS only for the configured origins', async () => {
      const preflight = (app: TestApp, origin: string) =>
        app.app.inject({
          method: 'OPTIONS',
          url: '/auth/login',
          headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
        });
      const allowed = await preflight(t, 'https://app.example.com');
      assert.ok(allowed.statusCode >= 200 && allowed.statusCode < 300, `preflight: ${allowed.statusCode}`);
      assert.equal(allowed.headers['access-control-allow-origin'], 'https://app.example.com');
      assert.match(String(allowed.headers['access-control-allow-methods']), /\bPOST\b/);
      assertCommonHeaders(allowed, 'allowed preflight');
      const simple = await t.app.inject({ method: 'GET', url: '/healthz', headers: { origin: 'https://app.example.com' } });
      assert.equal(simple.headers['access-control-allow-origin'], 'https://app.example.com');
      assert.match(String(simple.headers.vary), /origin/i);

      const strangers = ['https://evil.example.com', 'null', 'http://app.example.com', 'https://app.example.com.evil.com', 'https://evilapp.example.com', 'https://app.example.com:8443'];
      for (const origin of strangers) {
        for (const response of [await preflight(t, origin), await t.app.inject({ method: 'GET', url: '/healthz', headers: { origin } })]) {
          const label = `${origin} ${response.statusCode}`;
          assert.equal(response.headers['access-control-allow-origin'], undefined, label);
          assert.equal(response.headers['access-control-allow-credentials'], undefined, label);
          assert.ok(response.statusCode < 500, label);
          assertCommonHeaders(response, label);
        }
      }

      for (const response of [
        await preflight(closed, 'https://app.example.com'),
        await closed.app.inject({ method: 'GET', url: '/healthz', headers: { origin: 'https://app.example.com' } }),
        await closed.app.inject({ method: 'POST', url: '/auth/login', headers: { origin: 'https://app.example.com', 'content-type': jsonType }, payload: '[]' }),
      ]) {
        const cors = Object.keys(response.headers).filter((name) => name.startsWith('access-control-'));
        assert.deepEqual(cors, [], 'no CORS headers without TESSERA_CORS_ORIGINS');
        assert.ok(response.statusCode < 500);
        if (response.statusCode >= 400) assertError(response, errorFor(response.statusCode), 'no-CORS app');
      }
    });

    it('answers an OPTIONS that is no CORS preflight in the error shape, never text/plain', async () => {
      for (const app of [t, closed]) {
        const response = await app.app.inject({ method: 'OPTIONS', url: '/auth/login' });
        assert.ok(response.statusCode < 500, `${response.statusCode}`);
        if (response.statusCode >= 400) assertError(response, errorFor(response.statusCode), `bare OPTIONS (${response.statusCode})`);
        else assertCommonHeaders(response, 'bare OPTIONS');
      }
    });
  });
}
