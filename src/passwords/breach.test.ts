import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createUser, startTestApp, type TestApp } from '../test-support/app.js';
import { pgliteBackend } from '../test-support/databases.js';
import { BreachCheckUnavailable, createHibpBreachChecker, createOfflineBreachChecker } from './breach.js';

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex').toUpperCase();
const pwned = 'a pwned passphrase 2019!';

/** A fake HIBP range API on loopback: knows one password, pads every answer, records requests. */
async function fakeRangeApi(): Promise<{ url: string; requests: { path: string; padding: string | undefined }[]; server: Server; delayMs: number }> {
  const state = { requests: [] as { path: string; padding: string | undefined }[], delayMs: 0 };
  const server = createServer((request, response) => {
    state.requests.push({ path: request.url ?? '', padding: request.headers['add-padding'] as string | undefined });
    const prefix = (request.url ?? '').replace('/range/', '');
    const lines = [`${'0'.repeat(35)}:0`, `${'F'.repeat(35)}:0`];
    if (sha1(pwned).startsWith(prefix)) lines.push(`${sha1(pwned).slice(5)}:4211`);
    setTimeout(() => response.end(lines.join('\r\n')), state.delayMs);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const fake = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, requests: state.requests };
  return Object.defineProperty(fake, 'delayMs', { get: () => state.delayMs, set: (v: number) => (state.delayMs = v) }) as typeof fake & { delayMs: number };
}

describe('breached-password checks', () => {
  let api: Awaited<ReturnType<typeof fakeRangeApi>>;
  before(async () => {
    api = await fakeRangeApi();
  });
  after(() => api.server.close());

  it('asks the range API with a five-character prefix and padding, never the whole hash, and caches', async () => {
    const checker = createHibpBreachChecker({ baseUrl: api.url, onFailure: 'open', offline: createOfflineBreachChecker() });
    api.requests.length = 0;
    assert.equal(await checker.isBreached(pwned), true);
    assert.equal(await checker.isBreached('a passphrase nobody leaked 7'), false);
    assert.equal(await checker.isBreached(pwned), true);
    assert.equal(api.requests.length, 2, 'the second look-up of a range is cached');
    for (const request of api.requests) {
      assert.match(request.path, /^\/range\/[0-9A-F]{5}$/);
      assert.equal(request.padding, 'true');
    }
    assert.ok(!api.requests.some((request) => request.path.includes(sha1(pwned).slice(5))));
  });

  it('falls back to the offline list when the API is unreachable or slow (open), or refuses (closed)', async () => {
    const errors: unknown[] = [];
    const down = createHibpBreachChecker({ baseUrl: 'http://127.0.0.1:9', onFailure: 'open', offline: createOfflineBreachChecker(), onError: (e) => errors.push(e) });
    assert.equal(await down.isBreached('password123'), true, 'the offline list still answers');
    assert.equal(await down.isBreached(pwned), false);
    assert.equal(errors.length, 1, 'the failure is reported for the log');
    api.delayMs = 500;
    try {
      const slow = createHibpBreachChecker({ baseUrl: api.url, onFailure: 'open', offline: createOfflineBreachChecker(), timeoutMs: 100 });
      assert.equal(await slow.isBreached(pwned), false, 'a timeout is a failure');
    } finally {
      api.delayMs = 0;
    }
    const closed = createHibpBreachChecker({ baseUrl: 'http://127.0.0.1:9', onFailure: 'closed', offline: createOfflineBreachChecker() });
    await assert.rejects(closed.isBreached('a passphrase nobody leaked 7'), BreachCheckUnavailable);
  });

  describe('through POST /auth/register', () => {
    let t: TestApp;
    let closed: TestApp;
    before(async () => {
      t = await startTestApp(pgliteBackend, { env: { TESSERA_SIGNUP: 'open', TESSERA_HIBP: 'online', TESSERA_HIBP_URL: api.url } });
      closed = await startTestApp(pgliteBackend, {
        env: { TESSERA_SIGNUP: 'open', TESSERA_HIBP: 'online', TESSERA_HIBP_URL: 'http://127.0.0.1:9', TESSERA_HIBP_FAIL: 'closed' },
      });
    });
    after(async () => {
      await t.close();
      await closed.close();
    });

    it('refuses a password the API knows, with password_breached', async () => {
      const response = await t.app.inject({ method: 'POST', url: '/auth/register', payload: { username: 'leaky', password: pwned } });
      assert.equal(response.statusCode, 400);
      assert.equal(response.json().error, 'password_breached');
      assert.equal((await t.app.inject({ method: 'POST', url: '/auth/register', payload: { username: 'careful', password: 'a passphrase nobody leaked 7' } })).statusCode, 201);
      await assert.rejects(createUser(t, 'leaky-admin', { password: pwned }), /breaches/);
    });

    it('answers 503 when the API is down and TESSERA_HIBP_FAIL=closed', async () => {
      const response = await closed.app.inject({ method: 'POST', url: '/auth/register', payload: { username: 'unlucky', password: 'a passphrase nobody leaked 7' } });
      assert.equal(response.statusCode, 503);
      assert.equal(response.json().error, 'service_unavailable');
    });
  });
});
