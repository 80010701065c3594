import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it, mock } from 'node:test';
import { ManualClock } from '../clock.js';
import { anchorMac } from './anchor.js';
import { auditKeys } from './keys.js';
import { sqlAuditStore } from '../store/sql/audit-store.js';
import type { Queryable } from '../store/sql/db.js';
import { testBackends, type TestDatabase } from '../test-support/databases.js';
import type { AuditRecord, ChainedAuditRecord } from './record.js';
import { startAuditRetention } from './retention.js';
import { AuditChainBrokenError, type AuditStore, type PruneResult } from './store.js';

const t0 = Date.UTC(2030, 0, 1);
const second = 1000;
const keys = auditKeys('retention-test-secret-retention-test-secret-0123');

function record(at: number, type = 'login.failed'): AuditRecord {
  return {
    id: randomUUID(),
    at: new Date(at),
    type,
    outcome: 'failure',
    userId: randomUUID(),
    sessionId: null,
    ip: '198.51.100.4',
    userAgent: 'retention-test',
    requestId: null,
    severity: 'low',
    details: { reason: 'wrong_password' },
  };
}

/** Appends records at t0, t0+1 s, …, one after the other (so `at` follows `seq`). */
async function appendSeconds(audit: AuditStore, count: number, from = 0): Promise<ChainedAuditRecord[]> {
  const appended: ChainedAuditRecord[] = [];
  for (let i = from; i < from + count; i += 1) appended.push(await audit.append(record(t0 + i * second)));
  return appended;
}

async function seqs(db: Queryable): Promise<number[]> {
  return (await db.query<{ seq: string }>('SELECT seq::text AS seq FROM audit_log ORDER BY audit_log.seq')).map((row) => Number(row.seq));
}

