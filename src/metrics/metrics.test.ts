import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../clock.js';
import { createEventBus, type EventBus } from '../events/bus.js';
import { counter, findSample, parseExposition, type Sample } from '../test-support/metrics.js';
import { createMetrics, type Metrics, type MetricsSources } from './metrics.js';

/*
 * The metrics module alone: every security counter is fed by its event with labels from fixed
 * sets, the scrape-time gauges read their sources, and close() stops everything.
 */

const up = async () => undefined;

function setup(overrides: Partial<MetricsSources> = {}, storePingTimeoutMs?: number) {
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const events = createEventBus({ now: () => clock.now() });
  const metrics = createMetrics({ clock, ...(storePingTimeoutMs === undefined ? {} : { storePingTimeoutMs }) });
  metrics.watch({
    events,
    revocations: { size: 0 },
    keyRing: { activeKeyCreatedAt: new Date(clock.now()) },
    stores: { ping: up },
    hotState: { ping: up },
    ...overrides,
  });
  return { clock, events, metrics };
}

async function scrape(metrics: Metrics): Promise<{ text: string; samples: Sample[] }> {
  const text = await metrics.expose();
  return { text, samples: parseExposition(text) };
}

async function emitAll(events: EventBus): Promise<void> {
  const ids = { userId: 'u1', sessionId: 's1' };
  await events.emit('login.succeeded', ids);
  await events.emit('login.failed', { reason: 'wrong_password', userId: 'u1' });
  await events.emit('login.failed', { reason: 'unknown_user' });
  await events.emit('login.failed', { reason: 'locked' });
  await events.emit('refresh_token.rotated', ids);
  await events.emit('refresh_token.rotated', ids);
  await events.emit('refresh_token.reused', ids);
  await events.emit('token.revoked', { userId: 'u1', tokenType: 'access_token' });
  await events.emit('session.revoked', { ...ids, reason: 'logout' });
  await events.emit('user.tokens_revoked', { userId: 'u1', sessions: 3, reason: 'password_reset' });
  await events.emit('user.locked', { lockedUntil: 0, locks: 1 });
  await events.emit('rate_limited', { limiter: 'login-account' });
  await events.emit('token.rejected', { reason: 'bad_signature', endpoint: '/auth/me' });
  await events.emit('access.denied', { reason: 'forbidden', endpoint: '/admin/users' });
  await events.emit('incident.opened', { incidentId: 'i1', incidentType: 'brute_force', severity: 'high', subject: 'u1' });
  await events.emit('ip.blocked', { blockedIp: '203.0.113.9', until: 0, incidentType: 'password_spraying' });
}

