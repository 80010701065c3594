import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { ipRulePollIntervalMs } from '../../protection/ip-rules.js';
import { createUser, signIn, startTestApp, startTwoInstances, strongPassword, type TestApp } from '../../test-support/app.js';
import { testBackends } from '../../test-support/databases.js';
import { assertApiError, del, get, postJson } from '../../test-support/tokens.js';

interface RuleBody {
  id: string;
  source: 'admin' | 'detection';
  action: 'allow' | 'deny';
  cidr: string;
  note: string | null;
  expires_at: string | null;
  created_at: string | null;
  created_by: string | null;
}

async function adminOf(t: TestApp): Promise<{ token: string; id: string }> {
  const id = await createUser(t, 'rules-admin', { roles: ['admin'] });
  return { token: (await signIn(t, 'rules-admin')).access_token, id };
}

const addRule = (t: TestApp, token: string, body: unknown, remoteAddress?: string) =>
  postJson(t, '/admin/ip-rules', body, { token, ...(remoteAddress ? { remoteAddress } : {}) });

const listRules = async (t: TestApp, token: string): Promise<RuleBody[]> => {
  const response = await get(t, '/admin/ip-rules', { token });
  assert.equal(response.statusCode, 200, response.body);
  return (response.json() as { rules: RuleBody[] }).rules;
};

const loginFrom = (t: TestApp, remoteAddress: string, username = 'rules-admin') =>
  t.app.inject({ method: 'POST', url: '/auth/login', payload: { username, password: strongPassword }, remoteAddress });

async function auditOf(t: TestApp, type: string): Promise<Array<{ details: Record<string, unknown>; ip: string | null }>> {
  await t.tessera.auditChain.flush();
  return t.db.query(`SELECT details, ip FROM audit_log WHERE type = $1 ORDER BY seq`, [type]);
}

const storedRules = async (t: TestApp) => (await t.db.query<{ n: string }>('SELECT count(*)::text AS n FROM ip_rules'))[0]!.n;

