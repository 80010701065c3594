import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { after, before, describe, it } from 'node:test';
import { createUser, login, signIn, startTestApp, strongPassword, type TestApp } from '../../test-support/app.js';
import { testBackends } from '../../test-support/databases.js';
import { counter, findSample, parseExposition, type Sample } from '../../test-support/metrics.js';
import { assertApiError, del, get, postJson, refresh, type SignedIn } from '../../test-support/tokens.js';

/*
 * GET /metrics (SPEC §3 "Operations") over HTTP: the text format, the counters the event bus
 * feeds, the HTTP latency histogram, the scrape-time gauges, TESSERA_METRICS_TOKEN, and labels
 * that no client can choose.
 */

const contentType = /^text\/plain; version=0\.0\.4; charset=utf-8$/;

async function scrape(t: TestApp, token?: string): Promise<Sample[]> {
  const response = await get(t, '/metrics', token === undefined ? {} : { token });
  assert.equal(response.statusCode, 200, response.body);
  return parseExposition(response.body);
}

/** How much each named sample grew between two scrapes. */
function delta(before: Sample[], after: Sample[], name: string, labels: Record<string, string> = {}): number {
  return counter(after, name, labels) - counter(before, name, labels);
}

const requests = 'tessera_http_request_duration_seconds_count';

