import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { AuditRecord, ChainedAuditRecord } from '../../audit/record.js';
import { createUser, signIn, startTestApp, type TestApp } from '../../test-support/app.js';
import { testBackends } from '../../test-support/databases.js';
import { assertApiError, get, type Json } from '../../test-support/tokens.js';

/* GET /admin/audit (SPEC §3 Administration, §5): the admin gate, filters, keyset pages, bad input. */

const hour = 3_600_000;
const recordFields = ['at', 'details', 'hash', 'id', 'ip', 'outcome', 'prev_hash', 'request_id', 'seq', 'session_id', 'severity', 'type', 'user_agent', 'user_id'];

interface Page {
  records: Array<Json & { id: string; seq: number }>;
  next_cursor: string | null;
}

const b64 = (text: string) => Buffer.from(text).toString('base64url');

for (const backend of testBackends()) {
  describe(`GET /admin/audit (${backend.name})`, () => {
    let t: TestApp;
    let admin: string;
    let member: string;
    /** Six records appended after everything else, an hour apart from `start`. */
    let start: number;
    let r: ChainedAuditRecord[];
    const u1 = randomUUID();
    const u2 = randomUUID();

    before(async () => {
      t = await startTestApp(backend);
      await createUser(t, 'root', { roles: ['admin'] });
      await createUser(t, 'member');
      admin = (await signIn(t, 'root')).access_token;
      member = (await signIn(t, 'member')).access_token;
      start = t.clock.now() + 60_000;
      const base = (i: number, type: string, outcome: AuditRecord['outcome'], userId: string | null, ip: string): AuditRecord => ({
        id: randomUUID(),
        at: new Date(start + i * hour),
        type,
        outcome,
        userId,
        sessionId: null,
        ip,
        userAgent: 'admin-audit-test',
        requestId: `fixture-${i}`,
        severity: 'info',
        details: { i },
      });
      r = [];
      // The sign-ins' records join the chain first, so the fixtures below are consecutive in it
      // (the chainer would otherwise interleave them, ADR 005).
      await t.tessera.auditChain.flush();
      for (const record of [
        base(1, 'test.alpha', 'success', u1, '192.0.2.1'),
        base(2, 'test.beta', 'failure', u2, '192.0.2.2'),
        base(3, 'test.alpha', 'failure', u1, '2001:db8::1'),
        base(4, 'test.beta', 'info', null, '192.0.2.1'),
        base(5, 'test.alpha', 'success', u2, '192.0.2.2'),
        base(6, 'test.gamma', 'failure', u1, '192.0.2.1'),
      ]) {
        r.push(await t.stores.audit.append(record));
      }
    });
    after(() => t?.close());

    async function page(query: string, token = admin): Promise<Page> {
      const response = await get(t, `/admin/audit${query}`, { token });
      assert.equal(response.statusCode, 200, `${query}: ${response.body}`);
      return response.json() as Page;
    }

    const ids = (records: readonly { id: string }[]) => records.map((record) => record.id);
    const since = () => `since=${encodeURIComponent(new Date(start).toISOString())}`;

    it('refuses callers without a token (401) and non-admins (403 forbidden, recorded)', async () => {
      assertApiError(await get(t, '/admin/audit'), 401, 'invalid_token', 'no token');
      assertApiError(await get(t, '/admin/audit/export'), 401, 'invalid_token', 'export, no token');
      assertApiError(await get(t, '/admin/audit', { token: member }), 403, 'forbidden', 'member');
      assertApiError(await get(t, '/admin/audit/export?format=csv', { token: member }), 403, 'forbidden', 'member export');
      const denied = await page('?type=access.denied');
      assert.ok(denied.records.length >= 2, 'each refusal is audited');
      assert.equal((denied.records[0]!.details as Json).endpoint, '/admin/audit/export');
    });

    it('answers the newest record first, every field in snake_case, and the records the service wrote', async () => {
      const body = await page('?limit=200');
      assert.ok(body.records.length > r.length, 'the fixtures and the events of the sign-ins');
      const seqs = body.records.map((record) => record.seq);
      assert.deepEqual(seqs, [...seqs].sort((a, b) => b - a), 'newest first');
      const fixtures = (await page(`?${since()}`)).records;
      assert.deepEqual(ids(fixtures), ids([...r].reverse()));
      const newest = fixtures[0]!;
      assert.deepEqual(Object.keys(newest).sort(), recordFields);
      assert.deepEqual(newest, {
        id: r[5]!.id,
        seq: r[5]!.seq,
        at: new Date(start + 6 * hour).toISOString(),
        type: 'test.gamma',
        outcome: 'failure',
        user_id: u1,
        session_id: null,
        ip: '192.0.2.1',
        user_agent: 'admin-audit-test',
        request_id: 'fixture-6',
        severity: 'info',
        details: { i: 6 },
        prev_hash: r[4]!.hash,
        hash: r[5]!.hash,
      });
      assert.ok(body.records.some((record) => record.type === 'login.succeeded' && record.user_id !== null));
    });

    it('filters by type, user, ip, outcome and time, each alone and together', async () => {
      const cases: Array<[string, ChainedAuditRecord[]]> = [
        [`type=test.alpha&${since()}`, [r[4]!, r[2]!, r[0]!]],
        [`user=${u1}&${since()}`, [r[5]!, r[2]!, r[0]!]],
        [`user=${u1.toUpperCase()}&${since()}`, [r[5]!, r[2]!, r[0]!]],
        [`ip=192.0.2.1&${since()}`, [r[5]!, r[3]!, r[0]!]],
        [`ip=${encodeURIComponent('2001:db8::1')}`, [r[2]!]],
        // Another spelling of the same address finds it: addresses are recorded canonically.
        [`ip=${encodeURIComponent('2001:DB8:0:0::0001')}`, [r[2]!]],
        [`ip=${encodeURIComponent('::ffff:192.0.2.1')}&${since()}`, [r[5]!, r[3]!, r[0]!]],
        [`outcome=failure&${since()}`, [r[5]!, r[2]!, r[1]!]],
        [`outcome=info&${since()}`, [r[3]!]],
        // since is inclusive, until exclusive.
        [`since=${new Date(start + 2 * hour).toISOString()}&until=${new Date(start + 5 * hour).toISOString()}`, [r[3]!, r[2]!, r[1]!]],
        [`type=test.alpha&outcome=failure&user=${u1}&ip=${encodeURIComponent('2001:db8::1')}`, [r[2]!]],
        ['type=test.none', []],
      ];
      for (const [query, expected] of cases) {
        assert.deepEqual(ids((await page(`?${query}`)).records), ids(expected), query);
      }
      // An offset instead of Z, its + sent encoded or (as a form would) as a space.
      const wall = new Date(start + 4 * hour + 2 * hour).toISOString().slice(0, 19);
      assert.deepEqual(ids((await page(`?since=${wall}%2B02:00`)).records), ids([r[5]!, r[4]!, r[3]!]));
      assert.deepEqual(ids((await page(`?since=${wall}+02:00`)).records), ids([r[5]!, r[4]!, r[3]!]));
      assert.deepEqual(ids((await page(`?since=${wall.toLowerCase()}+02:00`)).records), ids([r[5]!, r[4]!, r[3]!]));
    });

    it('pages by cursor without gaps or repeats, and says when there is no next page', async () => {
      for (const limit of [1, 2, 3, 4, 6]) {
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const body: Page = await page(`?${since()}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
          assert.ok(body.records.length <= limit);
          seen.push(...ids(body.records));
          cursor = body.next_cursor;
          pages += 1;
        } while (cursor !== null && pages < 10);
        assert.deepEqual(seen, ids([...r].reverse()), `limit ${limit}`);
        assert.equal(pages, Math.ceil(r.length / limit), `limit ${limit}: no empty last page`);
      }
      const first = await page(`?${since()}&limit=2`);
      assert.equal(first.next_cursor, b64(String(r[4]!.seq)), 'the cursor is the last seq, base64url');
      // A record appended after the first page does not shift the next one (keyset, not offset).
      await t.stores.audit.append({ ...fixture(), at: new Date(start + 7 * hour) });
      const second = await page(`?${since()}&limit=2&cursor=${first.next_cursor}`);
      assert.deepEqual(ids(second.records), ids([r[3]!, r[2]!]));
    });

    it('defaults to 50 records a page and allows 200', async () => {
      for (let i = 0; i < 60; i += 1) await t.stores.audit.append(fixture());
      const byDefault = await page('');
      assert.equal(byDefault.records.length, 50);
      assert.ok(byDefault.next_cursor);
      const max = await page('?limit=200');
      assert.ok(max.records.length > 60 && max.records.length <= 200);
    });

    it('refuses every malformed parameter with 400 invalid_request, never a 500', async () => {
      const bad: Array<[string, RegExp]> = [
        ['user=not-a-uuid', /user/],
        [`user=${u1}0`, /user/],
        ['user=', /user/],
        [`user=${u1}&user=${u2}`, /user/],
        ['type=', /type/],
        ['type=Login.Failed', /type/],
        ['type=a%00b', /type/],
        [`type=${'a'.repeat(65)}`, /type/],
        ['ip=999.1.1.1', /ip/],
        ['ip=localhost', /ip/],
        ['outcome=maybe', /outcome/],
        ['outcome=SUCCESS', /outcome/],
        ['since=yesterday', /since/],
        ['since=1735689600', /since/],
        ['since=2030-02-30', /since/],
        ['since=2031-02-29T00:00:00Z', /since/],
        ['since=0000-01-01T00:00:00Z', /since/],
        ['since=2030-01-01T24:00:00Z', /since/],
        ['since=2030-01-01T12:00:00', /since/],
        ['since=2030-01-01T12:00:60Z', /since/],
        ['until=10000-01-01T00:00:00Z', /until/],
        // Valid wall times whose offset puts the instant outside years 0001-9999.
        ['since=0001-01-01T00:00:00%2B14:00', /since/],
        ['since=0001-01-01T00:00:00%2B00:01', /since/],
        ['until=9999-12-31T23:59:59-14:00', /until/],
        ['until=9999-12-31T23:59:59.999-00:01', /until/],
        ['until=2030-01-01T00:00:00.0000000001Z', /until/],
        ['since=2030-01-02&until=2030-01-01', /until/],
        ['since=2030-01-01&until=2030-01-01', /until/],
        ['limit=0', /limit/],
        ['limit=201', /limit/],
        ['limit=-1', /limit/],
        ['limit=1.5', /limit/],
        ['limit=abc', /limit/],
        ['limit=050', /limit/],
        ['limit=', /limit/],
        ['cursor=!!!', /cursor/],
        ['cursor=', /cursor/],
        [`cursor=${b64('abc')}`, /cursor/],
        [`cursor=${b64('0')}`, /cursor/],
        [`cursor=${b64('-5')}`, /cursor/],
        [`cursor=${b64('99999999999999999999')}`, /cursor/],
        [`cursor=${b64('12')}==`, /cursor/],
        [`cursor=${b64('x'.repeat(100))}`, /cursor/],
        ['users=x', /additional properties/],
        ['format=csv', /additional properties/],
      ];
      for (const [query, names] of bad) {
        const body = assertApiError(await get(t, `/admin/audit?${query}`, { token: admin }), 400, 'invalid_request', query);
        assert.match(String(body.error_description), names, query);
      }
    });

    it('accepts the extremes of the time range and the largest cursor without a database error', async () => {
      const all = await page('?since=0001-01-01T00:00:00Z&until=9999-12-31T23:59:59.999Z&limit=1');
      assert.equal(all.records.length, 1);
      assert.deepEqual((await page('?since=9999-12-31')).records, []);
      const beyond = await page(`?cursor=${b64(String(Number.MAX_SAFE_INTEGER))}&limit=1`);
      assert.equal(beyond.records.length, 1);
      assert.deepEqual((await page(`?cursor=${b64('1')}`)).records, []);
    });

    function fixture(): AuditRecord {
      return {
        id: randomUUID(),
        at: new Date(t.clock.now()),
        type: 'test.filler',
        outcome: 'info',
        userId: null,
        sessionId: null,
        ip: null,
        userAgent: null,
        requestId: null,
        severity: 'info',
        details: {},
      };
    }
  });
}
