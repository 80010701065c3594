import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { FastifyReply, FastifyRequest, InjectOptions } from 'fastify';
import { createTessera } from '../app/create-tessera.js';
import { strongPassword } from '../test-support/app.js';
import { testConfig } from '../test-support/config.js';
import { pgliteBackend } from '../test-support/databases.js';
import { buildApp } from './app.js';
import { AccessLog, createLogger, quietRefusalsPerSecond } from './logger.js';

describe('request logging', () => {
  it('logs requests with their request id but never a password, token, cookie or query string', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const logger = createLogger('debug', sink);
    const { db, cleanup } = await pgliteBackend.open();
    const tessera = await createTessera(testConfig({ TESSERA_BOOTSTRAP_ADMIN: `admin:${strongPassword}` }), { db, logger });
    const app = await buildApp(tessera, { logger });
    try {
      const login = await app.inject({
        method: 'POST',
        url: '/auth/login?password=leaked-in-query',
        headers: { 'x-request-id': 'req-log-1', cookie: 'session=cookie-secret' },
        payload: { username: 'admin', password: strongPassword },
      });
      assert.equal(login.statusCode, 200);
      const { access_token: accessToken, refresh_token: refreshToken } = login.json();
      await app.inject({ url: '/auth/me', headers: { authorization: `Bearer ${accessToken}` } });
      await app.inject({ url: '/auth/me', headers: { authorization: 'Bearer not.a.validtoken' } });
      await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'admin', password: 'wrong password here' } });
      // Something that logs an object carelessly is still redacted.
      logger.info({ password: 'direct-password', nested: { refresh_token: 'direct-refresh' }, authorization: 'Bearer direct' }, 'careless');

      const text = lines.join('\n');
      assert.ok(lines.some((line) => JSON.parse(line).requestId === 'req-log-1'), 'request id is logged');
      for (const secret of [strongPassword, accessToken, refreshToken, 'leaked-in-query', 'cookie-secret', 'direct-password', 'direct-refresh', 'Bearer direct', 'not.a.validtoken']) {
        assert.ok(!text.includes(secret), `the logs never contain ${secret.slice(0, 12)}…`);
      }
      assert.match(text, /\[redacted\]/);
    } finally {
      await app.close();
      await tessera.close();
      await cleanup();
    }
  });
});

describe('request logging of the client address', () => {
  it('logs the address resolved under TESSERA_TRUST_PROXY, never the forwarded text', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const logger = createLogger('info', sink);
    const { db, cleanup } = await pgliteBackend.open();
    const tessera = await createTessera(testConfig({ TESSERA_TRUST_PROXY: '1' }), { db, logger });
    const app = await buildApp(tessera, { logger });
    try {
      const cases: [string, string, string][] = [
        ['req-ip-1', '198.51.100.1, 203.0.113.5', '203.0.113.5'],
        ['req-ip-2', '[2001:DB8::5]:443', '2001:db8::5'],
        ['req-ip-3', '<script>,"', '10.0.0.2'],
      ];
      for (const [requestId, forwardedFor] of cases) {
        // A route with an access-log line by default (health checks have none).
        await app.inject({ url: '/nope', remoteAddress: '10.0.0.2', headers: { 'x-request-id': requestId, 'x-forwarded-for': forwardedFor } });
      }
      for (const [requestId, , ip] of cases) {
        const incoming = lines.map((line) => JSON.parse(line)).find((entry) => entry.requestId === requestId && entry.req);
        assert.equal(incoming?.req?.ip, ip, requestId);
      }
    } finally {
      await app.close();
      await tessera.close();
      await cleanup();
    }
  });
});

