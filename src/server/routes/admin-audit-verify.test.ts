import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { currentSignedHead } from '../../audit/head.js';
import { auditKeys } from '../../audit/keys.js';
import { createUser, signIn, startTestApp, type TestApp } from '../../test-support/app.js';
import { testBackends } from '../../test-support/databases.js';
import { assertApiError, get } from '../../test-support/tokens.js';

/* GET /admin/audit/verify (SPEC §3, issue 11 item 6): the chain checked while the server runs. */

interface Verification {
  verified: boolean;
  records: number;
  head: { seq: number; hash: string } | null;
  broken: { seq: number; id: string; reason: string; explanation: string } | null;
  never_keyed: boolean;
  expected_head: { found: boolean; message: string } | null;
  checked_at: string;
}

for (const backend of testBackends()) {
  describe(`GET /admin/audit/verify (${backend.name})`, () => {
    let t: TestApp;
    let admin: string;
    let member: string;

    before(async () => {
      t = await startTestApp(backend);
      await createUser(t, 'root', { roles: ['admin'] });
      await createUser(t, 'member');
      admin = (await signIn(t, 'root')).access_token;
      member = (await signIn(t, 'member')).access_token;
    });
    after(() => t?.close());

    async function verify(query = ''): Promise<Verification> {
      const response = await get(t, `/admin/audit/verify${query}`, { token: admin });
      assert.equal(response.statusCode, 200, response.body);
      return response.json() as Verification;
    }

    it('refuses callers without a token (401), non-admins (403) and a malformed expect_head (400)', async () => {
      assertApiError(await get(t, '/admin/audit/verify'), 401, 'invalid_token', 'no token');
      assertApiError(await get(t, '/admin/audit/verify', { token: member }), 403, 'forbidden', 'member');
      for (const query of ['?expect_head=12', `?expect_head=1:${'a'.repeat(63)}`, '?expect_head=', '?other=1']) {
        assertApiError(await get(t, `/admin/audit/verify${query}`, { token: admin }), 400, 'invalid_request', query);
      }
    });

    it('verifies the running chain, including records still queued, and checks an expected head', async () => {
      const first = await verify();
      const head = (await t.stores.audit.head())!;
      assert.equal(first.verified, true);
      assert.equal(first.broken, null);
      assert.equal(first.never_keyed, false);
      assert.ok(first.records >= 4, 'the sign-ins and users were recorded');
      // The admin's own request is recorded and chained before the walk: the head can only grow.
      assert.ok(first.head!.seq >= head.seq - 1);
      assert.equal(first.checked_at, new Date(t.clock.now()).toISOString());

      const signed = (await currentSignedHead(t.stores.audit, auditKeys(t.config.secret), t.clock.now()))!;
      for (const [expect, found, message] of [
        [`${head.seq}:${head.hash}`, true, /is in the chain/],
        [signed.token, true, /is in the chain/],
        [`${head.seq}:${'e'.repeat(64)}`, false, /the chain was rewritten/],
        [`${signed.seq}:${signed.hash}:${Date.parse(signed.at) + 1}:${signed.mac}`, false, /signature does not verify/],
        [`${head.seq + 1000}:${head.hash}`, false, /newest records were removed/],
      ] as const) {
        const result = await verify(`?expect_head=${encodeURIComponent(expect)}`);
        assert.equal(result.expected_head?.found, found, expect);
        assert.match(result.expected_head!.message, message, expect);
        assert.equal(result.verified, found, expect);
      }
    });

    it('runs one verification at a time: concurrent calls share it', async () => {
      const audit = t.stores.audit;
      const verification = t.tessera.auditVerification as { verify: typeof t.tessera.auditVerification.verify };
      const [walk, through] = [audit.verify, verification.verify];
      // The walk waits until all five requests have reached the service, so none can finish first.
      let release!: () => void;
      const allArrived = new Promise<void>((resolve) => (release = resolve));
      let arrived = 0;
      let walks = 0;
      verification.verify = (expected) => {
        arrived += 1;
        if (arrived === 5) release();
        return through.call(verification, expected);
      };
      audit.verify = async () => {
        walks += 1;
        await allArrived;
        return walk.call(audit);
      };
      try {
        const answers = await Promise.all(Array.from({ length: 5 }, () => get(t, '/admin/audit/verify', { token: admin })));
        assert.deepEqual(answers.map((answer) => answer.statusCode), [200, 200, 200, 200, 200]);
        assert.equal(walks, 1);
        await verify();
        assert.equal(walks, 2, 'a later call walks again');
      } finally {
        audit.verify = walk;
        verification.verify = through;
      }
    });

    it('names the first broken record after an edit in SQL', async () => {
      await t.tessera.auditChain.flush();
      const [row] = await t.db.query<{ seq: string; id: string }>(`SELECT seq::text AS seq, id FROM audit_log WHERE type <> 'audit.rekeyed' ORDER BY seq LIMIT 1 OFFSET 1`);
      await t.db.query(`UPDATE audit_log SET ip = '192.0.2.99' WHERE seq = $1`, [row!.seq]);
      const result = await verify(`?expect_head=${encodeURIComponent(`1:${'a'.repeat(64)}`)}`);
      assert.equal(result.verified, false);
      assert.deepEqual({ ...result.broken, explanation: undefined }, { seq: Number(row!.seq), id: row!.id, reason: 'hash_mismatch', explanation: undefined });
      assert.match(result.broken!.explanation, /do not match its MAC/);
      assert.equal(result.records, Number(row!.seq) - 1);
      assert.equal(result.expected_head, null, 'a broken chain is the answer; no head is checked in it');
    });
  });
}
