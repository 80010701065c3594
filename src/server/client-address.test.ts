import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { createUser, startTestApp, strongPassword, type SignedIn, type TestApp } from '../test-support/app.js';
import { testBackends, type TestBackend } from '../test-support/databases.js';

/*
 * Issue 10, finding 1 (and the client-address part of 13): the client address is resolved from
 * the socket and X-Forwarded-For under every accepted TESSERA_TRUST_PROXY form, and that address
 * is what the session, the audit record and the per-IP limits see. Finding 8 (in part): the
 * overall and sign-up limits count an IPv6 client by its /64.
 */

/** Where a request comes from: the socket's address and the X-Forwarded-For it carries. */
interface Origin {
  socket: string;
  forwardedFor?: string;
}

function send(t: TestApp, origin: Origin, request: { method?: 'GET' | 'POST'; url: string; body?: unknown; token?: string }): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = {};
  if (origin.forwardedFor !== undefined) headers['x-forwarded-for'] = origin.forwardedFor;
  if (request.token !== undefined) headers.authorization = `Bearer ${request.token}`;
  return t.app.inject({
    method: request.method ?? 'GET',
    url: request.url,
    remoteAddress: origin.socket,
    headers,
    ...(request.body === undefined ? {} : { payload: request.body as Record<string, unknown> }),
  });
}

const signInFrom = (t: TestApp, origin: Origin, username: string, password = strongPassword) =>
  send(t, origin, { method: 'POST', url: '/auth/login', body: { username, password } });

async function withApp(backend: TestBackend, env: Record<string, string>, run: (t: TestApp) => Promise<void>): Promise<void> {
  const t = await startTestApp(backend, { env });
  try {
    await run(t);
  } finally {
    await t.close();
  }
}

/** The newest audit record of `type` for `userId`, as stored. */
async function latestRecord(t: TestApp, type: string, userId?: string) {
  await t.tessera.auditChain.flush();
  const [record] = await t.stores.audit.list({ type, ...(userId ? { userId } : {}) }, { limit: 1 });
  assert.ok(record, `a ${type} record`);
  return record;
}

/** [what it shows, where the request comes from, the client address, another client behind the same socket] */
type Case = [string, Origin, string, Origin | undefined];

/** Every accepted form, with requests whose resolved address differs from the naive answer. */
const forms: [string, string | undefined, Case[]][] = [
  [
    'unset',
    undefined,
    [
      ['the socket; the header is ignored', { socket: '198.51.100.10', forwardedFor: '203.0.113.10' }, '198.51.100.10', undefined],
      ['an IPv4-mapped socket is its IPv4 address', { socket: '::ffff:198.51.100.11' }, '198.51.100.11', undefined],
      ['an IPv6 socket, canonical spelling', { socket: '2001:DB8:a:0::0:1', forwardedFor: '203.0.113.12' }, '2001:db8:a::1', undefined],
    ],
  ],
  [
    '1',
    '1',
    [
      ['the entry next to the proxy', { socket: '10.0.0.2', forwardedFor: '203.0.113.20' }, '203.0.113.20', { socket: '10.0.0.2', forwardedFor: '203.0.113.120' }],
      ['a spoofed leftmost entry is not believed', { socket: '10.0.0.2', forwardedFor: '198.51.100.21, 203.0.113.21' }, '203.0.113.21', { socket: '10.0.0.2', forwardedFor: '198.51.100.21, 203.0.113.121' }],
      ['an IPv6 client with a port', { socket: '10.0.0.2', forwardedFor: '[2001:DB8:b::1]:4711' }, '2001:db8:b::1', { socket: '10.0.0.2', forwardedFor: '2001:db8:c::1' }],
      ['markup is never an address: the proxy that reported it', { socket: '10.0.0.3', forwardedFor: '<script>,"' }, '10.0.0.3', { socket: '10.0.0.3', forwardedFor: '203.0.113.123' }],
      ['no header: the peer', { socket: '10.0.0.4' }, '10.0.0.4', { socket: '10.0.0.4', forwardedFor: '203.0.113.124' }],
    ],
  ],
  [
    '2',
    '2',
    [
      ['two hops left of the socket', { socket: '10.0.0.2', forwardedFor: '198.51.100.30, 203.0.113.30, 10.0.0.1' }, '203.0.113.30', { socket: '10.0.0.2', forwardedFor: '203.0.113.130, 10.0.0.1' }],
      ['a shorter chain: its leftmost entry', { socket: '10.0.0.2', forwardedFor: '203.0.113.31' }, '203.0.113.31', { socket: '10.0.0.2', forwardedFor: '203.0.113.131, 10.0.0.1' }],
    ],
  ],
  [
    '10.0.0.0/8, 2001:db8:ffff::/48',
    '10.0.0.0/8, 2001:db8:ffff::/48',
    [
      ['an untrusted peer: its header is ignored', { socket: '192.0.2.40', forwardedFor: '203.0.113.40' }, '192.0.2.40', undefined],
      ['trusted hops are skipped', { socket: '10.1.2.3', forwardedFor: '198.51.100.41, 203.0.113.41, 10.9.9.9' }, '203.0.113.41', { socket: '10.1.2.3', forwardedFor: '203.0.113.141' }],
      ['an IPv6 proxy and an IPv4-mapped trusted hop', { socket: '2001:db8:ffff::7', forwardedFor: '203.0.113.42, ::ffff:10.4.4.4' }, '203.0.113.42', { socket: '2001:db8:ffff::7', forwardedFor: '203.0.113.142' }],
      ['a malformed entry: the proxy that reported it', { socket: '10.1.2.5', forwardedFor: 'junk, 10.9.9.8' }, '10.9.9.8', { socket: '10.1.2.5', forwardedFor: '203.0.113.143' }],
    ],
  ],
];

