import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { login, startTestApp, type TestApp } from '../test-support/app.js';
import { testBackends } from '../test-support/databases.js';

/* Issue 10, finding 3: retention verifies the prefix it is about to erase, and refuses a broken one. */

const day = 86_400_000;

async function failSignIns(t: TestApp, count: number): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    const response = await login(t, { username: `nobody-${i}`, password: 'not the password at all' });
    assert.equal(response.statusCode, 401);
  }
  await t.tessera.auditChain.flush();
}

async function seqs(t: TestApp): Promise<number[]> {
  return (await t.db.query<{ seq: string }>('SELECT seq::text AS seq FROM audit_log ORDER BY audit_log.seq')).map((row) => Number(row.seq));
}

for (const backend of testBackends()) {
  describe(`audit retention over a tampered prefix (${backend.name})`, () => {
    it('emits audit.pruned on the event bus, heard as recorded, its one record the signed anchor', async () => {
      const t = await startTestApp(backend);
      try {
        const heard: Array<{ payload: unknown; recorded: boolean }> = [];
        t.tessera.events.subscribe((event, recorded) => {
          if (event.type === 'audit.pruned') heard.push({ payload: event.payload, recorded });
        });
        await failSignIns(t, 3);
        t.clock.advance(400 * day);
        await failSignIns(t, 1);
        const pruned = await t.tessera.auditRetention.runOnce();
        assert.equal(pruned?.removed, 3);
        assert.deepEqual(heard, [
          { payload: { throughSeq: pruned.throughSeq, throughHash: pruned.throughHash, removed: 3, before: pruned.anchor.details.before }, recorded: true },
        ]);
        await t.tessera.auditChain.flush();
        const types = (await t.db.query<{ type: string }>('SELECT type FROM audit_log ORDER BY audit_log.seq')).map((row) => row.type);
        assert.deepEqual(types.filter((type) => type.startsWith('audit.')), ['audit.pruned'], 'one anchor, nothing queued for it');
      } finally {
        await t.close();
      }
    });

    it('prunes an intact prefix; removes nothing from a back-dated one, opens a critical incident, and verify still reports the break', async () => {
      const t = await startTestApp(backend);
      try {
        await failSignIns(t, 3);
        t.clock.advance(400 * day);
        await failSignIns(t, 3);
        const pruned = await t.tessera.auditRetention.runOnce();
        assert.equal(pruned?.removed, 3, 'the intact, expired prefix goes');
        assert.equal((await t.stores.audit.verify()).broken, undefined);

        // Someone with database access back-dates two recent records so the next run erases them.
        const before = await seqs(t);
        const [first, second] = before;
        await t.db.query(`UPDATE audit_log SET at = at - interval '400 days' WHERE seq IN ($1, $2)`, [first, second]);
        assert.equal(await t.tessera.auditRetention.runOnce(), undefined);
        assert.deepEqual((await seqs(t)).slice(0, before.length), before, 'nothing removed');
        const anchors = await t.db.query<{ seq: string }>(`SELECT seq::text AS seq FROM audit_log WHERE type = 'audit.pruned'`);
        assert.deepEqual(anchors.map((row) => Number(row.seq)), [pruned!.anchor.seq], 'no anchor appended');

        const incidents = await t.tessera.incidents.list({ type: 'audit_chain_broken', limit: 10 });
        assert.equal(incidents.length, 1);
        assert.equal(incidents[0]!.status, 'open');
        assert.equal(incidents[0]!.severity, 'critical');
        assert.deepEqual(incidents[0]!.evidence, { seq: first, record_id: incidents[0]!.evidence.record_id, reason: 'hash_mismatch', during: 'retention' });

        await t.tessera.auditChain.flush();
        const events = await t.db.query<{ details: Record<string, unknown>; severity: string }>(`SELECT details, severity FROM audit_log WHERE type = 'audit.chain_broken'`);
        assert.equal(events.length, 1);
        assert.equal(events[0]!.severity, 'critical');
        assert.equal(events[0]!.details.seq, first);

        const verified = await t.stores.audit.verify();
        assert.deepEqual(verified.broken && { seq: verified.broken.seq, reason: verified.broken.reason }, { seq: first, reason: 'hash_mismatch' });

        // A later run refuses again; the one open incident is updated, not duplicated.
        assert.equal(await t.tessera.auditRetention.runOnce(), undefined);
        assert.equal((await t.tessera.incidents.list({ type: 'audit_chain_broken', limit: 10 })).length, 1);
        assert.equal((await seqs(t)).includes(first!), true);
      } finally {
        await t.close();
      }
    });
  });
}
