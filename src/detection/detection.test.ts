import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { createUser, signIn, startTestApp, strongPassword, type TestApp } from '../test-support/app.js';
import { testBackends, type TestBackend } from '../test-support/databases.js';
import { decodeSegment, hs256, serverKeys, signJws } from '../test-support/tokens.js';
import { detectionRules } from './detector.js';

/*
 * Each detection rule (SPEC §4) driven through HTTP with a fake clock: the attack opens exactly
 * one incident of its type, repeats update it, the source address is blocked where the rule says
 * so (403 ip_blocked on sign-in, never on the owner's existing session), and the incident can be
 * acknowledged and resolved through the admin API.
 */

const minute = 60_000;

interface IncidentView {
  id: string;
  type: string;
  severity: string;
  subject: string;
  status: string;
  count: number;
  evidence: Record<string, unknown>;
}

function loginFrom(t: TestApp, ip: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return t.app.inject({ method: 'POST', url: '/auth/login', payload: body, remoteAddress: ip, headers });
}

async function settle(t: TestApp): Promise<void> {
  await t.tessera.detection.settled();
}

async function adminToken(t: TestApp): Promise<string> {
  await createUser(t, 'security-admin', { roles: ['admin'] });
  // From an address of its own, so it never counts towards the rules under test.
  const response = await loginFrom(t, '192.0.2.250', { username: 'security-admin', password: strongPassword });
  assert.equal(response.statusCode, 200, response.body);
  return (response.json() as { access_token: string }).access_token;
}

async function incidents(t: TestApp, token: string, query = ''): Promise<IncidentView[]> {
  await settle(t);
  const response = await t.app.inject({ url: `/admin/incidents${query}`, headers: { authorization: `Bearer ${token}` } });
  assert.equal(response.statusCode, 200, response.body);
  return (response.json() as { incidents: IncidentView[] }).incidents;
}

/** The only incident, apart from the admin's own sign-in: asserts there is exactly one. */
async function onlyIncident(t: TestApp, token: string): Promise<IncidentView> {
  const all = await incidents(t, token);
  assert.equal(all.length, 1, `exactly one incident, got ${JSON.stringify(all.map((i) => i.type))}`);
  return all[0]!;
}

async function withApp(backend: TestBackend, run: (t: TestApp, admin: string) => Promise<void>): Promise<void> {
  const t = await startTestApp(backend, { env: { TESSERA_IP_BLOCK_DURATION: '15m' } });
  try {
    const admin = await adminToken(t);
    await run(t, admin);
  } finally {
    await t.close();
  }
}

