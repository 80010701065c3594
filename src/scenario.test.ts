import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InjectOptions } from 'fastify';
import { describe, it } from 'node:test';
import { detectionRules } from './detection/detector.js';
import { createUser, startTestApp, strongPassword, type TestApp } from './test-support/app.js';
import { testBackends } from './test-support/databases.js';
import { findSample, parseExposition } from './test-support/metrics.js';

/*
 * Issue 6, "done when": one sign-in / refresh / abuse scenario through the HTTP API, then the
 * audit records, incidents, live events, metrics and statistics it must have produced; the chain
 * verifies, and tampering with it is caught.
 */

interface AuditView {
  seq: number;
  type: string;
  outcome: string;
  user_id: string | null;
  session_id: string | null;
  ip: string | null;
  request_id: string | null;
  details: Record<string, unknown>;
}

function listen(response: IncomingMessage): { types: string[]; ids: number[] } {
  const seen = { types: [] as string[], ids: [] as number[] };
  let buffer = '';
  response.setEncoding('utf8');
  response.on('data', (chunk: string) => {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.+)$/m.exec(block)?.[1];
      const id = /^id: (\d+)$/m.exec(block)?.[1];
      if (event && id) {
        seen.types.push(event);
        seen.ids.push(Number(id));
      }
    }
  });
  return seen;
}

