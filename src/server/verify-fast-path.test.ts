import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { AuthError } from '../errors/auth-error.js';
import type { AccessTokenClaims } from '../tokens/access-token.js';
import { createUser, signIn, startTestApp, type TestApp } from '../test-support/app.js';
import { testBackends } from '../test-support/databases.js';
import { findSample, parseExposition } from '../test-support/metrics.js';
import { securityHeaders } from './plugins/security-headers.js';
import { createVerifyFastPath } from './verify-fast-path.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request over real HTTP (raw headers as given, repeats included). */
function send(port: number, path: string, headers: OutgoingHttpHeaders = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** GET /auth/verify written by hand, for header repeats a client library would merge or refuse. */
async function sendRaw(port: number, headerLines: string[]): Promise<{ status: number }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.end(['GET /auth/verify HTTP/1.1', 'Host: 127.0.0.1', 'Connection: close', ...headerLines, '', ''].join('\r\n'));
  let text = '';
  socket.setEncoding('utf8');
  for await (const chunk of socket) text += chunk;
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0) };
}

const claims: AccessTokenClaims = {
  iss: 'https://auth.example',
  aud: 'tessera',
  sub: '0b5e3c1e-6f0e-4a43-9a55-0d7f0e1c2a11',
  client_id: 'tessera',
  iat: 1_800_000_000,
  nbf: 1_800_000_000,
  exp: 1_800_000_900,
  jti: 'f7c1a7c4-6f3b-4a3c-9d86-2f1f4f7e0e55',
  sid: '5a0c2f3e-1d2b-4c5d-8e9f-0a1b2c3d4e5f',
  roles: ['admin', 'support'],
  permissions: ['orders:read'],
  amr: ['pwd'],
  username: 'alice',
};

