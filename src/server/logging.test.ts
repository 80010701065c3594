import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createTessera } from '../app/create-tessera.js';
import { strongPassword } from '../test-support/app.js';
import { testConfig } from '../test-support/config.js';
import { pgliteBackend } from '../test-support/databases.js';
import { buildApp } from './app.js';
import { createLogger } from './logger.js';

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
        await app.inject({ url: '/healthz', remoteAddress: '10.0.0.2', headers: { 'x-request-id': requestId, 'x-forwarded-for': forwardedFor } });
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
