import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { createUser, startTestApp, strongPassword, type TestApp } from '../test-support/app.js';
import { testBackends } from '../test-support/databases.js';
import { detectionRules } from './detector.js';

/*
 * Blocks that end before their time (issue 11, item 9): resolving an incident lifts the block its
 * rule placed, at once and audited; networks in TESSERA_DETECTION_EXEMPT are never blocked by a
 * rule, though their incidents still open.
 */

interface IncidentView {
  id: string;
  type: string;
  subject: string;
  status: string;
  evidence: Record<string, unknown>;
}

const loginFrom = (t: TestApp, ip: string, username: string, password: string): Promise<LightMyRequestResponse> =>
  t.app.inject({ method: 'POST', url: '/auth/login', payload: { username, password }, remoteAddress: ip });

async function withApp(backend: Parameters<typeof startTestApp>[0], env: Record<string, string>, run: (t: TestApp, admin: string) => Promise<void>): Promise<void> {
  const t = await startTestApp(backend, { env: { TESSERA_IP_BLOCK_DURATION: '15m', ...env } });
  try {
    await createUser(t, 'security-admin', { roles: ['admin'] });
    const signedIn = await loginFrom(t, '192.0.2.250', 'security-admin', strongPassword);
    assert.equal(signedIn.statusCode, 200, signedIn.body);
    await run(t, (signedIn.json() as { access_token: string }).access_token);
  } finally {
    await t.close();
  }
}

async function incidentsOf(t: TestApp, admin: string, type: string): Promise<IncidentView[]> {
  await t.tessera.detection.settled();
  const response = await t.app.inject({ url: `/admin/incidents?type=${type}`, headers: { authorization: `Bearer ${admin}` } });
  assert.equal(response.statusCode, 200, response.body);
  return (response.json() as { incidents: IncidentView[] }).incidents;
}

/** Ten mistyped names from one address: the password-spraying rule fires. */
async function spray(t: TestApp, ip: string): Promise<void> {
  for (let i = 0; i < detectionRules.passwordSpraying.accounts; i += 1) {
    t.clock.advance(1000);
    assert.equal((await loginFrom(t, ip, `mistyped-${i}`, 'Winter2026!Winter')).statusCode, 401);
    await t.tessera.detection.settled();
  }
}

async function resolve(t: TestApp, admin: string, id: string): Promise<void> {
  const response = await t.app.inject({ method: 'PATCH', url: `/admin/incidents/${id}`, payload: { status: 'resolved' }, headers: { authorization: `Bearer ${admin}` } });
  assert.equal(response.statusCode, 200, response.body);
}

for (const backend of testBackends()) {
  describe(`lifting IP blocks (${backend.name})`, () => {
    for (const [address, network] of [
      ['127.0.0.1', '127.0.0.1'],
      ['2001:db8:5:6::7', '2001:db8:5:6::/64'],
    ] as const) {
      it(`resolving the spraying incident lets ${address} sign in again at once, audited`, async () => {
        await withApp(backend, {}, async (t, admin) => {
          await createUser(t, 'developer');
          await spray(t, address);
          assert.equal((await loginFrom(t, address, 'developer', strongPassword)).statusCode, 403, 'blocked');
          const [incident] = await incidentsOf(t, admin, 'password_spraying');
          assert.ok(incident);
          assert.equal(incident.evidence.blocked_ip, network, 'the incident names the network it blocked');

          await resolve(t, admin, incident.id);
          const again = await loginFrom(t, address, 'developer', strongPassword);
          assert.equal(again.statusCode, 200, again.body);

          await t.tessera.auditChain.flush();
          const [record] = await t.stores.audit.list({ type: 'ip.unblocked' }, { limit: 1 });
          assert.ok(record, 'an ip.unblocked record');
          assert.deepEqual(record.details, { blockedIp: network, incidentId: incident.id, by: (await t.stores.users.findByUsername('security-admin'))!.id });
          assert.equal(record.severity, 'medium');
        });
      });
    }

    it('answers 503, never 500, when the hot state fails while lifting the block of a resolved incident', async () => {
      await withApp(backend, {}, async (t, admin) => {
        await spray(t, '198.51.100.77');
        const [incident] = await incidentsOf(t, admin, 'password_spraying');
        assert.ok(incident);
        t.hotState.clearUntil = async () => {
          throw new Error('hot state unreachable');
        };
        const response = await t.app.inject({ method: 'PATCH', url: `/admin/incidents/${incident.id}`, payload: { status: 'resolved' }, headers: { authorization: `Bearer ${admin}` } });
        assert.equal(response.statusCode, 503, response.body);
        assert.equal((response.json() as { error: string }).error, 'service_unavailable');
        assert.doesNotMatch(response.body, /unreachable/);
      });
    });

    it('resolving a brute-force incident lifts its block even after the attack spread to other addresses', async () => {
      await withApp(backend, {}, async (t, admin) => {
        await createUser(t, 'target');
        for (let i = 0; i < detectionRules.bruteForce.failures; i += 1) {
          t.clock.advance(1000);
          await loginFrom(t, '203.0.113.9', 'target', `guess number ${i}`);
          await t.tessera.detection.settled();
        }
        t.clock.advance(11_000);
        await loginFrom(t, '203.0.113.10', 'target', 'one more guess');
        const [incident] = await incidentsOf(t, admin, 'brute_force');
        assert.ok(incident);
        assert.equal(incident.evidence.distinct_ips, 2);
        assert.equal(incident.evidence.blocked_ip, '203.0.113.9', 'kept through the update');
        assert.equal((await loginFrom(t, '203.0.113.9', 'target', strongPassword)).statusCode, 403);
        await resolve(t, admin, incident.id);
        assert.equal((await loginFrom(t, '203.0.113.9', 'target', strongPassword)).statusCode, 200);
      });
    });

    it('an admin can lift any block through the service, once', async () => {
      await withApp(backend, {}, async (t) => {
        await createUser(t, 'neighbour');
        await spray(t, '198.51.100.40');
        assert.equal((await loginFrom(t, '198.51.100.40', 'neighbour', strongPassword)).statusCode, 403);
        assert.equal(await t.tessera.ipBlocks.lift('198.51.100.40', { by: 'an-admin-id' }), true);
        assert.equal(await t.tessera.ipBlocks.lift('198.51.100.40', { by: 'an-admin-id' }), false, 'nothing left to lift');
        assert.equal((await loginFrom(t, '198.51.100.40', 'neighbour', strongPassword)).statusCode, 200);
      });
    });

    for (const [exempt, address] of [
      ['127.0.0.0/8, ::1', '127.0.0.1'],
      ['10.0.0.0/8', '10.20.30.40'],
      ['2001:db8:5:6::7', '2001:db8:5:6::99'],
    ] as const) {
      it(`TESSERA_DETECTION_EXEMPT=${exempt}: ${address} is never blocked, its incident still opens`, async () => {
        await withApp(backend, { TESSERA_DETECTION_EXEMPT: exempt }, async (t, admin) => {
          await createUser(t, 'developer');
          await spray(t, address);
          const [incident] = await incidentsOf(t, admin, 'password_spraying');
          assert.ok(incident, 'the incident opened');
          assert.equal(incident.evidence.blocked_ip, undefined, 'nothing blocked');
          assert.equal((await loginFrom(t, address, 'developer', strongPassword)).statusCode, 200);
          await t.tessera.auditChain.flush();
          assert.deepEqual(await t.stores.audit.list({ type: 'ip.blocked' }, { limit: 1 }), []);
        });
      });
    }
  });
}