describe('verify fast path: what it answers, and everything it leaves to Fastify', () => {
  const fellThrough = 599;
  let port = 0;
  let observed = 0;
  let cors = false;
  let revoked = false;
  let open = true;
  let verifying: () => void = () => {};
  let slowCheck: Promise<void> = Promise.resolve();
  const newClaims: AccessTokenClaims = { ...claims, sub: '9d1c1b7a-3e55-4d43-8f7e-7c0a4f8b6e21', username: 'bob' };
  const server = createServer((request, response) => {
    const fastPath = createVerifyFastPath({
      verifier: {
        verifyCached: (token) => {
          if (token !== 'good.token.value') return undefined;
          if (revoked) throw new AuthError('invalid_token', { description: 'The access token has been revoked.' });
          return claims;
        },
        // A token never seen: 'new.token.value' verifies, every other one is refused.
        verify: async (token) => {
          if (token === 'new.token.value') return newClaims;
          if (token === 'slow.token.value') {
            verifying();
            await slowCheck;
            return newClaims;
          }
          throw new AuthError('invalid_token', { description: 'The access token is invalid.' });
        },
      },
      metrics: { requestObserver: () => () => (observed += 1) },
      securityHeaders: securityHeaders('https://auth.example'),
      cors,
      open: () => open,
    });
    fastPath(request, response, (_request, fallback) => {
      fallback.writeHead(fellThrough);
      fallback.end();
    });
  });
  before(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  after(() => server.close());

  it('answers a cached token with its identity headers, the security headers and the claims, and counts it', async () => {
    const answer = await send(port, '/auth/verify', { authorization: 'Bearer good.token.value', 'x-request-id': 'req-1' });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['x-user-id'], claims.sub);
    assert.equal(answer.headers['x-roles'], 'admin,support');
    assert.equal(answer.headers['x-request-id'], 'req-1');
    assert.equal(answer.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
    assert.equal(answer.headers['cache-control'], 'no-store');
    assert.equal(answer.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(JSON.parse(answer.body).sub, claims.sub);
    assert.equal(observed, 1);
  });

  it('answers a token it has not seen once the verifier accepts it, the same way', async () => {
    const before = observed;
    const answer = await send(port, '/auth/verify', { authorization: 'Bearer new.token.value', 'x-request-id': 'req-2' });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['x-user-id'], newClaims.sub);
    assert.equal(answer.headers['x-username'], 'bob');
    assert.equal(answer.headers['x-request-id'], 'req-2');
    assert.equal(answer.headers['x-frame-options'], 'DENY');
    assert.equal(JSON.parse(answer.body).sub, newClaims.sub);
    assert.equal(observed, before + 1);
  });

  it('answers the other forms RFC 6750 allows (scheme in any case, more spaces) as the route would', async () => {
    for (const authorization of ['BEARER good.token.value', 'Bearer   good.token.value', 'Bearer good.token.value  ']) {
      assert.equal((await send(port, '/auth/verify', { authorization })).status, 200, authorization);
    }
  });

  it('replaces an inbound request id that is not short and plain', async () => {
    const answer = await send(port, '/auth/verify', { authorization: 'bearer good.token.value', 'x-request-id': 'a b<script>' });
    assert.equal(answer.status, 200);
    assert.match(String(answer.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });

  const fallThrough: Array<[string, () => Promise<{ status: number }>]> = [
    ['another method', () => send(port, '/auth/verify', { authorization: 'Bearer good.token.value' }, 'POST')],
    ['HEAD', () => send(port, '/auth/verify', { authorization: 'Bearer good.token.value' }, 'HEAD')],
    ['a query string', () => send(port, '/auth/verify?permissions=orders:read', { authorization: 'Bearer good.token.value' })],
    ['another path', () => send(port, '/auth/verify/', { authorization: 'Bearer good.token.value' })],
    ['no Authorization', () => send(port, '/auth/verify')],
    ['another scheme', () => send(port, '/auth/verify', { authorization: 'Basic Z29vZA==' })],
    ['a malformed bearer token', () => send(port, '/auth/verify', { authorization: 'Bearer good token' })],
    ['two Authorization headers', () => sendRaw(port, ['Authorization: Bearer good.token.value', 'authorization: Bearer good.token.value'])],
    ['two request ids', () => sendRaw(port, ['Authorization: Bearer good.token.value', 'X-Request-Id: a', 'x-request-id: b'])],
    ['a token the verifier refuses (the route refuses it again, with its headers, records and events)', () => send(port, '/auth/verify', { authorization: 'Bearer other.token.value' })],
  ];
  for (const [name, request] of fallThrough) {
    it(`leaves ${name} to Fastify`, async () => {
      assert.equal((await request()).status, fellThrough);
    });
  }

  it('leaves a revoked token to Fastify, which refuses it with its headers and records', async () => {
    revoked = true;
    try {
      assert.equal((await send(port, '/auth/verify', { authorization: 'Bearer good.token.value' })).status, fellThrough);
    } finally {
      revoked = false;
    }
  });

  it('leaves every request to Fastify once the server is closing', async () => {
    open = false;
    try {
      assert.equal((await send(port, '/auth/verify', { authorization: 'Bearer good.token.value' })).status, fellThrough);
      assert.equal((await send(port, '/auth/verify', { authorization: 'Bearer new.token.value' })).status, fellThrough);
    } finally {
      open = true;
    }
  });

  it('hands a new token to Fastify when closing begins while its signature is checked (no kept-alive 200 to hold shutdown)', async () => {
    let release: () => void = () => {};
    slowCheck = new Promise((resolve) => (release = resolve));
    const started = new Promise<void>((resolve) => (verifying = resolve));
    try {
      const answer = send(port, '/auth/verify', { authorization: 'Bearer slow.token.value' });
      await started;
      open = false;
      release();
      assert.equal((await answer).status, fellThrough);
    } finally {
      open = true;
    }
  });

  it('leaves every request to Fastify when CORS is configured (the CORS plugin adds Vary and its headers to each)', async () => {
    cors = true;
    try {
      assert.equal((await send(port, '/auth/verify', { authorization: 'Bearer good.token.value', origin: 'https://app.example' })).status, fellThrough);
      assert.equal((await send(port, '/auth/verify', { authorization: 'Bearer good.token.value' })).status, fellThrough);
    } finally {
      cors = false;
    }
  });
});

/** Headers that differ between any two answers (time, connection, request id). */
const perAnswer = new Set(['date', 'connection', 'keep-alive', 'x-request-id']);
const comparable = (headers: Record<string, unknown>) => Object.fromEntries(Object.entries(headers).filter(([name]) => !perAnswer.has(name)).sort(([a], [b]) => a.localeCompare(b)));

for (const backend of testBackends()) {
  describe(`verify fast path in the server (${backend.name})`, () => {
    let t: TestApp;
    let port = 0;
    before(async () => {
      t = await startTestApp(backend, { env: { TESSERA_ISSUER: 'https://auth.example' } });
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      port = (t.app.server.address() as AddressInfo).port;
      await createUser(t, 'fp-alice', { roles: ['support'] });
    });
    after(() => t.close());

    const verifyCount = async () => {
      const text = (await t.app.inject({ url: '/metrics' })).body;
      const line = text.split('\n').find((l) => l.startsWith('tessera_http_request_duration_seconds_count{') && l.includes('route="/auth/verify"') && l.includes('status_code="200"') && l.includes('method="GET"'));
      return line ? Number(line.split(' ').at(-1)) : 0;
    };

    it('keeps the timeouts Fastify would set on a server it made (slow-loris bound, keep-alive)', () => {
      assert.equal(t.app.server.requestTimeout, 30_000);
      assert.equal(t.app.server.keepAliveTimeout, 72_000);
      assert.equal(t.app.server.timeout, 0);
    });

    it('answers a token verified before exactly as the route does (over HTTP, against inject, which never takes it)', async () => {
      const s = await signIn(t, 'fp-alice');
      const authorization = `Bearer ${s.access_token}`;
      // inject goes through Fastify's route only; it also puts the token in the verified cache.
      const routed = await t.app.inject({ url: '/auth/verify', headers: { authorization } });
      assert.equal(routed.statusCode, 200, routed.body);
      const before = await verifyCount();
      const fast = await send(port, '/auth/verify', { authorization, 'x-request-id': 'fast-1' });
      assert.equal(fast.status, 200);
      assert.equal(fast.body, routed.body);
      assert.deepEqual(comparable(fast.headers), comparable(routed.headers));
      assert.equal(fast.headers['x-request-id'], 'fast-1');
      assert.equal(await verifyCount(), before + 1, 'counted in the request metrics');
    });

    it('answers a token never verified before, and the route then answers it the same', async () => {
      const s = await signIn(t, 'fp-alice');
      const authorization = `Bearer ${s.access_token}`;
      const before = await verifyCount();
      const fast = await send(port, '/auth/verify', { authorization });
      assert.equal(fast.status, 200, fast.body);
      assert.equal(await verifyCount(), before + 1);
      const routed = await t.app.inject({ url: '/auth/verify', headers: { authorization } });
      assert.equal(routed.statusCode, 200, routed.body);
      assert.equal(fast.body, routed.body);
      assert.deepEqual(comparable(fast.headers), comparable(routed.headers));
    });

    it('refuses a forged token through the route: its answer, and one rejection counted, not two', async () => {
      const s = await signIn(t, 'fp-alice');
      const [header, payload, signature] = s.access_token.split('.') as [string, string, string];
      const flipped = `${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`;
      const rejected = async () =>
        findSample(parseExposition((await t.app.inject({ url: '/metrics' })).body), 'tessera_tokens_rejected_total', { reason: 'bad_signature' }) ?? 0;
      const before = await rejected();
      const refused = await send(port, '/auth/verify', { authorization: `Bearer ${header}.${payload}.${flipped}` });
      assert.equal(refused.status, 401);
      assert.match(String(refused.headers['www-authenticate']), /^Bearer realm="tessera", error="invalid_token"/);
      assert.equal(refused.headers['x-frame-options'], 'DENY');
      assert.equal(JSON.parse(refused.body).error, 'invalid_token');
      assert.equal(await rejected(), before + 1);
    });

    it('refuses a cached token once its session is signed out, on every instance path', async () => {
      const s = await signIn(t, 'fp-alice');
      const authorization = `Bearer ${s.access_token}`;
      assert.equal((await send(port, '/auth/verify', { authorization })).status, 200);
      assert.equal((await send(port, '/auth/verify', { authorization })).status, 200);
      const logout = await t.app.inject({ method: 'POST', url: '/auth/logout', headers: { authorization }, payload: {} });
      assert.equal(logout.statusCode, 204, logout.body);
      const refused = await send(port, '/auth/verify', { authorization });
      assert.equal(refused.status, 401);
      assert.match(String(refused.headers['www-authenticate']), /^Bearer realm="tessera", error="invalid_token"/);
      assert.equal(JSON.parse(refused.body).error, 'invalid_token');
    });
  });
}

describe('verify fast path at shutdown', () => {
  it('leaves requests to Fastify once closing has begun, so a kept-alive proxy connection ends and close completes', async () => {
    const [backend] = testBackends();
    const t = await startTestApp(backend!);
    let closing: Promise<unknown> | undefined;
    try {
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      const port = (t.app.server.address() as AddressInfo).port;
      await createUser(t, 'fp-bob');
      const s = await signIn(t, 'fp-bob');
      const authorization = `Authorization: Bearer ${s.access_token}`;
      assert.equal((await t.app.inject({ url: '/auth/verify', headers: { authorization: `Bearer ${s.access_token}` } })).statusCode, 200);
      // A proxy's kept-alive connection, busy (mid-request) when close() begins.
      const socket = connect(port, '127.0.0.1');
      await once(socket, 'connect');
      socket.setEncoding('utf8');
      let received = '';
      socket.on('data', (chunk: string) => (received += chunk));
      const ended = once(socket, 'end');
      socket.write(`GET /auth/verify HTTP/1.1\r\nHost: 127.0.0.1\r\n${authorization}\r\n\r\n`);
      while (!received.includes('\r\n\r\n')) await new Promise((resolve) => setTimeout(resolve, 5));
      assert.match(received, /^HTTP\/1\.1 200/, 'the cached token is answered on the kept-alive connection');
      received = '';
      socket.write('GET /auth/verify HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      await new Promise((resolve) => setTimeout(resolve, 20));
      closing = t.app.close();
      socket.write(`${authorization}\r\n\r\n`);
      await ended;
      assert.match(received, /^HTTP\/1\.1 503/, received);
      assert.match(received, /\r\nconnection: close\r\n/i);
      await closing;
    } finally {
      await closing;
      await t.close();
    }
  });
});
