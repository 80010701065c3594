import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { createVerifier, VerifyError } from '../index.js';
import { tesseraAuth as expressAuth } from './express.js';
import { tesseraAuth as fastifyAuth } from './fastify.js';
import { tesseraAuth as honoAuth, type TesseraAuthVariables } from './hono.js';
import type { TesseraAuthOptions } from './http.js';
import { audience, createTestSigner, issuer } from '../../../test-support/sdk-tokens.js';

/*
 * One behaviour table, run against real Express 5, Fastify 5 and Hono 4 (on @hono/node-server)
 * over loopback HTTP, with a real verifier and tokens signed here.
 */

const now = Date.UTC(2026, 0, 1);
const signer = createTestSigner(now);
const verifier = createVerifier({ issuer, audience, keys: signer.jwks, clock: { now: () => now } });
const internals = 'connect ECONNREFUSED 10.0.0.7:5432 secret=hunter2';
const down: TesseraAuthOptions['verifier'] = { verify: () => Promise.reject(new VerifyError('jwks_unavailable', 'the key set could not be loaded')) };
const broken: TesseraAuthOptions['verifier'] = { verify: () => Promise.reject(new Error(internals)) };

/** path → middleware options; every route answers 200 `{ auth }` with what the middleware set. */
const routes: Record<string, TesseraAuthOptions> = {
  '/plain': { verifier },
  '/realm': { verifier, realm: 'orders' },
  '/read': { verifier, permissions: ['orders:read'] },
  '/write': { verifier, permissions: ['orders:read', 'orders:write'] },
  '/optional': { verifier, optional: true },
  '/down': { verifier: down },
  '/broken': { verifier: broken },
};

interface Running {
  url: string;
  close(): Promise<void>;
}