for (const backend of testBackends()) {
  describe(`audit retention (${backend.name})`, () => {
    async function withLog(fn: (audit: AuditStore, database: TestDatabase) => Promise<void>): Promise<void> {
      const database = await backend.open();
      try {
        await fn(sqlAuditStore(database.db, database.db, { keys }), database);
      } finally {
        await database.cleanup();
      }
    }

    it('removes the records older than the cut-off, anchors the rest, and the chain still verifies', () =>
      withLog(async (audit, { db }) => {
        const appended = await appendSeconds(audit, 30);
        const before = new Date(t0 + 10 * second);
        const now = new Date(t0 + 400 * 24 * 3600 * second);
        const result = await audit.prune(before, now);
        assert.ok(result);
        const lastRemoved = appended[9]!;
        assert.equal(result.removed, 10);
        assert.equal(result.throughSeq, lastRemoved.seq);
        assert.equal(result.throughHash, lastRemoved.hash);
        assert.equal(result.anchor.type, 'audit.pruned');
        assert.equal(result.anchor.at.getTime(), now.getTime(), 'the anchor is dated by the clock');
        assert.equal(result.anchor.prevHash, appended[29]!.hash, 'the anchor links to the head like any record');
        const fields = { throughSeq: lastRemoved.seq, throughHash: lastRemoved.hash, removed: 10, before: before.toISOString() };
        assert.deepEqual(result.anchor.details, { ...fields, mac: anchorMac(keys.anchor, fields) });

        assert.deepEqual(await seqs(db), [...appended.slice(10).map((r) => r.seq), result.anchor.seq]);
        const verification = await audit.verify();
        assert.deepEqual(verification, {
          records: 21,
          broken: undefined,
          head: { seq: result.anchor.seq, hash: result.anchor.hash },
          prunedThrough: lastRemoved.seq,
          prunedThroughHash: lastRemoved.hash,
          legacyThrough: undefined,
        });

        // Appends after the prune chain on from the anchor.
        await appendSeconds(audit, 3, 1000);
        assert.equal((await audit.verify()).broken, undefined);
      }));

    it('catches records deleted from the head after a prune, and an anchor edited to cover them', () =>
      withLog(async (audit, { db }) => {
        const appended = await appendSeconds(audit, 12);
        const result = await audit.prune(new Date(t0 + 5 * second), new Date(t0 + 20 * second));
        assert.equal(result?.removed, 5);
        assert.equal((await audit.verify()).broken, undefined);

        // Someone removes two more of the oldest records.
        await db.query('DELETE FROM audit_log WHERE seq IN ($1, $2)', [appended[5]!.seq, appended[6]!.seq]);
        assert.deepEqual((await audit.verify()).broken, { seq: appended[7]!.seq, id: appended[7]!.id, reason: 'head_removed' });

        // …and rewrites the anchor to point at the new oldest record: its signature fails.
        await db.query(
          `UPDATE audit_log SET details = details || jsonb_build_object('throughSeq', $1::bigint, 'throughHash', $2::text) WHERE seq = $3`,
          [appended[6]!.seq, appended[6]!.hash, result!.anchor.seq],
        );
        assert.deepEqual((await audit.verify()).broken, { seq: result!.anchor.seq, id: result!.anchor.id, reason: 'anchor_forged' });
      }));

    it('catches the anchor deleted together with the records before it, and a head deleted with no prune at all', () =>
      withLog(async (audit, { db }) => {
        const appended = await appendSeconds(audit, 6);
        await db.query('DELETE FROM audit_log WHERE seq = $1', [appended[0]!.seq]);
        assert.deepEqual((await audit.verify()).broken, { seq: appended[1]!.seq, id: appended[1]!.id, reason: 'head_removed' });
        await db.query('DELETE FROM audit_log');

        await appendSeconds(audit, 6, 10);
        const result = await audit.prune(new Date(t0 + 13 * second), new Date(t0 + 20 * second));
        assert.ok(result);
        const after = await appendSeconds(audit, 2, 30);
        await db.query('DELETE FROM audit_log WHERE seq <= $1', [result.anchor.seq]);
        assert.deepEqual((await audit.verify()).broken, { seq: after[0]!.seq, id: after[0]!.id, reason: 'head_removed' });
      }));

    it('a signed anchor verifies; one forged under another key to hide recent records is caught', async () => {
      const database = await backend.open();
      try {
        const audit = sqlAuditStore(database.db, database.db, { keys });
        const appended = await appendSeconds(audit, 20);
        await audit.prune(new Date(t0 + 5 * second), new Date(t0 + 30 * second));
        const signed = await audit.verify();
        assert.equal(signed.broken, undefined);

        // An intruder deletes recent records and appends an anchor that "explains" the gap,
        // linked and signed under keys of their own: they do not know TESSERA_SECRET.
        const cutTo = appended[14]!;
        await database.db.query('DELETE FROM audit_log WHERE audit_log.seq <= $1', [cutTo.seq]);
        const theirs = auditKeys('intruder-secret-intruder-secret-intruder-0123');
        const fields = { throughSeq: cutTo.seq, throughHash: cutTo.hash, removed: 15, before: new Date(t0 + 15 * second).toISOString() };
        await sqlAuditStore(database.db, database.db, { keys: theirs }).append({ ...record(t0 + 40 * second), type: 'audit.pruned', details: { ...fields, mac: anchorMac(theirs.anchor, fields) } });
        assert.equal((await sqlAuditStore(database.db, database.db, { keys: theirs }).verify()).broken?.reason, 'hash_mismatch', 'nor do their keys verify the chain');
        const caught = await audit.verify();
        assert.equal(caught.broken?.reason, 'anchor_forged');
      } finally {
        await database.cleanup();
      }
    });

    it('removes nothing when the expired prefix was back-dated (or otherwise edited), and verify reports it', () =>
      withLog(async (audit, { db }) => {
        const appended = await appendSeconds(audit, 10, 1000);
        await db.query(`UPDATE audit_log SET at = at - interval '400 days' WHERE seq <= $1`, [appended[4]!.seq]);
        await assert.rejects(audit.prune(new Date(t0), new Date(t0 + 2000 * second)), (error: unknown) => {
          assert.ok(error instanceof AuditChainBrokenError);
          assert.deepEqual(error.broken, { seq: appended[0]!.seq, id: appended[0]!.id, reason: 'hash_mismatch' });
          return true;
        });
        assert.deepEqual(await seqs(db), appended.map((r) => r.seq), 'nothing removed, no anchor');
        assert.equal((await audit.verify()).broken?.seq, appended[0]!.seq);

        // A record removed just after the cut would be hidden by it: the first record kept is checked too.
        await db.query(`UPDATE audit_log SET at = at + interval '400 days' WHERE seq <= $1`, [appended[4]!.seq]);
        await db.query('DELETE FROM audit_log WHERE seq = $1', [appended[5]!.seq]);
        await assert.rejects(audit.prune(new Date(t0 + 1005 * second), new Date(t0 + 2000 * second)), AuditChainBrokenError);
        assert.equal((await seqs(db)).length, 9);
      }));

    it('prunes twice (the first anchor itself expiring), and a run with nothing old enough writes nothing', () =>
      withLog(async (audit, { db }) => {
        await appendSeconds(audit, 10);
        const one = await audit.prune(new Date(t0 + 4 * second), new Date(t0 + 15 * second));
        assert.equal(one?.removed, 4);
        const later = await appendSeconds(audit, 5, 20);
        // The first anchor is dated t0+15 s: a cut-off at t0+16 s removes it too.
        const two = await audit.prune(new Date(t0 + 16 * second), new Date(t0 + 40 * second));
        assert.ok(two);
        assert.equal(two.removed, 6 + 1, 'six records and the first anchor');
        assert.equal(two.throughSeq, one!.anchor.seq);
        assert.deepEqual(await seqs(db), [...later.map((r) => r.seq), two.anchor.seq]);
        const verification = await audit.verify();
        assert.equal(verification.broken, undefined);
        assert.equal(verification.records, 6);
        assert.equal(verification.prunedThrough, one!.anchor.seq);

        assert.equal(await audit.prune(new Date(t0 + 16 * second), new Date(t0 + 50 * second)), undefined);
        assert.equal((await seqs(db)).length, 6, 'no anchor for an empty run');
      }));

    it('removes the whole log when every record is old: the anchor alone remains and verifies', () =>
      withLog(async (audit, { db }) => {
        const appended = await appendSeconds(audit, 4);
        const result = await audit.prune(new Date(t0 + 3600 * second), new Date(t0 + 7200 * second));
        assert.equal(result?.removed, 4);
        assert.equal(result?.throughSeq, appended[3]!.seq);
        assert.deepEqual(await seqs(db), [result!.anchor.seq]);
        assert.equal(result!.anchor.prevHash, appended[3]!.hash);
        assert.deepEqual((await audit.verify()).broken, undefined);
        assert.equal((await audit.verify()).records, 1);
      }));

    it('removes only a prefix: an old record after a newer one waits, so the chain has no hole', () =>
      withLog(async (audit, { db }) => {
        const a = await audit.append(record(t0));
        const b = await audit.append(record(t0 + 100 * second));
        const c = await audit.append(record(t0 + 1 * second)); // another instance's clock, behind
        const result = await audit.prune(new Date(t0 + 50 * second), new Date(t0 + 200 * second));
        assert.equal(result?.removed, 1);
        assert.equal(result?.throughSeq, a.seq);
        assert.deepEqual(await seqs(db), [b.seq, c.seq, result!.anchor.seq]);
        assert.equal((await audit.verify()).broken, undefined);
      }));

    it('keeps the chain whole when appends run concurrently with a prune', () =>
      withLog(async (audit) => {
        await appendSeconds(audit, 20);
        const late = Array.from({ length: 20 }, (_, i) => audit.append(record(t0 + (100 + i) * second)));
        const [result] = await Promise.all([audit.prune(new Date(t0 + 10 * second), new Date(t0 + 500 * second)), ...late]);
        assert.equal((result as PruneResult | undefined)?.removed, 10);
        const verification = await audit.verify();
        assert.equal(verification.broken, undefined);
        assert.equal(verification.records, 10 + 20 + 1);
      }));

    it('verification that overlaps a prune walks again instead of reporting a removed head', () =>
      withLog(async (audit, { db }) => {
        await appendSeconds(audit, 8);
        let pruned = false;
        // A connection on which the prune happens just before verification reads the first batch.
        const racing: Queryable = {
          exec: (sql) => db.exec(sql),
          async query<Row>(sql: string, params?: readonly unknown[]): Promise<Row[]> {
            if (!pruned && sql.includes('WHERE audit_log.seq > $1')) {
              pruned = true;
              await audit.prune(new Date(t0 + 4 * second), new Date(t0 + 60 * second));
            }
            return db.query<Row>(sql, params);
          },
        };
        const verification = await sqlAuditStore(racing, undefined, { keys }).verify();
        assert.ok(pruned);
        assert.equal(verification.broken, undefined);
        assert.equal(verification.records, 4 + 1);
      }));
  });
}