for (const backend of testBackends()) {
  describe(`GET /metrics (${backend.name})`, () => {
    describe('without TESSERA_METRICS_TOKEN', () => {
      let t: TestApp;
      before(async () => {
        t = await startTestApp(backend);
      });
      after(() => t?.close());

      it('is open and answers in the Prometheus text format', async () => {
        const response = await get(t, '/metrics');
        assert.equal(response.statusCode, 200, response.body);
        assert.match(String(response.headers['content-type']), contentType);
        assert.equal(response.headers['cache-control'], 'no-store');
        assert.match(response.body, /^# TYPE tessera_logins_total counter$/m);
        assert.match(response.body, /^# TYPE tessera_http_request_duration_seconds histogram$/m);
        assert.ok(parseExposition(response.body).length > 0);
      });

      it('counts sign-ins by outcome and reason, refreshes, audit writes and request latency', async () => {
        await createUser(t, 'mx-alice');
        const before = await scrape(t);
        const alice = await signIn(t, 'mx-alice');
        assert.equal((await login(t, { username: 'mx-alice', password: 'not the password at all' })).statusCode, 401);
        assert.equal((await login(t, { username: 'mx-nobody', password: strongPassword })).statusCode, 401);
        assert.equal((await refresh(t, alice.refresh_token)).statusCode, 200);
        // Forward-auth skips the hooks it does not need, never the request metrics.
        assert.equal((await t.app.inject({ url: '/auth/verify', headers: { authorization: `Bearer ${alice.access_token}` } })).statusCode, 200);
        assert.equal((await t.app.inject({ url: '/auth/verify' })).statusCode, 401);
        const after = await scrape(t);

        assert.equal(delta(before, after, 'tessera_logins_total', { outcome: 'success', reason: 'none' }), 1);
        assert.equal(delta(before, after, 'tessera_logins_total', { outcome: 'failure', reason: 'invalid_credentials' }), 2, 'a wrong password and an unknown name alike');
        assert.equal(delta(before, after, 'tessera_refresh_rotations_total'), 1);
        // session.created, login.succeeded, two login.failed, refresh_token.rotated: each one append.
        assert.ok(delta(before, after, 'tessera_audit_write_duration_seconds_count') >= 5, 'audit appends are timed');
        assert.equal(delta(before, after, requests, { method: 'POST', route: '/auth/login', status_code: '200' }), 1);
        assert.equal(delta(before, after, requests, { method: 'POST', route: '/auth/login', status_code: '401' }), 2);
        assert.equal(delta(before, after, requests, { method: 'POST', route: '/auth/refresh', status_code: '200' }), 1);
        assert.equal(delta(before, after, requests, { method: 'GET', route: '/metrics', status_code: '200' }), 1, 'the first scrape');
        assert.equal(delta(before, after, requests, { method: 'GET', route: '/auth/verify', status_code: '200' }), 1);
        assert.equal(delta(before, after, requests, { method: 'GET', route: '/auth/verify', status_code: '401' }), 1);
      });

      it('counts reuse detections and revocations by reason, and the denylist grows', async () => {
        await createUser(t, 'mx-bob');
        const before = await scrape(t);
        const first = await signIn(t, 'mx-bob');
        const rotated = (await refresh(t, first.refresh_token)).json() as SignedIn;
        t.clock.advance(t.config.refreshReuseGraceMs + 1000);
        assertApiError(await refresh(t, first.refresh_token), 401, 'invalid_grant', 'reuse');
        const second = await signIn(t, 'mx-bob');
        assert.equal((await postJson(t, '/auth/logout', {}, { token: second.access_token })).statusCode, 204);
        const after = await scrape(t);

        assert.equal(delta(before, after, 'tessera_refresh_token_reuse_total'), 1);
        assert.equal(delta(before, after, 'tessera_sessions_revoked_total', { reason: 'refresh_token_reused' }), 1);
        assert.equal(delta(before, after, 'tessera_sessions_revoked_total', { reason: 'logout' }), 1);
        assert.ok(delta(before, after, 'tessera_revocation_denylist_entries') >= 2, 'both ended sessions are denied');
        assertApiError(await refresh(t, rotated.refresh_token), 401, 'invalid_grant', 'the reused session ended');
      });

      it('reports the stores up and the age of the signing key from the clock', async () => {
        const before = await scrape(t);
        assert.equal(findSample(before, 'tessera_store_up', { store: 'database' }), 1);
        assert.equal(findSample(before, 'tessera_store_up', { store: 'hot_state' }), 1);
        t.clock.advance(3_600_000);
        const after = await scrape(t);
        assert.equal(delta(before, after, 'tessera_signing_key_age_seconds'), 3600);
      });

      it('never takes a label from the request: paths, queries, methods and names are not echoed', async () => {
        const marker = randomBytes(8).toString('hex');
        const before = await scrape(t);
        const probes: LightMyRequestResponse[] = [
          await get(t, `/x?=HYPERLINK(${marker}`),
          await get(t, `/does-not-exist-${marker}`),
          await del(t, `/auth/sessions/${marker}`, { headers: { 'user-agent': marker, 'x-request-id': marker } }),
          await t.app.inject({ method: 'PROPFIND', url: `/auth/login?${marker}` }),
          await login(t, { username: `=HYPERLINK("${marker}")"} 1 ${marker}`, password: strongPassword }),
        ];
        assert.deepEqual(
          probes.map((response) => response.statusCode),
          [404, 404, 401, 404, 401],
        );
        const response = await get(t, '/metrics');
        const after = parseExposition(response.body);
        assert.ok(!response.body.includes(marker), 'no requested string appears in the exposition');
        assert.ok(!response.body.includes('HYPERLINK') && !response.body.includes('does-not-exist'));
        assert.equal(delta(before, after, requests, { method: 'GET', route: 'unmatched', status_code: '404' }), 2);
        assert.equal(delta(before, after, requests, { method: 'DELETE', route: '/auth/sessions/:id', status_code: '401' }), 1);
        assert.equal(delta(before, after, requests, { method: 'other', route: 'unmatched', status_code: '404' }), 1);
        assert.equal(delta(before, after, 'tessera_logins_total', { outcome: 'failure', reason: 'invalid_credentials' }), 1);
        for (const sample of after.filter((s) => s.name.startsWith('tessera_'))) {
          for (const value of Object.values(sample.labels)) {
            assert.match(value, /^(?:[a-z0-9_+.-]+|\/[a-zA-Z0-9_/:.-]*)$/i, `${sample.name} label ${value}`);
          }
        }
      });
    });

    describe('with TESSERA_METRICS_TOKEN and tight rate limits', () => {
      const metricsToken = randomBytes(24).toString('base64url');
      let t: TestApp;
      before(async () => {
        t = await startTestApp(backend, {
          env: { TESSERA_METRICS_TOKEN: metricsToken, TESSERA_RATE_LIMIT_IP: '3/1h', TESSERA_RATE_LIMIT_LOGIN_IP: '1/1m' },
        });
      });
      after(() => t?.close());

      it('answers 401 invalid_token without the right bearer token, 200 with it', async () => {
        const refused: [string, Record<string, string>][] = [
          ['no header', {}],
          ['wrong token', { authorization: 'Bearer wrong' }],
          ['empty bearer', { authorization: 'Bearer ' }],
          ['token with a byte more', { authorization: `Bearer ${metricsToken}x` }],
          ['token with a byte less', { authorization: `Bearer ${metricsToken.slice(0, -1)}` }],
          ['another scheme', { authorization: `Basic ${metricsToken}` }],
          ['the token without a scheme', { authorization: metricsToken }],
          ['the token in another header', { 'x-api-key': metricsToken }],
        ];
        for (const [label, headers] of refused) {
          const response = await get(t, '/metrics', { headers, remoteAddress: '192.0.2.1' });
          const body = assertApiError(response, 401, 'invalid_token', label);
          assert.ok(!JSON.stringify(body).includes(metricsToken), label);
          assert.match(String(response.headers['www-authenticate']), /error="invalid_token"/, label);
        }
        const ok = await get(t, '/metrics', { token: metricsToken });
        assert.equal(ok.statusCode, 200, ok.body);
        assert.match(String(ok.headers['content-type']), contentType);
        assert.equal(
          findSample(parseExposition(ok.body), requests, { method: 'GET', route: '/metrics', status_code: '401' }),
          refused.length,
          'refused scrapes are counted, and none was rate limited',
        );
      });

      it('is exempt from the per-IP limit, and rate-limited requests are counted by limiter', async () => {
        const before = await scrape(t, metricsToken);
        for (let i = 0; i < 6; i += 1) {
          assert.equal((await get(t, '/metrics', { token: metricsToken, remoteAddress: '192.0.2.2' })).statusCode, 200, `scrape ${i}`);
        }
        const statuses: number[] = [];
        for (let i = 0; i < 4; i += 1) statuses.push((await get(t, '/auth/me', { remoteAddress: '192.0.2.3' })).statusCode);
        assert.deepEqual(statuses, [401, 401, 401, 429]);
        const body = { username: 'mx-limited', password: strongPassword };
        assert.equal((await postJson(t, '/auth/login', body, { remoteAddress: '192.0.2.4' })).statusCode, 401);
        assertApiError(await postJson(t, '/auth/login', body, { remoteAddress: '192.0.2.4' }), 429, 'rate_limited', 'login-ip');
        const after = await scrape(t, metricsToken);

        assert.equal(delta(before, after, 'tessera_rate_limited_total', { limiter: 'ip' }), 1);
        assert.equal(delta(before, after, 'tessera_rate_limited_total', { limiter: 'login-ip' }), 1);
        assert.equal(delta(before, after, requests, { method: 'GET', route: '/auth/me', status_code: '429' }), 1);
      });
    });
  });
}