for (const backend of testBackends()) {
  describe(`detection rules (${backend.name})`, () => {
    it('brute force on one account from one address: one incident, the address blocked, the owner keeps the session', async () => {
      await withApp(backend, async (t, admin) => {
        await createUser(t, 'victim');
        const owner = await loginFrom(t, '198.51.100.1', { username: 'victim', password: strongPassword });
        assert.equal(owner.statusCode, 200);
        const session = owner.json() as { access_token: string; refresh_token: string };

        for (let i = 0; i < detectionRules.bruteForce.failures; i += 1) {
          t.clock.advance(10_000);
          const response = await loginFrom(t, '203.0.113.9', { username: 'victim', password: `guess number ${i}` });
          assert.equal(response.statusCode, 401);
          await settle(t);
        }
        const incident = await onlyIncident(t, admin);
        assert.equal(incident.type, 'brute_force');
        assert.equal(incident.severity, 'high');
        assert.match(incident.subject, /^account:[A-Za-z0-9_-]{22}$/, 'the identifier, as a digest');
        assert.match(String(incident.evidence.user_id), /^[0-9a-f-]{36}$/, 'the account in the evidence');
        assert.equal(incident.evidence.failures, detectionRules.bruteForce.failures);
        assert.equal(incident.status, 'open');

        const blocked = await loginFrom(t, '203.0.113.9', { username: 'victim', password: strongPassword });
        assert.equal(blocked.statusCode, 403);
        assert.equal((blocked.json() as { error: string }).error, 'ip_blocked');
        assert.ok(Number(blocked.headers['retry-after']) > 0);
        // The owner's session is untouched, and signing in from elsewhere still works.
        const me = await t.app.inject({ url: '/auth/me', headers: { authorization: `Bearer ${session.access_token}` } });
        assert.equal(me.statusCode, 200);
        const refreshed = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: session.refresh_token }, remoteAddress: '203.0.113.9' });
        assert.equal(refreshed.statusCode, 200, 'a block never refuses an existing session, even from the blocked address');
        assert.equal((await loginFrom(t, '198.51.100.1', { username: 'victim', password: strongPassword })).statusCode, 200);

        // Repeats update the open incident instead of opening another.
        t.clock.advance(11_000);
        await loginFrom(t, '203.0.113.10', { username: 'victim', password: 'one more guess' });
        const again = await incidents(t, admin, '?type=brute_force');
        assert.equal(again.length, 1);
        assert.equal(again[0]!.count, 2);

        // The block ends after TESSERA_IP_BLOCK_DURATION.
        t.clock.advance(15 * minute + 1000);
        assert.equal((await loginFrom(t, '203.0.113.9', { username: 'victim', password: 'wrong again' })).statusCode, 401);
      });
    });

    it('password spraying from one address across many accounts: one incident, the address blocked', async () => {
      await withApp(backend, async (t, admin) => {
        for (let i = 0; i < detectionRules.passwordSpraying.accounts; i += 1) {
          // Existing and unknown names both count.
          if (i % 2 === 0) await createUser(t, `sprayed-${i}`);
          t.clock.advance(5000);
          assert.equal((await loginFrom(t, '203.0.113.50', { username: `sprayed-${i}`, password: 'Winter2026!' })).statusCode, 401);
          await settle(t);
        }
        const incident = await onlyIncident(t, admin);
        assert.equal(incident.type, 'password_spraying');
        assert.equal(incident.subject, 'ip:203.0.113.50');
        assert.equal(incident.evidence.accounts, detectionRules.passwordSpraying.accounts);
        assert.equal((await loginFrom(t, '203.0.113.50', { username: 'sprayed-0', password: strongPassword })).statusCode, 403);
      });
    });

    it('a distributed attack on one account from many addresses: one incident, nothing blocked', async () => {
      await withApp(backend, async (t, admin) => {
        await createUser(t, 'target');
        for (let i = 0; i < detectionRules.distributedAttack.ips; i += 1) {
          t.clock.advance(5000);
          assert.equal((await loginFrom(t, `203.0.113.${100 + i}`, { username: 'target', password: `attempt ${i}` })).statusCode, 401);
          await settle(t);
        }
        const incident = await onlyIncident(t, admin);
        assert.equal(incident.type, 'distributed_attack');
        assert.equal(incident.evidence.distinct_ips, detectionRules.distributedAttack.ips);
        assert.equal((await loginFrom(t, '203.0.113.100', { username: 'target', password: strongPassword })).statusCode, 200);
      });
    });

    it('failures spread over more than the window open nothing', async () => {
      await withApp(backend, async (t, admin) => {
        await createUser(t, 'patient');
        for (let i = 0; i < detectionRules.bruteForce.failures + 2; i += 1) {
          t.clock.advance(detectionRules.bruteForce.windowMs / (detectionRules.bruteForce.failures - 2));
          await loginFrom(t, '203.0.113.77', { username: 'patient', password: `slow guess ${i}` });
          await settle(t);
        }
        assert.deepEqual(await incidents(t, admin), []);
      });
    });

    it('refresh-token reuse: one incident per session, updated on repeats', async () => {
      await withApp(backend, async (t, admin) => {
        await createUser(t, 'reuser');
        const first = await signIn(t, 'reuser');
        const refresh = (token: string) => t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: token } });
        assert.equal((await refresh(first.refresh_token)).statusCode, 200);
        t.clock.advance(60_000);
        assert.equal((await refresh(first.refresh_token)).statusCode, 401);
        assert.equal((await refresh(first.refresh_token)).statusCode, 401);
        const all = await incidents(t, admin, '?type=refresh_token_reuse');
        assert.equal(all.length, 1);
        assert.equal(all[0]!.subject, `session:${first.session_id}`);
        assert.equal(all[0]!.severity, 'high');
        const every = await incidents(t, admin);
        assert.deepEqual(every.map((i) => i.type), ['refresh_token_reuse']);
      });
    });

    it('forged and tampered tokens from one address: one incident, the address blocked from signing in', async () => {
      await withApp(backend, async (t, admin) => {
        await createUser(t, 'honest');
        const real = await signIn(t, 'honest');
        const [header, payload] = [decodeSegment(real.access_token, 0), decodeSegment(real.access_token, 1)];
        const { generateKeyPairSync } = await import('node:crypto');
        const attackerKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
        const keys = await serverKeys(t);
        const forged = [
          signJws(header, { ...payload, roles: ['admin'] }, attackerKey), // our kid, the attacker's key
          signJws({ ...header, kid: 'not-a-key-we-published' }, payload, attackerKey),
          `${real.access_token.split('.').slice(0, 2).join('.')}.${'A'.repeat(342)}`,
          signJws({ ...header, jku: 'https://evil.example/jwks' }, payload, attackerKey),
          hs256({ ...header, alg: 'HS256' }, payload, keys.publicPem), // RS/HS confusion
        ];
        for (const token of forged.slice(0, detectionRules.forgedTokens.tokens)) {
          const response = await t.app.inject({ url: '/auth/me', headers: { authorization: `Bearer ${token}` }, remoteAddress: '203.0.113.66' });
          assert.equal(response.statusCode, 401);
          await settle(t);
        }
        // Expired, revoked or garbage tokens are no forgery: they never count.
        for (let i = 0; i < 10; i += 1) {
          await t.app.inject({ url: '/auth/verify', headers: { authorization: 'Bearer not-a-jwt' }, remoteAddress: '203.0.113.67' });
        }
        const incident = await onlyIncident(t, admin);
        assert.equal(incident.type, 'forged_tokens');
        assert.equal(incident.subject, 'ip:203.0.113.66');
        assert.equal((await loginFrom(t, '203.0.113.66', { username: 'honest', password: strongPassword })).statusCode, 403);
        assert.equal((await loginFrom(t, '203.0.113.67', { username: 'honest', password: strongPassword })).statusCode, 200);

        // The same forgeries through /auth/verify come from a proxy or a backend: an incident,
        // but the caller's address is never blocked.
        for (const token of forged.slice(0, detectionRules.forgedTokens.tokens)) {
          await t.app.inject({ url: '/auth/verify', headers: { authorization: `Bearer ${token}` }, remoteAddress: '10.0.0.2' });
          await settle(t);
        }
        const viaProxy = (await incidents(t, admin)).filter((i) => i.subject === 'ip:10.0.0.2');
        assert.equal(viaProxy.length, 1);
        assert.equal((await loginFrom(t, '10.0.0.2', { username: 'honest', password: strongPassword })).statusCode, 200);
      });
    });

    it('counts an IPv6 attacker by its /64, and a flood after the block is one block record, not one per request', async () => {
      await withApp(backend, async (t, admin) => {
        for (let i = 0; i < detectionRules.passwordSpraying.accounts; i += 1) {
          t.clock.advance(1000);
          // A new address of the same /64 for every attempt.
          await loginFrom(t, `2001:db8:66:1::${(i + 1).toString(16)}`, { username: `v6-target-${i}`, password: 'Spring2026!' });
          await settle(t);
        }
        const incident = await onlyIncident(t, admin);
        assert.equal(incident.type, 'password_spraying');
        assert.equal(incident.subject, 'ip:2001:db8:66:1::/64');
        assert.equal((await loginFrom(t, '2001:db8:66:1:abcd::99', { username: 'v6-target-0', password: 'x'.repeat(12) })).statusCode, 403, 'the whole /64');
        assert.notEqual((await loginFrom(t, '2001:db8:66:2::1', { username: 'v6-target-0', password: 'y'.repeat(12) })).statusCode, 403, 'not the next /64');

        // Forged tokens keep coming from the blocked network.
        for (let i = 0; i < 40; i += 1) {
          await t.app.inject({ url: '/auth/me', headers: { authorization: `Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6Im5vcGUifQ.eyJzdWIiOiJ4In0.${'A'.repeat(40)}` }, remoteAddress: `2001:db8:66:1::${i + 100}` });
          await settle(t);
        }
        await t.tessera.auditChain.flush();
        const blocks = await t.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM audit_log WHERE type = 'ip.blocked'`);
        assert.equal(Number(blocks[0]!.n), 1);
        const rejected = await t.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM audit_log WHERE type = 'token.rejected'`);
        assert.equal(Number(rejected[0]!.n), 10, 'token.rejected is sampled per /64');
        const forged = (await incidents(t, admin, '?type=forged_tokens'))[0]!;
        assert.ok(forged.count <= 2, `incident updates are throttled (count ${forged.count})`);
      });
    });

    it('sign-in from a new address or device: one low-severity incident for the user', async () => {
      await withApp(backend, async (t, admin) => {
        await createUser(t, 'traveller');
        const browser = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0' };
        for (let i = 0; i < 3; i += 1) {
          assert.equal((await loginFrom(t, '198.51.100.20', { username: 'traveller', password: strongPassword }, browser)).statusCode, 200);
          await settle(t);
        }
        assert.deepEqual(await incidents(t, admin), [], 'the usual address and device raise nothing');
        const phone = await loginFrom(t, '100.64.0.9', { username: 'traveller', password: strongPassword, device: { name: 'Phone', fingerprint: 'phone-1' } }, {
          'user-agent': 'Tessera-iOS/1.0',
        });
        assert.equal(phone.statusCode, 200);
        const incident = await onlyIncident(t, admin);
        assert.equal(incident.type, 'new_device');
        assert.equal(incident.severity, 'low');
        assert.equal(incident.evidence.new_ip, true);
        assert.equal(incident.evidence.new_device, true);
        assert.equal(incident.evidence.ip, '100.64.0.9');
        assert.equal((await loginFrom(t, '100.64.0.9', { username: 'traveller', password: strongPassword })).statusCode, 200, 'never blocked');
      });
    });

    it('admins acknowledge and resolve incidents; a resolved one stays resolved and a new trigger opens a new one', async () => {
      await withApp(backend, async (t, admin) => {
        await createUser(t, 'reused-twice');
        const first = await signIn(t, 'reused-twice');
        const refresh = (token: string) => t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: token } });
        await refresh(first.refresh_token);
        t.clock.advance(60_000);
        await refresh(first.refresh_token);
        const [incident] = await incidents(t, admin);
        const patch = (id: string, body: unknown, token = admin) =>
          t.app.inject({ method: 'PATCH', url: `/admin/incidents/${id}`, payload: body as object, headers: { authorization: `Bearer ${token}` } });

        const acknowledged = await patch(incident!.id, { status: 'acknowledged' });
        assert.equal(acknowledged.statusCode, 200, acknowledged.body);
        assert.equal((acknowledged.json() as IncidentView).status, 'acknowledged');
        const resolved = await patch(incident!.id, { status: 'resolved' });
        assert.equal((resolved.json() as { status: string; resolved_by: string }).status, 'resolved');
        assert.equal((await patch(incident!.id, { status: 'acknowledged' })).statusCode, 409);
        assert.deepEqual(await incidents(t, admin, '?status=open'), []);

        // Bad input: 4xx in the error shape, never 500.
        for (const [id, body, status] of [
          ['00000000-0000-4000-8000-000000000000', { status: 'resolved' }, 404],
          ['not-a-uuid', { status: 'resolved' }, 404],
          [incident!.id, { status: 'open' }, 400],
          [incident!.id, { status: 'resolved', extra: 1 }, 400],
          [incident!.id, [], 400],
        ] as const) {
          const response = await patch(id, body);
          assert.equal(response.statusCode, status, `${id} ${JSON.stringify(body)}: ${response.body}`);
          assert.equal(typeof (response.json() as { error: string }).error, 'string');
        }
        const cursor = (text: string) => `?cursor=${Buffer.from(text).toString('base64url')}`;
        for (const query of [
          '?status=bogus',
          '?type=nope',
          '?limit=0',
          '?limit=abc',
          '?cursor=!!',
          '?cursor=AAAA',
          '?other=1',
          // Matches the cursor's shape but is not a UUID, or is a time past year 9999.
          cursor(`1700000000000.${'-'.repeat(36)}`),
          cursor(`1700000000000.${'0'.repeat(36)}`),
          cursor(`999999999999999.${incident!.id}`),
          cursor(`253402300800000.${incident!.id}`),
        ]) {
          const response = await t.app.inject({ url: `/admin/incidents${query}`, headers: { authorization: `Bearer ${admin}` } });
          assert.equal(response.statusCode, 400, `${query}: ${response.body}`);
        }

        // A non-admin gets 403 forbidden; no token 401.
        await createUser(t, 'plain-user');
        const plain = await signIn(t, 'plain-user');
        const forbidden = await t.app.inject({ url: '/admin/incidents', headers: { authorization: `Bearer ${plain.access_token}` } });
        assert.equal(forbidden.statusCode, 403);
        assert.equal((forbidden.json() as { error: string }).error, 'forbidden');
        assert.equal((await patch(incident!.id, { status: 'resolved' }, plain.access_token)).statusCode, 403);
        assert.equal((await t.app.inject({ url: '/admin/incidents' })).statusCode, 401);

        // The same trigger after resolution opens a new incident.
        await t.tessera.incidents.raise({ type: incident!.type as 'refresh_token_reuse', severity: 'high', subject: incident!.subject, evidence: {}, at: new Date(t.clock.now()) });
        const open = await incidents(t, admin, '?status=open');
        assert.equal(open.length, 1);
        assert.notEqual(open[0]!.id, incident!.id);
      });
    });

    it('pages incidents newest first with a cursor', async () => {
      await withApp(backend, async (t, admin) => {
        for (let i = 0; i < 5; i += 1) {
          await t.tessera.incidents.raise({ type: 'forged_tokens', severity: 'high', subject: `ip:192.0.2.${i}`, evidence: {}, at: new Date(t.clock.now() + i * 1000) });
        }
        const seen: string[] = [];
        let cursor: string | null = '';
        while (cursor !== null) {
          const response = await t.app.inject({ url: `/admin/incidents?limit=2${cursor ? `&cursor=${cursor}` : ''}`, headers: { authorization: `Bearer ${admin}` } });
          const body = response.json() as { incidents: IncidentView[]; next_cursor: string | null };
          seen.push(...body.incidents.map((i) => i.subject));
          cursor = body.next_cursor;
        }
        assert.deepEqual(seen, ['ip:192.0.2.4', 'ip:192.0.2.3', 'ip:192.0.2.2', 'ip:192.0.2.1', 'ip:192.0.2.0']);
      });
    });
  });
}