async function listening(server: Server): Promise<string> {
  if (!server.listening) await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const frameworks: Record<string, () => Promise<Running>> = {
  async express() {
    const app = express();
    for (const [path, options] of Object.entries(routes)) {
      const auth = expressAuth(options);
      app.get(path, auth, (req, res) => void res.json({ auth: req.auth ?? null }));
      app.post(path, auth, (req, res) => void res.json({ auth: req.auth ?? null }));
    }
    const server = app.listen(0, '127.0.0.1');
    const url = await listening(server);
    return { url, close: () => new Promise((resolve) => server.close(() => resolve())) };
  },
  async fastify() {
    const app = Fastify();
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => done(null, body));
    for (const [path, options] of Object.entries(routes)) {
      const onRequest = fastifyAuth(options);
      app.get(path, { onRequest }, async (request) => ({ auth: request.auth ?? null }));
      app.post(path, { onRequest }, async (request) => ({ auth: request.auth ?? null }));
    }
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    return { url, close: () => app.close() };
  },
  async hono() {
    const app = new Hono<{ Variables: TesseraAuthVariables }>();
    for (const [path, options] of Object.entries(routes)) {
      app.on(['GET', 'POST'], path, honoAuth(options), (c) => c.json({ auth: c.get('auth') ?? null }));
    }
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }) as Server;
    const url = await listening(server);
    return { url, close: () => new Promise((resolve) => server.close(() => resolve())) };
  },
};

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** node:http, so a request can carry two Authorization headers. */
function send(url: string, path: string, authorization: string | string[] | undefined, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${url}${path}`, { method: body === undefined ? 'GET' : 'POST', timeout: 5000 }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, text }));
    });
    request.on('timeout', () => request.destroy(new Error(`${path}: no answer within 5 s`)));
    request.on('error', reject);
    if (authorization !== undefined) request.setHeader('authorization', authorization);
    if (body !== undefined) request.setHeader('content-type', 'application/x-www-form-urlencoded');
    request.end(body);
  });
}

const claims = signer.claims();
const valid = signer.sign(claims);
const withWrite = signer.sign(signer.claims({ permissions: ['orders:read', 'orders:write'] }));
const bearer = (token: string) => `Bearer ${token}`;

type Expected =
  | { status: 200; auth: 'claims' | 'none'; permissions?: string[] }
  | { status: 400 | 401 | 403 | 503; error: string; challenge?: RegExp | 'none' };

interface Case {
  name: string;
  path: string;
  authorization?: string | string[];
  body?: string;
  /** Query string appended to the path. */
  query?: string;
  expect: Expected;
}

const missingChallenge = /^Bearer$/;
const invalidChallenge = /^Bearer error="invalid_token", error_description="[^"]+"$/;
const requestChallenge = /^Bearer error="invalid_request", error_description="[^"]+"$/;
const refusedToken = (name: string, token: string): Case => ({
  name, path: '/plain', authorization: bearer(token), expect: { status: 401, error: 'invalid_token', challenge: invalidChallenge },
});

const cases: Case[] = [
  { name: 'valid token', path: '/plain', authorization: bearer(valid), expect: { status: 200, auth: 'claims', permissions: ['orders:read'] } },
  { name: 'scheme in lower case', path: '/plain', authorization: `bearer ${valid}`, expect: { status: 200, auth: 'claims' } },
  { name: 'no Authorization header', path: '/plain', expect: { status: 401, error: 'invalid_token', challenge: missingChallenge } },
  { name: 'realm in the challenge', path: '/realm', expect: { status: 401, error: 'invalid_token', challenge: /^Bearer realm="orders"$/ } },
  { name: 'Basic scheme', path: '/plain', authorization: 'Basic dXNlcjpwYXNz', expect: { status: 401, error: 'invalid_token', challenge: missingChallenge } },
  { name: 'token in the query string only', path: '/plain', query: `?access_token=${valid}`, expect: { status: 401, error: 'invalid_token', challenge: missingChallenge } },
  { name: 'token in the body only', path: '/plain', body: `access_token=${valid}`, expect: { status: 401, error: 'invalid_token', challenge: missingChallenge } },
  { name: 'Bearer without a token', path: '/plain', authorization: 'Bearer', expect: { status: 400, error: 'invalid_request', challenge: requestChallenge } },
  { name: 'Bearer and spaces', path: '/plain', authorization: 'Bearer    ', expect: { status: 400, error: 'invalid_request', challenge: requestChallenge } },
  { name: 'two tokens', path: '/plain', authorization: `Bearer ${valid} ${valid}`, expect: { status: 400, error: 'invalid_request', challenge: requestChallenge } },
  { name: 'two spaces before the token', path: '/plain', authorization: `Bearer  ${valid}`, expect: { status: 400, error: 'invalid_request' } },
  { name: 'illegal characters', path: '/plain', authorization: 'Bearer abc"def', expect: { status: 400, error: 'invalid_request', challenge: requestChallenge } },
  { name: 'comma-joined credentials', path: '/plain', authorization: `Bearer ${valid}, Bearer ${valid}`, expect: { status: 400, error: 'invalid_request' } },
  { name: 'two Authorization headers', path: '/plain', authorization: [bearer(valid), bearer(valid)], expect: { status: 400, error: 'invalid_request' } },
  { name: 'two Authorization headers, the second bad', path: '/plain', authorization: [bearer(valid), 'Basic x'], expect: { status: 400, error: 'invalid_request' } },
  refusedToken('expired', signer.sign(signer.claims({ exp: Math.floor(now / 1000) - 3600 }))),
  refusedToken('bad signature', `${valid.slice(0, valid.lastIndexOf('.'))}.${signer.sign(signer.claims({ sub: 'other' })).split('.')[2]}`),
  refusedToken('signed by another key', signer.sign(claims, {}, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey)),
  refusedToken('alg none', signer.unsigned(claims)),
  refusedToken('HS256 keyed with the public key', signer.hs256WithPublicKey(claims)),
  refusedToken('unknown kid', signer.sign(claims, { kid: 'unknown' })),
  refusedToken('wrong iss', signer.sign(signer.claims({ iss: 'https://evil.example' }))),
  refusedToken('wrong aud', signer.sign(signer.claims({ aud: 'billing' }))),
  refusedToken('wrong typ', signer.sign(claims, { typ: 'JWT' })),
  refusedToken('larger than 8 KiB', signer.sign(signer.claims({ padding: 'x'.repeat(8200) }))),
  refusedToken('garbage', 'not.a.token'),
  { name: 'permissions held', path: '/read', authorization: bearer(valid), expect: { status: 200, auth: 'claims', permissions: ['orders:read'] } },
  { name: 'permissions missing', path: '/write', authorization: bearer(valid), expect: { status: 403, error: 'insufficient_permissions', challenge: /^Bearer error="insufficient_scope", error_description="[^"]+", scope="orders:read orders:write"$/ } },
  { name: 'all permissions held', path: '/write', authorization: bearer(withWrite), expect: { status: 200, auth: 'claims', permissions: ['orders:read', 'orders:write'] } },
  { name: 'optional, no header', path: '/optional', expect: { status: 200, auth: 'none' } },
  { name: 'optional, valid token', path: '/optional', authorization: bearer(valid), expect: { status: 200, auth: 'claims' } },
  { name: 'optional, bad token', path: '/optional', authorization: bearer(signer.unsigned(claims)), expect: { status: 401, error: 'invalid_token', challenge: invalidChallenge } },
  { name: 'optional, malformed header', path: '/optional', authorization: 'Bearer', expect: { status: 400, error: 'invalid_request' } },
  { name: 'optional, Basic scheme', path: '/optional', authorization: 'Basic dXNlcjpwYXNz', expect: { status: 401, error: 'invalid_token' } },
  { name: 'key set unavailable', path: '/down', authorization: bearer(valid), expect: { status: 503, error: 'service_unavailable', challenge: 'none' } },
  { name: 'verifier throws a plain Error', path: '/broken', authorization: bearer(valid), expect: { status: 503, error: 'service_unavailable', challenge: 'none' } },
];

function check(answer: Answer, item: Case): void {
  const label = item.name;
  assert.equal(answer.status, item.expect.status, `${label}: ${answer.status} ${answer.text}`);
  const body = JSON.parse(answer.text) as Record<string, unknown>;
  const expect = item.expect;
  if (expect.status === 200) {
    if (expect.auth === 'none') {
      assert.deepEqual(body, { auth: null }, label);
    } else {
      const auth = body.auth as Record<string, unknown>;
      assert.equal(auth.sub, 'user-1', label);
      assert.equal(auth.iss, issuer, label);
      if (expect.permissions) assert.deepEqual(auth.permissions, expect.permissions, label);
    }
    return;
  }
  assert.deepEqual(Object.keys(body).sort(), ['error', 'error_description'], `${label}: body shape ${answer.text}`);
  assert.equal(body.error, expect.error, label);
  assert.equal(typeof body.error_description, 'string', label);
  assert.equal(answer.headers['cache-control'], 'no-store', `${label}: cache-control`);
  assert.match(String(answer.headers['content-type']), /^application\/json/, label);
  const challenge = answer.headers['www-authenticate'];
  if (expect.challenge === 'none') assert.equal(challenge, undefined, `${label}: no challenge`);
  else if (expect.challenge) assert.match(String(challenge), expect.challenge, `${label}: challenge`);
  if (expect.status === 401 || expect.status === 400) assert.match(String(challenge), /^Bearer/, `${label}: a Bearer challenge`);
  if (expect.status === 503) assert.equal(answer.headers['retry-after'], '5', `${label}: retry-after`);
  const everything = answer.text + JSON.stringify(answer.headers);
  const sent = [item.authorization ?? [], item.body ?? '', item.query ?? ''].flat().join(' ');
  for (const piece of sent.split(/[\s.,=]+/).filter((piece) => piece.length > 12)) {
    assert.ok(!everything.includes(piece), `${label}: the answer echoes token material`);
  }
  assert.ok(!everything.includes('hunter2') && !everything.includes('ECONNREFUSED'), `${label}: the answer leaks internals`);
}

for (const [framework, start] of Object.entries(frameworks)) {
  describe(`tesseraAuth for ${framework}`, () => {
    let running: Running;
    before(async () => {
      running = await start();
    });
    after(() => running.close());

    for (const item of cases) {
      it(item.name, async () => {
        check(await send(running.url, `${item.path}${item.query ?? ''}`, item.authorization, item.body), item);
      });
    }
  });
}

describe('tesseraAuth options', () => {
  const bad: [string, unknown][] = [
    ['no options', undefined],
    ['no verifier', {}],
    ['verifier without verify', { verifier: {} }],
    ['permissions not a list', { verifier, permissions: 'orders:read' }],
    ['permission with a space', { verifier, permissions: ['orders read'] }],
    ['empty permission', { verifier, permissions: [''] }],
    ['optional not a boolean', { verifier, optional: 'yes' }],
    ['realm with a quote', { verifier, realm: 'a"b' }],
    ['realm with a newline', { verifier, realm: 'a\nb' }],
  ];
  for (const factory of [expressAuth, fastifyAuth, honoAuth]) {
    it(`are checked at creation (${factory === expressAuth ? 'express' : factory === fastifyAuth ? 'fastify' : 'hono'})`, () => {
      for (const [label, options] of bad) {
        assert.throws(
          () => factory(options as TesseraAuthOptions),
          (error: unknown) => error instanceof VerifyError && error.code === 'invalid_options',
          label,
        );
      }
    });
  }
});