for (const backend of testBackends()) {
  describe(`/admin/ip-rules (${backend.name})`, () => {
    it('answers 401 without a token and 403 to a non-admin, changing nothing', async () => {
      const t = await startTestApp(backend);
      try {
        const admin = await adminOf(t);
        await createUser(t, 'plain');
        const plain = (await signIn(t, 'plain')).access_token;
        const created = (await addRule(t, admin.token, { action: 'deny', cidr: '203.0.113.0/24' })).json() as RuleBody;
        const body = { action: 'deny', cidr: '198.51.100.0/24' };
        for (const token of [undefined, plain]) {
          const status = token ? 403 : 401;
          const code = token ? 'forbidden' : 'invalid_token';
          assertApiError(await get(t, '/admin/ip-rules', token ? { token } : {}), status, code);
          assertApiError(await postJson(t, '/admin/ip-rules', body, token ? { token } : {}), status, code);
          assertApiError(await del(t, `/admin/ip-rules/${created.id}`, token ? { token } : {}), status, code);
        }
        assert.equal(await storedRules(t), '1', 'nothing added or deleted');
        assert.equal((await auditOf(t, 'ip_rule.created')).length, 1);
        assert.equal((await auditOf(t, 'ip_rule.deleted')).length, 0);
      } finally {
        await t.close();
      }
    });

    it('refuses bad input with 400 in the error shape and stores nothing', async () => {
      const t = await startTestApp(backend);
      try {
        const { token } = await adminOf(t);
        const future = new Date(t.clock.now() + 3_600_000).toISOString();
        const cases: Array<[string, unknown]> = [
          ['prefix beyond IPv4', { action: 'deny', cidr: '10.0.0.0/33' }],
          ['prefix beyond IPv6', { action: 'deny', cidr: '2001:db8::/129' }],
          ['IPv4-mapped range', { action: 'deny', cidr: '::ffff:10.0.0.0/104' }],
          ['IPv4-mapped address', { action: 'deny', cidr: '::ffff:10.0.0.1' }],
          ['IPv4-mapped, hex', { action: 'deny', cidr: '::ffff:a00:1/128' }],
          ['mask does not match, IPv4', { action: 'deny', cidr: '10.0.0.1/8' }],
          ['mask does not match, IPv6', { action: 'deny', cidr: '2001:db8::1/32' }],
          ['not an address', { action: 'deny', cidr: 'example.com' }],
          ['empty', { action: 'deny', cidr: '' }],
          ['empty prefix', { action: 'deny', cidr: '10.0.0.0/' }],
          ['negative prefix', { action: 'deny', cidr: '10.0.0.0/-1' }],
          ['leading zeros', { action: 'deny', cidr: '010.0.0.0/8' }],
          ['blank around', { action: 'deny', cidr: ' 10.0.0.0/8' }],
          ['zone', { action: 'deny', cidr: 'fe80::1%eth0' }],
          ['injected', { action: 'deny', cidr: "10.0.0.0/8'; DROP TABLE ip_rules; --" }],
          ['10 KiB cidr', { action: 'deny', cidr: '1'.repeat(10 * 1024) }],
          ['cidr a number', { action: 'deny', cidr: 167772160 }],
          ['no cidr', { action: 'deny' }],
          ['unknown action', { action: 'block', cidr: '10.0.0.0/8' }],
          ['unknown field', { action: 'deny', cidr: '10.0.0.0/8', by: 'someone' }],
          ['note with a control character', { action: 'deny', cidr: '10.0.0.0/8', note: 'bell\u0007' }],
          ['note with a newline', { action: 'deny', cidr: '10.0.0.0/8', note: 'two\nlines' }],
          ['note with a bidi override', { action: 'deny', cidr: '10.0.0.0/8', note: 'abc\u202edef' }],
          ['10 KiB note', { action: 'deny', cidr: '10.0.0.0/8', note: 'n'.repeat(10 * 1024) }],
          ['note a number', { action: 'deny', cidr: '10.0.0.0/8', note: 7 }],
          ['expiry in the past', { action: 'deny', cidr: '10.0.0.0/8', expires_at: new Date(t.clock.now() - 1000).toISOString() }],
          ['expiry now', { action: 'deny', cidr: '10.0.0.0/8', expires_at: new Date(t.clock.now()).toISOString() }],
          ['expiry not a date', { action: 'deny', cidr: '10.0.0.0/8', expires_at: 'tomorrow' }],
          ['expiry without a time', { action: 'deny', cidr: '10.0.0.0/8', expires_at: future.slice(0, 10) }],
          ['expiry without an offset', { action: 'deny', cidr: '10.0.0.0/8', expires_at: future.slice(0, 19) }],
          ['expiry a number', { action: 'deny', cidr: '10.0.0.0/8', expires_at: t.clock.now() + 1000 }],
          ['expiry out of range', { action: 'deny', cidr: '10.0.0.0/8', expires_at: '2030-13-45T99:99:99Z' }],
          ['body an array', [{ action: 'deny', cidr: '10.0.0.0/8' }]],
        ];
        for (const [name, body] of cases) {
          const response = await addRule(t, token, body);
          assert.equal(response.statusCode, 400, `${name}: ${response.body}`);
          const error = response.json() as { error: string; error_description: string };
          assert.equal(typeof error.error_description, 'string', name);
          assert.ok(['invalid_request'].includes(error.error), `${name}: ${error.error}`);
        }
        assert.equal(await storedRules(t), '0');
        assert.equal((await auditOf(t, 'ip_rule.created')).length, 0);
        for (const id of ['not-a-uuid', '00000000-0000-4000-8000-000000000000', 'detection-', 'detection-Zm9v', `detection-${Buffer.from('10.0.0.0/8').toString('base64url')}`, `detection-${Buffer.from('2001:db8::1').toString('base64url')}`]) {
          assertApiError(await del(t, `/admin/ip-rules/${encodeURIComponent(id)}`, { token }), 404, 'not_found');
        }
      } finally {
        await t.close();
      }
    });

    it('refuses every route from a denied network with 403 ip_blocked, health checks excepted, until the rule is deleted', async () => {
      const t = await startTestApp(backend);
      try {
        const admin = await adminOf(t);
        const session = await signIn(t, 'rules-admin');
        const created = await addRule(t, admin.token, { action: 'deny', cidr: '203.0.113.0/24', note: 'scanner — ticket 42' });
        assert.equal(created.statusCode, 201, created.body);
        const rule = created.json() as RuleBody;
        assert.deepEqual({ ...rule, id: '', created_at: '' }, { id: '', source: 'admin', action: 'deny', cidr: '203.0.113.0/24', note: 'scanner — ticket 42', expires_at: null, created_at: '', created_by: admin.id });
        assert.deepEqual((await listRules(t, admin.token)).map((entry) => entry.id), [rule.id]);

        const from = '203.0.113.77';
        assertApiError(await loginFrom(t, from), 403, 'ip_blocked');
        assertApiError(await get(t, '/auth/verify', { token: session.access_token, remoteAddress: from }), 403, 'ip_blocked');
        assertApiError(await get(t, '/auth/me', { token: session.access_token, remoteAddress: from }), 403, 'ip_blocked');
        assertApiError(await get(t, '/no/such/route', { remoteAddress: from }), 403, 'ip_blocked');
        assertApiError(await get(t, '/admin/ip-rules', { token: admin.token, remoteAddress: from }), 403, 'ip_blocked');
        assert.equal((await get(t, '/healthz', { remoteAddress: from })).statusCode, 200);
        assert.equal((await get(t, '/readyz', { remoteAddress: from })).statusCode, 200);
        assert.equal((await loginFrom(t, '203.0.114.1')).statusCode, 200, 'the next network is not denied');

        assertApiError(await addRule(t, admin.token, { action: 'deny', cidr: '203.0.113.0/24' }), 409, 'conflict');
        const [audit] = await auditOf(t, 'ip_rule.created');
        assert.deepEqual(audit!.details, { ruleId: rule.id, action: 'deny', cidr: '203.0.113.0/24', expiresAt: null, by: admin.id });

        assert.equal((await del(t, `/admin/ip-rules/${rule.id}`, { token: admin.token })).statusCode, 204);
        assert.equal((await loginFrom(t, from)).statusCode, 200);
        assert.deepEqual(await listRules(t, admin.token), []);
        assertApiError(await del(t, `/admin/ip-rules/${rule.id}`, { token: admin.token }), 404, 'not_found');
        const deleted = await auditOf(t, 'ip_rule.deleted');
        assert.equal(deleted.length, 1);
        assert.deepEqual(deleted[0]!.details, { ruleId: rule.id, action: 'deny', cidr: '203.0.113.0/24', by: admin.id });
      } finally {
        await t.close();
      }
    });

    it('lets exactly one of two concurrent identical rules in', async () => {
      const t = await startTestApp(backend);
      try {
        const { token } = await adminOf(t);
        const body = { action: 'deny', cidr: '192.0.2.0/24' };
        const statuses = (await Promise.all([addRule(t, token, body), addRule(t, token, body)])).map((response) => response.statusCode).sort();
        assert.deepEqual(statuses, [201, 409]);
        assert.equal(await storedRules(t), '1');
        assert.equal((await auditOf(t, 'ip_rule.created')).length, 1);
      } finally {
        await t.close();
      }
    });

    it('stops applying a rule at its expiry (fake clock) and canonicalises IPv6 ranges', async () => {
      const t = await startTestApp(backend);
      try {
        const { token } = await adminOf(t);
        const expiresAt = new Date(t.clock.now() + 60_000).toISOString();
        const created = await addRule(t, token, { action: 'deny', cidr: '2001:DB8:0:1:0::/64', expires_at: expiresAt });
        assert.equal(created.statusCode, 201, created.body);
        const rule = created.json() as RuleBody;
        assert.equal(rule.cidr, '2001:db8:0:1::/64');
        assert.equal(rule.expires_at, expiresAt);
        assertApiError(await loginFrom(t, '2001:db8:0:1:abcd::9'), 403, 'ip_blocked');
        assert.equal((await loginFrom(t, '2001:db8:0:2::9')).statusCode, 200, 'the next /64');
        assert.equal((await loginFrom(t, '192.0.2.1')).statusCode, 200, 'an IPv4 client');

        t.clock.advance(59_000);
        assertApiError(await loginFrom(t, '2001:db8:0:1::9'), 403, 'ip_blocked');
        t.clock.advance(1_000);
        assert.equal((await loginFrom(t, '2001:db8:0:1::9')).statusCode, 200, 'expired at its time, without a reload');
        assert.deepEqual(await listRules(t, token), []);
        // The expired rule is out of the way: the same range can be ruled again.
        const again = await addRule(t, token, { action: 'deny', cidr: '2001:db8:0:1::/64' });
        assert.equal(again.statusCode, 201, again.body);
        assertApiError(await loginFrom(t, '2001:db8:0:1::9'), 403, 'ip_blocked');
      } finally {
        await t.close();
      }
    });

    it('restricts the admin API, and only it, to a non-empty allow list, and never shuts the caller out', async () => {
      const t = await startTestApp(backend);
      try {
        const admin = await adminOf(t);
        const outside = '198.51.100.7';
        assertApiError(await addRule(t, admin.token, { action: 'allow', cidr: '10.0.0.0/8' }), 409, 'conflict');
        assertApiError(await addRule(t, admin.token, { action: 'deny', cidr: '127.0.0.0/8' }), 409, 'conflict');
        assertApiError(await addRule(t, admin.token, { action: 'deny', cidr: '::/0' }), 409, 'conflict');
        assert.equal(await storedRules(t), '0');

        const created = await addRule(t, admin.token, { action: 'allow', cidr: '127.0.0.1' });
        assert.equal(created.statusCode, 201, created.body);
        const rule = created.json() as RuleBody;
        assert.equal((await get(t, '/admin/ip-rules', { token: admin.token })).statusCode, 200, 'from inside the list');
        assertApiError(await get(t, '/admin/ip-rules', { token: admin.token, remoteAddress: outside }), 403, 'forbidden');
        assertApiError(await get(t, '/admin/stats', { remoteAddress: outside }), 403, 'forbidden');
        assertApiError(await del(t, `/admin/ip-rules/${rule.id}`, { token: admin.token, remoteAddress: outside }), 403, 'forbidden');
        assert.equal(await storedRules(t), '1', 'not deleted from outside');
        const signedIn = await loginFrom(t, outside);
        assert.equal(signedIn.statusCode, 200, 'sign-in from outside still works');
        const token = (signedIn.json() as { access_token: string }).access_token;
        assert.equal((await get(t, '/auth/verify', { token, remoteAddress: outside })).statusCode, 200);
        assert.equal((await get(t, '/healthz', { remoteAddress: outside })).statusCode, 200);

        const second = await addRule(t, admin.token, { action: 'allow', cidr: '192.0.2.0/24' });
        assert.equal(second.statusCode, 201);
        assertApiError(await del(t, `/admin/ip-rules/${rule.id}`, { token: admin.token }), 409, 'conflict');
        assert.equal((await del(t, `/admin/ip-rules/${(second.json() as RuleBody).id}`, { token: admin.token })).statusCode, 204);
        assert.equal((await del(t, `/admin/ip-rules/${rule.id}`, { token: admin.token })).statusCode, 204, 'the last allow rule');
        assert.equal((await get(t, '/admin/ip-rules', { token: admin.token, remoteAddress: outside })).statusCode, 200, 'open again');
      } finally {
        await t.close();
      }
    });

    it("lists detection's blocks with their expiry and lets an admin lift one", async () => {
      const t = await startTestApp(backend, { env: { TESSERA_IP_BLOCK_DURATION: '15m' } });
      try {
        const admin = await adminOf(t);
        const network = await t.tessera.ipBlocks.block('192.0.2.66', 'brute_force');
        assert.equal(network, '192.0.2.66');
        await t.tessera.incidents.raise({ type: 'brute_force', severity: 'high', subject: 'ip:192.0.2.66', evidence: { blocked_ip: network }, at: new Date(t.clock.now()) });
        assertApiError(await loginFrom(t, '192.0.2.66'), 403, 'ip_blocked');

        const [entry, ...rest] = await listRules(t, admin.token);
        assert.deepEqual(rest, []);
        assert.deepEqual(entry, {
          id: entry!.id,
          source: 'detection',
          action: 'deny',
          cidr: '192.0.2.66',
          note: null,
          expires_at: new Date(t.clock.now() + 15 * 60_000).toISOString(),
          created_at: null,
          created_by: null,
        });
        assert.equal((await del(t, `/admin/ip-rules/${entry!.id}`, { token: admin.token })).statusCode, 204);
        assert.equal((await loginFrom(t, '192.0.2.66')).statusCode, 200, 'lifted');
        assert.deepEqual(await listRules(t, admin.token), []);
        assertApiError(await del(t, `/admin/ip-rules/${entry!.id}`, { token: admin.token }), 404, 'not_found');
        const lifted = await auditOf(t, 'ip.unblocked');
        assert.deepEqual(lifted.map((record) => record.details), [{ blockedIp: '192.0.2.66', by: admin.id }]);
      } finally {
        await t.close();
      }
    });

    it('refuses a denied client on GET /auth/verify over real HTTP (the fast path falls through), resolving X-Forwarded-For as configured', async () => {
      const t = await startTestApp(backend, { env: { TESSERA_TRUST_PROXY: '1' } });
      try {
        const { token } = await adminOf(t);
        const session = await signIn(t, 'rules-admin');
        // A token verified before: the fast path would answer it at once.
        assert.equal((await get(t, '/auth/verify', { token: session.access_token })).statusCode, 200);
        assert.equal((await addRule(t, token, { action: 'deny', cidr: '203.0.113.0/24' })).statusCode, 201);
        await t.app.listen({ port: 0, host: '127.0.0.1' });
        const port = (t.app.server.address() as AddressInfo).port;
        const send = (path: string, headers: Record<string, string>) =>
          new Promise<{ status: number; body: string }>((resolve, reject) => {
            const request = httpRequest({ host: '127.0.0.1', port, path, headers }, (response) => {
              let body = '';
              response.setEncoding('utf8');
              response.on('data', (chunk: string) => (body += chunk));
              response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
            });
            request.on('error', reject);
            request.end();
          });
        const authorization = `Bearer ${session.access_token}`;
        const denied = await send('/auth/verify', { authorization, 'x-forwarded-for': '203.0.113.5' });
        assert.equal(denied.status, 403, denied.body);
        assert.equal((JSON.parse(denied.body) as { error: string }).error, 'ip_blocked');
        assert.equal((await send('/auth/verify', { authorization, 'x-forwarded-for': '198.51.100.5' })).status, 200);
        assert.equal((await send('/auth/verify', { authorization })).status, 200, 'the proxy itself');
        assert.equal((await send('/healthz', { 'x-forwarded-for': '203.0.113.5' })).status, 200);
        // The socket's own address, denied by an admin elsewhere.
        assert.equal((await addRule(t, token, { action: 'deny', cidr: '127.0.0.0/8' }, '198.51.100.1')).statusCode, 201);
        assert.equal((await send('/auth/verify', { authorization })).status, 403);
        assert.equal((await send('/readyz', {})).status, 200);
      } finally {
        await t.close();
      }
    });

    it('reaches a second instance at its next poll (every second)', async () => {
      assert.ok(ipRulePollIntervalMs <= 1000);
      const { a, b, close } = await startTwoInstances(backend);
      try {
        const { token } = await adminOf(a);
        const created = await addRule(a, token, { action: 'deny', cidr: '203.0.113.0/24' });
        assert.equal(created.statusCode, 201);
        assertApiError(await loginFrom(a, '203.0.113.1'), 403, 'ip_blocked');
        await b.tessera.ipRules.poll();
        assertApiError(await loginFrom(b, '203.0.113.1'), 403, 'ip_blocked');

        assert.equal((await del(a, `/admin/ip-rules/${(created.json() as RuleBody).id}`, { token })).statusCode, 204);
        await b.tessera.ipRules.poll();
        assert.equal((await loginFrom(b, '203.0.113.1')).statusCode, 200);
      } finally {
        await close();
      }
    });
  });
}