describe('metrics', () => {
  it('counts each security event with its labels', async () => {
    const { events, metrics } = setup();
    await emitAll(events);
    const { samples } = await scrape(metrics);
    const expected: [string, Record<string, string>, number][] = [
      ['tessera_logins_total', { outcome: 'success', reason: 'none' }, 1],
      // One reason for both, as the client's answer is one (issue 10, finding 5).
      ['tessera_logins_total', { outcome: 'failure', reason: 'invalid_credentials' }, 2],
      ['tessera_logins_total', { outcome: 'failure', reason: 'locked' }, 1],
      ['tessera_refresh_rotations_total', {}, 2],
      ['tessera_refresh_token_reuse_total', {}, 1],
      ['tessera_tokens_revoked_total', { token_type: 'access_token' }, 1],
      ['tessera_sessions_revoked_total', { reason: 'logout' }, 1],
      ['tessera_user_tokens_revoked_total', { reason: 'password_reset' }, 1],
      ['tessera_lockouts_total', {}, 1],
      ['tessera_rate_limited_total', { limiter: 'login-account' }, 1],
      ['tessera_tokens_rejected_total', { reason: 'bad_signature' }, 1],
      ['tessera_access_denied_total', { reason: 'forbidden' }, 1],
      ['tessera_incidents_opened_total', { type: 'brute_force' }, 1],
      ['tessera_ip_blocks_total', { incident_type: 'password_spraying' }, 1],
    ];
    for (const [name, labels, value] of expected) {
      assert.equal(findSample(samples, name, labels), value, `${name} ${JSON.stringify(labels)}`);
    }
    for (const reason of ['wrong_password', 'unknown_user']) {
      assert.equal(findSample(samples, 'tessera_logins_total', { outcome: 'failure', reason }), undefined, `no ${reason} series`);
    }
    metrics.close();
  });

  it('maps every label value outside its fixed set to other', async () => {
    const { events, metrics } = setup();
    const odd = 'x"} 1\nINJECTED{a="b';
    const anyPayload = events.emit as (type: string, payload: unknown) => Promise<void>;
    await anyPayload('login.failed', { reason: odd });
    await anyPayload('session.revoked', { userId: 'u', sessionId: 's', reason: odd });
    await anyPayload('user.tokens_revoked', { userId: 'u', sessions: 1, reason: odd });
    await anyPayload('token.revoked', { userId: 'u', tokenType: odd });
    await anyPayload('rate_limited', { limiter: odd });
    await anyPayload('token.rejected', { reason: odd, endpoint: odd });
    await anyPayload('access.denied', { reason: odd, endpoint: odd });
    await anyPayload('incident.opened', { incidentId: odd, incidentType: odd, severity: odd, subject: odd });
    await anyPayload('ip.blocked', { blockedIp: odd, until: 0, incidentType: odd });
    metrics.observeRequest('PROPFIND', '/healthz', 200, 0.01);
    metrics.observeRequest('GET', '/healthz', 1234, 0.01);
    const { text, samples } = await scrape(metrics);
    assert.ok(!text.includes('INJECTED'), 'no payload text reaches the exposition');
    const expected: [string, Record<string, string>][] = [
      ['tessera_logins_total', { outcome: 'failure', reason: 'other' }],
      ['tessera_sessions_revoked_total', { reason: 'other' }],
      ['tessera_user_tokens_revoked_total', { reason: 'other' }],
      ['tessera_tokens_revoked_total', { token_type: 'other' }],
      ['tessera_rate_limited_total', { limiter: 'other' }],
      ['tessera_tokens_rejected_total', { reason: 'other' }],
      ['tessera_access_denied_total', { reason: 'other' }],
      ['tessera_incidents_opened_total', { type: 'other' }],
      ['tessera_ip_blocks_total', { incident_type: 'other' }],
      ['tessera_http_request_duration_seconds_count', { method: 'other', route: '/healthz', status_code: '200' }],
      ['tessera_http_request_duration_seconds_count', { method: 'GET', route: '/healthz', status_code: 'other' }],
    ];
    for (const [name, labels] of expected) assert.equal(findSample(samples, name, labels), 1, `${name} ${JSON.stringify(labels)}`);
    metrics.close();
  });

  it('reads the gauges at scrape time: denylist size, signing-key age, store health', async () => {
    const revocations = { size: 3 };
    let databaseUp = true;
    const { clock, metrics } = setup({
      revocations,
      stores: { ping: async () => (databaseUp ? undefined : Promise.reject(new Error('down'))) },
    });
    let { samples } = await scrape(metrics);
    assert.equal(findSample(samples, 'tessera_revocation_denylist_entries'), 3);
    assert.equal(findSample(samples, 'tessera_signing_key_age_seconds'), 0);
    assert.equal(findSample(samples, 'tessera_store_up', { store: 'database' }), 1);
    assert.equal(findSample(samples, 'tessera_store_up', { store: 'hot_state' }), 1);

    revocations.size = 7;
    clock.advance(90 * 60_000);
    databaseUp = false;
    ({ samples } = await scrape(metrics));
    assert.equal(findSample(samples, 'tessera_revocation_denylist_entries'), 7);
    assert.equal(findSample(samples, 'tessera_signing_key_age_seconds'), 5400);
    assert.equal(findSample(samples, 'tessera_store_up', { store: 'database' }), 0);
    assert.equal(findSample(samples, 'tessera_store_up', { store: 'hot_state' }), 1);
    metrics.close();
  });

  it('counts a store that does not answer within the timeout as down, and the scrape returns', async () => {
    const { metrics } = setup({ hotState: { ping: () => new Promise<void>(() => undefined) } }, 20);
    const { samples } = await scrape(metrics);
    assert.equal(findSample(samples, 'tessera_store_up', { store: 'hot_state' }), 0);
    assert.equal(findSample(samples, 'tessera_store_up', { store: 'database' }), 1);
    metrics.close();
  });

  it('times audit appends and HTTP requests into their histograms', async () => {
    const { metrics } = setup();
    metrics.observeAuditWrite(0.002);
    metrics.observeAuditWrite(0.3);
    metrics.observeRequest('POST', '/auth/login', 401, 0.2);
    const { samples } = await scrape(metrics);
    assert.equal(findSample(samples, 'tessera_audit_write_duration_seconds_count'), 2);
    assert.equal(findSample(samples, 'tessera_audit_write_duration_seconds_bucket', { le: '0.0025' }), 1);
    assert.equal(findSample(samples, 'tessera_audit_write_duration_seconds_bucket', { le: '0.5' }), 2);
    const labels = { method: 'POST', route: '/auth/login', status_code: '401' };
    assert.equal(findSample(samples, 'tessera_http_request_duration_seconds_count', labels), 1);
    assert.equal(findSample(samples, 'tessera_http_request_duration_seconds_bucket', { ...labels, le: '0.1' }), 0);
    assert.equal(findSample(samples, 'tessera_http_request_duration_seconds_bucket', { ...labels, le: '0.25' }), 1);
    metrics.close();
  });

  it('has process metrics and a registry of its own per instance', async () => {
    const a = setup();
    const b = setup();
    await a.events.emit('user.locked', { lockedUntil: 0, locks: 1 });
    const samplesA = (await scrape(a.metrics)).samples;
    const samplesB = (await scrape(b.metrics)).samples;
    assert.equal(counter(samplesA, 'tessera_lockouts_total'), 1);
    assert.equal(counter(samplesB, 'tessera_lockouts_total'), 0, 'instances do not share counters');
    assert.ok((findSample(samplesA, 'process_resident_memory_bytes') ?? 0) > 0);
    assert.ok((findSample(samplesA, 'process_cpu_seconds_total') ?? 0) > 0);
    assert.ok(findSample(samplesA, 'nodejs_eventloop_lag_p99_seconds') !== undefined);
    a.metrics.close();
    b.metrics.close();
  });

  it('stops counting once closed', async () => {
    const { events, metrics } = setup();
    await events.emit('user.locked', { lockedUntil: 0, locks: 1 });
    metrics.close();
    await events.emit('user.locked', { lockedUntil: 0, locks: 1 });
    assert.equal(counter((await scrape(metrics)).samples, 'tessera_lockouts_total'), 1);
  });
});