describe('audit retention timer', () => {
  it('runs shortly after start and then every interval, with the cut-off from the clock, until stopped', async () => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    try {
      const calls: Array<{ before: number; now: number }> = [];
      const audit = {
        prune: async (before: Date, now: Date) => {
          calls.push({ before: before.getTime(), now: now.getTime() });
          return undefined;
        },
      } as unknown as AuditStore;
      const clock = new ManualClock(t0);
      const day = 24 * 3600 * second;
      const retention = startAuditRetention({ audit, clock, retentionMs: 365 * day, intervalMs: 3600 * second, firstRunDelayMs: 30 * second });
      mock.timers.tick(29 * second);
      assert.equal(calls.length, 0);
      mock.timers.tick(1 * second);
      await Promise.resolve();
      assert.deepEqual(calls, [{ before: t0 - 365 * day, now: t0 }]);
      clock.advance(3600 * second);
      mock.timers.tick(3600 * second - 30 * second);
      await Promise.resolve();
      assert.equal(calls.length, 2);
      assert.deepEqual(calls[1], { before: t0 + 3600 * second - 365 * day, now: t0 + 3600 * second });
      await retention.stop();
      mock.timers.tick(10 * 3600 * second);
      assert.equal(calls.length, 2, 'no run after stop');
    } finally {
      mock.timers.reset();
    }
  });

  it('reports a failed run and keeps the timer going; a run under way is shared, not overlapped', async () => {
    let release!: () => void;
    let runs = 0;
    const audit = {
      prune: async () => {
        runs += 1;
        if (runs === 1) throw new Error('database down');
        await new Promise<void>((resolve) => (release = resolve));
        return undefined;
      },
    } as unknown as AuditStore;
    const retention = startAuditRetention({ audit, clock: new ManualClock(t0), retentionMs: 1000, firstRunDelayMs: 3_600_000 });
    await assert.rejects(retention.runOnce(), /database down/);
    const a = retention.runOnce();
    const b = retention.runOnce();
    assert.equal(a, b);
    await Promise.resolve();
    release();
    assert.equal(await a, undefined);
    assert.equal(runs, 2);
    await retention.stop();
  });
});