describe('the access log (TESSERA_ACCESS_LOG)', () => {
  interface Logged {
    level: number;
    msg: string;
    requestId?: string;
    req?: { method: string; path: string };
    res?: { statusCode: number };
    responseTime?: number;
    code?: string;
    detail?: string;
  }

  /** An app logging at info with this access-log mode, and the lines it wrote per request id. */
  async function appWith(mode: string | undefined) {
    const lines: Logged[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Logged));
        done();
      },
    });
    const logger = createLogger('info', sink);
    const { db, cleanup } = await pgliteBackend.open();
    const tessera = await createTessera(testConfig({ TESSERA_ACCESS_LOG: mode, TESSERA_BOOTSTRAP_ADMIN: `admin:${strongPassword}` }), { db, logger });
    const app = await buildApp(tessera, { logger });
    const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'admin', password: strongPassword } });
    assert.equal(login.statusCode, 200);
    const token = login.json().access_token as string;
    let n = 0;
    /** Sends a request under a fresh request id; returns its status and the lines logged for it. */
    const send = async (request: InjectOptions) => {
      const requestId = `access-${mode ?? 'default'}-${(n += 1)}`;
      const response = await app.inject({ ...request, headers: { ...request.headers, 'x-request-id': requestId } });
      return { status: response.statusCode, lines: lines.filter((line) => line.requestId === requestId) };
    };
    return {
      tessera,
      token,
      send,
      async close() {
        await app.close();
        await tessera.close();
        await cleanup();
      },
    };
  }

  type Case = [name: string, status: number, request: (token: string) => InjectOptions];
  /** Called by other services for each request they serve, or by probes: no line by default. */
  const quiet: Case[] = [
    ['forward-auth, verified', 200, (token) => ({ url: '/auth/verify', headers: { authorization: `Bearer ${token}` } })],
    ['forward-auth, verified, with a query', 200, (token) => ({ url: '/auth/verify?permissions=', headers: { authorization: `Bearer ${token}` } })],
    ['liveness', 200, () => ({ url: '/healthz' })],
    ['readiness', 200, () => ({ url: '/readyz' })],
    ['metrics', 200, () => ({ url: '/metrics' })],
  ];
  const logged: Case[] = [
    ['a JSON route', 200, (token) => ({ url: '/auth/me', headers: { authorization: `Bearer ${token}` } })],
    ['a refused request', 401, () => ({ url: '/auth/me', headers: { authorization: 'Bearer not.a.validtoken' } })],
    ['an unknown route', 404, () => ({ url: '/nope' })],
    ['verification as a JSON verdict', 200, (token) => ({ method: 'POST', url: '/auth/verify', payload: { token } })],
    // An admin's call that discloses what a token holds: every use is traceable (ASVS V7).
    ['introspection', 200, (token) => ({ method: 'POST', url: '/auth/introspect', headers: { authorization: `Bearer ${token}` }, payload: { token } })],
    // A refusal on a quiet route: sampled, and the first of a second is always among them.
    ['forward-auth, refused', 401, () => ({ url: '/auth/verify', headers: { authorization: 'Bearer not.a.validtoken' } })],
  ];

  /** Exactly one `request completed` line, at info, naming the request and its answer. */
  function assertOneLine(label: string, status: number, found: Logged[], path: string) {
    assert.equal(found.length, 1, `${label}: ${JSON.stringify(found)}`);
    const [line] = found as [Logged];
    assert.equal(line.msg, 'request completed', label);
    assert.equal(line.level, status >= 500 ? 50 : 30, label);
    assert.equal(line.res?.statusCode, status, label);
    assert.equal(line.req?.path, path.split('?')[0], label);
    assert.equal(typeof line.responseTime, 'number', label);
  }

  describe('standard (the default)', () => {
    let t: Awaited<ReturnType<typeof appWith>>;
    before(async () => {
      t = await appWith(undefined);
    });
    after(() => t.close());

    it('writes one line per request, and none for verified tokens, health and metrics', async () => {
      for (const [name, status, request] of logged) {
        const { status: got, lines } = await t.send(request(t.token));
        assert.equal(got, status, name);
        assertOneLine(name, status, lines, String(request(t.token).url));
      }
      for (const [name, status, request] of quiet) {
        const { status: got, lines } = await t.send(request(t.token));
        assert.equal(got, status, name);
        assert.deepEqual(lines, [], name);
      }
    });

    it('samples the refusals of quiet routes: at most quietRefusalsPerSecond lines a second, successes never', () => {
      const written: Array<{ level: string; status: number }> = [];
      let now = 1_000_000;
      const log = new AccessLog('standard', () => now);
      const answer = (url: string, statusCode: number) => {
        const request = { url, method: 'GET', routeOptions: { url: url.split('?')[0] } } as unknown as FastifyRequest;
        const reply = {
          statusCode,
          elapsedTime: 1,
          log: { info: () => written.push({ level: 'info', status: statusCode }), error: () => written.push({ level: 'error', status: statusCode }) },
        } as unknown as FastifyReply;
        log.requestCompleted(null, request, reply);
      };
      for (let i = 0; i < 3 * quietRefusalsPerSecond; i += 1) answer('/auth/verify?permissions=a', 401);
      for (let i = 0; i < 5; i += 1) answer('/auth/verify', 200);
      assert.equal(written.length, quietRefusalsPerSecond, 'a flood of refusals is capped within the second');
      answer('/auth/verify', 503);
      assert.deepEqual(written.at(-1), { level: 'error', status: 503 }, 'a failure is logged even past the cap');
      now += 1000;
      answer('/healthz', 404);
      assert.equal(written.length, quietRefusalsPerSecond + 2, 'the next second samples again');
      answer('/auth/me', 401);
      answer('/auth/me', 401);
      assert.equal(written.length, quietRefusalsPerSecond + 4, 'other routes are never sampled');
      for (let i = 0; i < 3 * quietRefusalsPerSecond; i += 1) answer('/auth/verify', 401);
      answer('/auth/verify', 403);
      answer('/metrics', 401);
      assert.equal(written.length, 2 * quietRefusalsPerSecond + 6, 'a flood of one refusal leaves room for others');
    });

    it('puts the code and internal detail of a refusal on that one line', async () => {
      const { status, lines } = await t.send({ method: 'POST', url: '/auth/login', payload: { username: 'admin', password: 'not the password at all' } });
      assert.equal(status, 401);
      assertOneLine('failed sign-in', 401, lines, '/auth/login');
      assert.equal(lines[0]!.code, 'invalid_credentials');
      assert.equal(lines[0]!.detail, 'wrong_password');
    });

    it('still logs a verification that fails with 5xx', async () => {
      const verifier = t.tessera.verifier as { verify: (...args: never[]) => Promise<unknown>; verifyCached: (...args: never[]) => unknown };
      const original = verifier.verify;
      const originalCached = verifier.verifyCached;
      verifier.verify = async () => {
        throw new Error('the key ring is gone');
      };
      // An earlier request may have cached the token: the cached path fails too.
      verifier.verifyCached = () => {
        throw new Error('the key ring is gone');
      };
      try {
        const { status, lines } = await t.send({ url: '/auth/verify', headers: { authorization: `Bearer ${t.token}` } });
        assert.equal(status, 500);
        assertOneLine('failed verification', 500, lines.filter((line) => line.msg === 'request completed'), '/auth/verify');
      } finally {
        verifier.verify = original;
        verifier.verifyCached = originalCached;
      }
    });
  });

  describe('all', () => {
    let t: Awaited<ReturnType<typeof appWith>>;
    before(async () => {
      t = await appWith('all');
    });
    after(() => t.close());

    it('writes one line for every request, verification and probes included', async () => {
      for (const [name, status, request] of [...logged, ...quiet]) {
        const { status: got, lines } = await t.send(request(t.token));
        assert.equal(got, status, name);
        assertOneLine(name, status, lines, String(request(t.token).url));
      }
    });
  });

  describe('errors', () => {
    let t: Awaited<ReturnType<typeof appWith>>;
    before(async () => {
      t = await appWith('errors');
    });
    after(() => t.close());

    it('writes lines only for 5xx answers', async () => {
      for (const [name, status, request] of [...logged, ...quiet]) {
        const { status: got, lines } = await t.send(request(t.token));
        assert.equal(got, status, name);
        assert.deepEqual(lines, [], name);
      }
      const verifier = t.tessera.verifier as { verify: (...args: never[]) => Promise<unknown> };
      const original = verifier.verify;
      verifier.verify = async () => {
        throw new Error('the key ring is gone');
      };
      try {
        const { status, lines } = await t.send({ url: '/auth/me', headers: { authorization: `Bearer ${t.token}` } });
        assert.equal(status, 500);
        assertOneLine('failed request', 500, lines.filter((line) => line.msg === 'request completed'), '/auth/me');
      } finally {
        verifier.verify = original;
      }
    });
  });

  it('refuses an unknown mode at start-up, naming the setting', () => {
    assert.throws(() => testConfig({ TESSERA_ACCESS_LOG: 'verbose' }), /TESSERA_ACCESS_LOG/);
  });
});
