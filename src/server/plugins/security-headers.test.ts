import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { InjectOptions } from 'fastify';
import { createUser, signIn, startTestApp, type TestApp } from '../../test-support/app.js';
import { testBackends } from '../../test-support/databases.js';
import { EventStreamClient, openStream } from '../../test-support/event-stream.js';

/*
 * The static security headers, pinned header by header: the set and the values @fastify/helmet
 * sent with our options (a JSON API: nothing may be framed, loaded or executed from its answers),
 * now precomputed once. Every other header a response carries is the route's own.
 */
const common: Record<string, string> = {
  'content-security-policy': "default-src 'none';frame-ancestors 'none'",
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'DENY',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};
const hsts = { 'strict-transport-security': 'max-age=31536000; includeSubDomains' };

/** Headers that belong to the answer, not to the security policy. */
const answerHeaders = new Set([
  'date',
  'connection',
  'keep-alive',
  'content-length',
  'content-type',
  'transfer-encoding',
  'cache-control',
  'pragma',
  'x-request-id',
  'www-authenticate',
  'x-accel-buffering',
  'x-user-id',
  'x-username',
  'x-roles',
  'x-permissions',
  'x-session-id',
  'x-tenant-id',
]);

function securityPart(headers: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !answerHeaders.has(name)));
}

for (const backend of testBackends()) {
  describe(`security headers (${backend.name})`, () => {
    let secure: TestApp;
    let plain: TestApp;
    const tokens = new Map<TestApp, string>();

    before(async () => {
      [secure, plain] = await Promise.all([
        startTestApp(backend),
        startTestApp(backend, { env: { TESSERA_ISSUER: 'http://auth.test.example' } }),
      ]);
      for (const app of [secure, plain]) {
        await createUser(app, 'header-reader', { permissions: ['orders:read'] });
        tokens.set(app, (await signIn(app, 'header-reader')).access_token);
      }
    });
    after(() => Promise.all([secure?.close(), plain?.close()]));

    const cases: [string, number, (token: string) => InjectOptions][] = [
      ['a JSON route', 200, () => ({ method: 'GET', url: '/healthz' })],
      ['an authenticated JSON route', 200, (t) => ({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${t}` } })],
      ['an unknown route', 404, () => ({ method: 'GET', url: '/nope' })],
      ['a refused request', 401, () => ({ method: 'GET', url: '/auth/me' })],
      ['an unsupported media type', 415, () => ({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'text/plain' }, payload: '{}' })],
      ['forward-auth, verified', 200, (t) => ({ method: 'GET', url: '/auth/verify', headers: { authorization: `Bearer ${t}` } })],
      ['forward-auth, refused', 401, () => ({ method: 'GET', url: '/auth/verify', headers: { authorization: 'Bearer not-a-token' } })],
      ['forward-auth, missing permission', 403, (t) => ({ method: 'GET', url: '/auth/verify?permissions=orders:write', headers: { authorization: `Bearer ${t}` } })],
      // Answered before routing (Fastify's frameworkErrors): the same set as every other answer.
      ['a malformed URL', 400, () => ({ method: 'GET', url: '/auth/%E0%A4%A' })],
    ];

    it('sends exactly the static security headers on every kind of answer, HSTS only behind an https issuer', async () => {
      for (const app of [secure, plain]) {
        const expected = app === secure ? { ...common, ...hsts } : common;
        const own = tokens.get(app)!;
        for (const [name, status, request] of cases) {
          const label = `${app.config.issuer}: ${name}`;
          const response = await app.app.inject(request(own));
          assert.equal(response.statusCode, status, `${label}: ${response.body}`);
          assert.deepEqual(securityPart(response.headers), expected, label);
          assert.match(String(response.headers['x-request-id']), /^[A-Za-z0-9._:-]{1,128}$/, `${label}: x-request-id`);
        }
      }
    });

    it('sends the same headers on the admin event stream', async () => {
      await createUser(secure, 'header-admin', { roles: ['admin'] });
      const admin = (await signIn(secure, 'header-admin')).access_token;
      await secure.app.listen({ host: '127.0.0.1', port: 0 });
      const stream = await openStream((secure.app.server.address() as AddressInfo).port, { authorization: `Bearer ${admin}` });
      assert.ok(stream instanceof EventStreamClient);
      try {
        assert.deepEqual(securityPart(stream.response.headers), { ...common, ...hsts });
        assert.equal(stream.response.headers['cache-control'], 'no-store');
      } finally {
        stream.close();
      }
    });
  });
}