/** TESSERA_RATE_LIMIT_IP in the per-form apps: small enough to reach in a few requests. */
const ipLimit = 4;

for (const backend of testBackends()) {
  describe(`client address (${backend.name})`, () => {
    for (const [name, setting, cases] of forms) {
      it(`TESSERA_TRUST_PROXY=${name}: the session, the audit record and the per-IP limit see the resolved address`, async () => {
        const env: Record<string, string> = { TESSERA_RATE_LIMIT_IP: `${ipLimit}/1h` };
        if (setting !== undefined) env.TESSERA_TRUST_PROXY = setting;
        await withApp(backend, env, async (t) => {
          for (const [index, [label, origin, client, neighbour]] of cases.entries()) {
            const username = `ca-${index}`;
            const userId = await createUser(t, username);
            const login = await signInFrom(t, origin, username);
            assert.equal(login.statusCode, 200, `${label}: ${login.body}`);
            const signedIn = login.json() as SignedIn;

            const listed = await send(t, origin, { url: '/auth/sessions', token: signedIn.access_token });
            assert.equal(listed.statusCode, 200, `${label}: ${listed.body}`);
            const session = (listed.json() as { sessions: { id: string; ip: string | null }[] }).sessions.find((s) => s.id === signedIn.session_id);
            assert.equal(session?.ip, client, `${label}: the session's ip`);
            assert.equal((await latestRecord(t, 'login.succeeded', userId)).ip, client, `${label}: the audit record's ip`);

            // Two requests counted so far; the limit is reached at the resolved address, not the socket's.
            for (let i = 2; i < ipLimit; i += 1) assert.equal((await send(t, origin, { url: '/auth/me' })).statusCode, 401, `${label}: request ${i + 1}`);
            const limited = await send(t, origin, { url: '/auth/me' });
            assert.equal(limited.statusCode, 429, `${label}: request ${ipLimit + 1} is over the limit`);
            assert.equal((await latestRecord(t, 'rate_limited')).ip, client, `${label}: the rate_limited record's ip`);
            if (neighbour) {
              assert.equal((await send(t, neighbour, { url: '/auth/me' })).statusCode, 401, `${label}: another client behind the same socket is not limited`);
            }
          }
        });
      });
    }

    /** [what the attacker meets, the limits, the statuses the attacker gets] */
    const attacks: [string, Record<string, string>, number[]][] = [
      ['an IP block (the finding)', {}, [401, 403]],
      ['an IP block and both per-IP limits', { TESSERA_RATE_LIMIT_LOGIN_IP: '10/1m', TESSERA_RATE_LIMIT_IP: '15/1h' }, [401, 403, 429]],
    ];
    for (const [name, limits, statuses] of attacks) {
      it(`TESSERA_TRUST_PROXY=1: failed sign-ins from one client behind the proxy earn it ${name}, never the other clients`, async () => {
        await withApp(backend, { TESSERA_TRUST_PROXY: '1', TESSERA_IP_BLOCK_DURATION: '15m', ...limits }, async (t) => {
          const proxy = '10.0.0.2';
          const attacker: Origin = { socket: proxy, forwardedFor: '198.51.100.1, 203.0.113.66' };
          for (let i = 0; i < 10; i += 1) await createUser(t, `victim-${i}`);
          const seen = new Set<number>();
          for (let i = 0; i < 20; i += 1) {
            t.clock.advance(1000);
            seen.add((await signInFrom(t, attacker, `victim-${i % 10}`, 'Winter2026!')).statusCode);
            await t.tessera.detection.settled();
          }
          assert.deepEqual([...seen].sort(), statuses, 'what the attacker got');

          for (const [i, client] of ['198.51.100.77', '2001:db8:77::1', '::ffff:192.0.2.77'].entries()) {
            const response = await signInFrom(t, { socket: proxy, forwardedFor: client }, `victim-${i}`);
            assert.equal(response.statusCode, 200, `${client} behind the same proxy: ${response.body}`);
          }
          // Nor was the proxy's own address blocked: the attacker's was.
          assert.equal((await signInFrom(t, { socket: proxy }, 'victim-5')).statusCode, 200);
          assert.equal((await latestRecord(t, 'ip.blocked')).details.blockedIp, '203.0.113.66');
        });
      });
    }

    it('the overall per-IP limit counts an IPv6 client by its /64 and an IPv4-mapped address as its IPv4 address', async () => {
      await withApp(backend, { TESSERA_RATE_LIMIT_IP: '3/1h' }, async (t) => {
        const groups: [string, string[], string][] = [
          ['one /64', ['2001:db8:1:2::1', '2001:db8:1:2:ffff::9', '2001:db8:1:2:a:b:c:d'], '2001:db8:1:2::99'],
          ['one IPv4 address in both spellings', ['198.51.100.5', '::ffff:198.51.100.5', '198.51.100.5'], '::ffff:198.51.100.5'],
        ];
        for (const [label, within, next] of groups) {
          for (const socket of within) assert.equal((await send(t, { socket }, { url: '/auth/me' })).statusCode, 401, `${label}: ${socket}`);
          assert.equal((await send(t, { socket: next }, { url: '/auth/me' })).statusCode, 429, `${label}: ${next} shares the limit`);
        }
        for (const socket of ['2001:db8:1:3::1', '2001:db8:1:1::1', '198.51.100.6']) {
          assert.equal((await send(t, { socket }, { url: '/auth/me' })).statusCode, 401, `${socket} is another network`);
        }
      });
    });

    it('the sign-up limit counts an IPv6 client by its /64', async () => {
      await withApp(backend, { TESSERA_SIGNUP: 'open', TESSERA_RATE_LIMIT_SIGNUP: '2/1h' }, async (t) => {
        const register = (socket: string, username: string) =>
          send(t, { socket }, { method: 'POST', url: '/auth/register', body: { username, password: strongPassword } });
        assert.equal((await register('2001:db8:5:6::1', 'su-one')).statusCode, 201);
        assert.equal((await register('2001:db8:5:6::2', 'su-two')).statusCode, 201);
        const rotated = await register('2001:db8:5:6:ffff:1:2:3', 'su-three');
        assert.equal(rotated.statusCode, 429, rotated.body);
        assert.equal(rotated.json().error, 'rate_limited');
        assert.equal((await register('2001:db8:5:7::1', 'su-four')).statusCode, 201, 'another /64');
      });
    });
  });
}

describe('the client address has one source', () => {
  it('no server file reads Fastify\'s request.ip (it ignores TESSERA_TRUST_PROXY): request.clientIp only', () => {
    const root = new URL('.', import.meta.url).pathname;
    const files = (readdirSync(root, { recursive: true }) as string[]).filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'));
    assert.ok(files.length > 10);
    const offenders = files.filter((file) => /\b(request|req)\.(ip|ips)\b/.test(readFileSync(join(root, file), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')));
    assert.deepEqual(offenders, []);
  });
});