async function until(condition: () => boolean, label: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

for (const backend of testBackends()) {
  describe(`security scenario end to end (${backend.name})`, () => {
    it('records, detects, streams, counts and verifies a sign-in, refresh and attack', async () => {
      const t: TestApp = await startTestApp(backend, {
        env: { TESSERA_IP_BLOCK_DURATION: '15m' },
        app: { eventStream: { pollMs: 50, heartbeatMs: 5000 } },
      });
      try {
        await t.app.listen({ host: '127.0.0.1', port: 0 });
        const port = (t.app.server.address() as AddressInfo).port;
        const inject = (options: InjectOptions) => t.app.inject(options);
        const as = (token: string) => ({ authorization: `Bearer ${token}` });

        await createUser(t, 'soc-admin', { roles: ['admin'] });
        const adminLogin = await inject({ method: 'POST', url: '/auth/login', payload: { username: 'soc-admin', password: strongPassword }, remoteAddress: '192.0.2.250' });
        const admin = (adminLogin.json() as { access_token: string }).access_token;

        // The security team watches the live stream from the start.
        const stream = await new Promise<IncomingMessage>((resolve, reject) => {
          httpRequest({ host: '127.0.0.1', port, path: '/admin/events', headers: as(admin) }, resolve).on('error', reject).end();
        });
        assert.equal(stream.statusCode, 200);
        const live = listen(stream);

        // Alice signs in from her usual place and refreshes.
        const aliceId = await createUser(t, 'alice');
        const signIn = await inject({
          method: 'POST',
          url: '/auth/login',
          payload: { username: 'alice', password: strongPassword, device: { name: 'Laptop', fingerprint: 'laptop-1' } },
          headers: { 'x-request-id': 'scenario-login-1', 'user-agent': 'Firefox/140' },
          remoteAddress: '198.51.100.7',
        });
        assert.equal(signIn.statusCode, 200);
        const alice = signIn.json() as { refresh_token: string; session_id: string };
        t.clock.advance(60_000);
        const rotated = await inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: alice.refresh_token }, remoteAddress: '198.51.100.7', headers: { 'user-agent': 'Firefox/140' } });
        assert.equal(rotated.statusCode, 200);

        // Her old refresh token leaks and is replayed after the grace window.
        t.clock.advance(60_000);
        const replay = await inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: alice.refresh_token }, remoteAddress: '203.0.113.9' });
        assert.equal(replay.statusCode, 401);

        // The attacker then brute-forces her password from one address.
        for (let i = 0; i < detectionRules.bruteForce.failures; i += 1) {
          t.clock.advance(5000);
          const guess = await inject({ method: 'POST', url: '/auth/login', payload: { username: 'alice', password: `Summer202${i}!` }, remoteAddress: '203.0.113.9' });
          assert.equal(guess.statusCode, 401);
          await t.tessera.detection.settled();
        }
        const blocked = await inject({ method: 'POST', url: '/auth/login', payload: { username: 'alice', password: strongPassword }, remoteAddress: '203.0.113.9' });
        assert.equal(blocked.statusCode, 403);
        assert.equal((blocked.json() as { error: string }).error, 'ip_blocked');
        await t.tessera.detection.settled();
        await t.tessera.stats.settled();

        // Audit: Alice's story, in order, each record tied to its request.
        const audit = await inject({ url: `/admin/audit?user=${aliceId}&limit=200`, headers: as(admin) });
        assert.equal(audit.statusCode, 200, audit.body);
        const records = (audit.json() as { records: AuditView[] }).records.reverse();
        assert.deepEqual(
          records.map((r) => r.type),
          [
            'user.created',
            'session.created',
            'login.succeeded',
            'refresh_token.rotated',
            'refresh_token.reused',
            'session.revoked',
            ...Array<string>(detectionRules.bruteForce.failures).fill('login.failed'),
          ],
        );
        const succeeded = records.find((r) => r.type === 'login.succeeded')!;
        assert.equal(succeeded.request_id, 'scenario-login-1', 'the record carries the response x-request-id');
        assert.equal(signIn.headers['x-request-id'], 'scenario-login-1');
        assert.equal(succeeded.session_id, alice.session_id);
        assert.equal(succeeded.ip, '198.51.100.7');
        const reused = records.find((r) => r.type === 'refresh_token.reused')!;
        assert.equal(reused.ip, '203.0.113.9');
        assert.equal(reused.request_id, replay.headers['x-request-id']);
        assert.deepEqual(
          new Set(records.filter((r) => r.type === 'login.failed').map((r) => r.details.reason)),
          new Set(['wrong_password']),
        );

        // Incidents: the reuse and the brute force, one each.
        const incidents = await inject({ url: '/admin/incidents', headers: as(admin) });
        const opened = (incidents.json() as { incidents: Array<{ type: string; subject: string }> }).incidents;
        assert.deepEqual(opened.map((i) => i.type).sort(), ['brute_force', 'refresh_token_reuse']);
        assert.ok(opened.some((i) => i.subject === `session:${alice.session_id}`));

        // The live stream saw the same things, in audit order.
        await until(() => live.types.filter((type) => type === 'incident.opened').length === 2 && live.types.includes('ip.blocked') && live.types.includes('access.denied'), 'incidents and the refusal on the stream');
        for (const type of ['login.succeeded', 'refresh_token.rotated', 'refresh_token.reused', 'login.failed', 'incident.opened', 'ip.blocked', 'access.denied']) {
          assert.ok(live.types.includes(type), `stream has ${type}`);
        }
        assert.deepEqual(live.ids, [...live.ids].sort((a, b) => a - b));
        stream.destroy();

        // Metrics and statistics agree.
        const samples = parseExposition((await inject({ url: '/metrics' })).body);
        assert.equal(findSample(samples, 'tessera_logins_total', { outcome: 'failure', reason: 'invalid_credentials' }), detectionRules.bruteForce.failures);
        assert.equal(findSample(samples, 'tessera_refresh_token_reuse_total'), 1);
        assert.equal(findSample(samples, 'tessera_incidents_opened_total', { type: 'brute_force' }), 1);
        assert.equal(findSample(samples, 'tessera_incidents_opened_total', { type: 'refresh_token_reuse' }), 1);
        assert.equal(findSample(samples, 'tessera_ip_blocks_total', { incident_type: 'brute_force' }), 1);
        const stats = (await inject({ url: '/admin/stats', headers: as(admin) })).json() as {
          users: number;
          open_incidents: number;
          last_24h: { logins_succeeded: number; logins_failed: number };
          stores: { database: { up: boolean }; hot_state: { up: boolean } };
        };
        assert.equal(stats.users, 2);
        assert.equal(stats.open_incidents, 2);
        assert.deepEqual(stats.last_24h.logins_succeeded, 2);
        assert.deepEqual(stats.last_24h.logins_failed, detectionRules.bruteForce.failures);
        assert.equal(stats.stores.database.up && stats.stores.hot_state.up, true);

        // The chain verifies; an edit in the database is caught and named.
        await t.tessera.auditChain.flush();
        const verified = await t.stores.audit.verify();
        assert.equal(verified.broken, undefined);
        assert.ok(verified.records >= records.length);
        const tampered = records.find((r) => r.type === 'refresh_token.reused')!;
        await backendQuery(t, `UPDATE audit_log SET ip = '192.0.2.1' WHERE seq = $1`, [tampered.seq]);
        const broken = await t.stores.audit.verify();
        assert.equal(broken.broken?.seq, tampered.seq);
        assert.equal(broken.broken?.reason, 'hash_mismatch');
        await backendQuery(t, `UPDATE audit_log SET ip = '203.0.113.9' WHERE seq = $1`, [tampered.seq]);
      } finally {
        await t.close();
      }
    });
  });
}

/** Raw SQL on the app's database, as an intruder with database access would run it. */
async function backendQuery(t: TestApp, sql: string, params: unknown[]): Promise<void> {
  await t.db.query(sql, params);
}
