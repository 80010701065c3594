import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { ManualClock } from '../clock.js';
import { sqlAuditStore } from '../store/sql/audit-store.js';
import type { Queryable } from '../store/sql/db.js';
import { migrate } from '../store/sql/migrate.js';
import { login, startTestApp, type TestApp } from '../test-support/app.js';
import { testSecret } from '../test-support/config.js';
import { testBackends, type TestBackend } from '../test-support/databases.js';
import { appendLegacyAudit, migrateBeforeKeyedChain } from '../test-support/legacy-audit.js';
import { startAuditHeadPublisher } from './head-publisher.js';
import { auditKeys } from './keys.js';
import { pendingMac, type AuditRecord } from './record.js';
import { relinkAuditChain } from '../test-support/audit-intruder.js';
import { AuditChainBrokenError, type ChainBreak } from './store.js';

/* Issue 10 review of the keyed chain: H1 forged pending anchors, H2 laundering by re-keying, M3 rollout, L2 head cut. */

const keys = auditKeys(testSecret);
const day = 86_400_000;

function record(i: number, type = 'login.failed'): AuditRecord {
  return { id: randomUUID(), at: new Date(Date.UTC(2030, 0, 1) + i * 1000), type, outcome: 'failure', userId: null, sessionId: null, ip: '203.0.113.66', userAgent: 'review-test', requestId: `r-${i}`, severity: 'low', details: { i } };
}

const pendingColumns = 'id, at, type, outcome, user_id, session_id, ip, user_agent, request_id, severity, details, mac';
async function insertPending(db: Queryable, r: AuditRecord, mac: string): Promise<void> {
  await db.query(`INSERT INTO audit_pending (${pendingColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, ($11::text)::jsonb, $12)`, [r.id, r.at, r.type, r.outcome, r.userId, r.sessionId, r.ip, r.userAgent, r.requestId, r.severity, JSON.stringify(r.details), mac]);
}

async function failSignIns(t: TestApp, count: number): Promise<void> {
  for (let i = 0; i < count; i += 1) assert.equal((await login(t, { username: `nobody-${i}`, password: 'not the password at all' })).statusCode, 401);
  await t.tessera.auditChain.flush();
}

async function types(db: Queryable): Promise<string[]> {
  return (await db.query<{ type: string }>('SELECT type FROM audit_log ORDER BY audit_log.seq')).map((row) => row.type);
}

async function legacyDatabase(backend: TestBackend, count: number) {
  const database = await backend.open({ migrated: false });
  await migrateBeforeKeyedChain(database.db);
  for (let i = 0; i < count; i += 1) await appendLegacyAudit(database.db, record(i));
  // Migrated without the upgrade's re-key: a chain that is all legacy, with no anchor.
  await migrate(database.db);
  return database;
}

for (const backend of testBackends()) {
  describe(`keyed audit chain, review findings (${backend.name})`, () => {
    it('H1: a forged `audit.rekeyed` row in audit_pending is not chained as an anchor; the rewritten prefix stays BROKEN, retention erases nothing, the alarm is raised', async () => {
      const t = await startTestApp(backend);
      try {
        await failSignIns(t, 5);
        // The repro: under the chain lock, delete a record, re-link the rest with SHA-256, queue a "re-keying anchor".
        await t.db.transaction(async (tx) => {
          await tx.query(`SELECT pg_advisory_xact_lock(hashtext('tessera.audit.' || current_schema()))`);
          await tx.query('DELETE FROM audit_log WHERE seq = (SELECT min(seq) + 1 FROM audit_log)');
          const head = (await relinkAuditChain(tx, { markLegacy: true }))!;
          const forged = { ...record(99, 'audit.rekeyed'), outcome: 'info' as const, severity: 'info' as const, details: { legacyHeadSeq: head.seq, legacyHeadHash: head.hash, legacyRecords: 4, legacyVerified: true } };
          await insertPending(tx, forged, 'forged');
        });
        await t.tessera.auditChain.flush();
        assert.equal((await types(t.db)).includes('audit.rekeyed'), false, 'no re-keying anchor in the chain');
        const rejected = await t.db.query<{ details: Record<string, unknown> }>(`SELECT details FROM audit_log WHERE type = 'audit.pending_rejected'`);
        assert.equal(rejected.length, 1);
        assert.equal((rejected[0]!.details.record as AuditRecord).type, 'audit.rekeyed');
        const verified = await t.stores.audit.verify();
        assert.equal(verified.broken?.reason, 'hash_mismatch');
        assert.equal(verified.legacyThrough, undefined);
        const incidents = await t.tessera.incidents.list({ type: 'audit_chain_broken', limit: 10 });
        assert.equal(incidents.length, 1);
        assert.equal(incidents[0]!.evidence.during, 'chaining');
        assert.equal(incidents[0]!.evidence.reason, 'pending_unauthenticated');

        t.clock.advance(400 * day);
        await failSignIns(t, 1);
        assert.equal(await t.tessera.auditRetention.runOnce(), undefined, 'retention refuses the rewritten prefix');
        assert.equal((await types(t.db)).includes('audit.pruned'), false);
      } finally {
        await t.close();
      }
    });

    it('H1: only pending rows with a valid MAC, of a type Tessera enqueues, join the chain as written', async () => {
      const { db, cleanup } = await backend.open();
      try {
        const audit = sqlAuditStore(db, db, { keys });
        const cases: Array<{ name: string; record: AuditRecord; mac: (r: AuditRecord) => string; genuine: boolean }> = [
          { name: 'enqueued by Tessera', record: record(1), mac: (r) => pendingMac(keys.pending, r), genuine: true },
          { name: 'no MAC', record: record(2), mac: () => '', genuine: false },
          { name: 'a made-up MAC', record: record(3), mac: () => 'x'.repeat(43), genuine: false },
          { name: 'MAC of another record', record: record(4), mac: () => pendingMac(keys.pending, record(5)), genuine: false },
          { name: 'MAC under another secret', record: record(6), mac: (r) => pendingMac(auditKeys(`${testSecret}-x`).pending, r), genuine: false },
          { name: 'left from before the upgrade, after re-keying ran', record: record(7), mac: () => 'pre-upgrade', genuine: false },
          ...['audit.rekeyed', 'audit.pruned', 'audit.break_accepted', 'audit.pending_rejected'].map((type) => ({ name: `an anchor type (${type}), even with a valid MAC`, record: record(8, type), mac: (r: AuditRecord) => pendingMac(keys.pending, r), genuine: false })),
        ];
        await audit.enqueue(record(0));
        for (const { record: r, mac } of cases) await insertPending(db, r, mac(r));
        const { moved, rejected } = await audit.chainPending(100);
        assert.equal(moved, cases.length + 1);
        const rows = await db.query<{ id: string; type: string; details: Record<string, unknown>; severity: string }>('SELECT id, type, details, severity FROM audit_log ORDER BY audit_log.seq');
        for (const { name, record: r, genuine } of cases) {
          const asWritten = rows.find((row) => row.id === r.id);
          const wrapped = rows.find((row) => row.type === 'audit.pending_rejected' && (row.details.record as { id: string }).id === r.id);
          assert.equal(Boolean(asWritten), genuine, name);
          assert.equal(Boolean(wrapped), !genuine, name);
          if (wrapped) assert.equal(wrapped.severity, 'critical', name);
        }
        assert.equal(rejected.length, cases.filter((c) => !c.genuine).length);
        assert.deepEqual(new Set(rejected.map((b: ChainBreak) => b.reason)), new Set(['pending_unauthenticated']));
        assert.equal((await audit.verify()).broken, undefined, 'the marked records are Tessera\'s own');
      } finally {
        await cleanup();
      }
    });

    it('H2: verify never re-keys; a keyed chain rewritten to look legacy is BROKEN and neither start-up nor verify re-keys it; an operator re-key is recorded', async () => {
      const database = await legacyDatabase(backend, 4);
      try {
        const { db } = database;
        const audit = sqlAuditStore(db, db, { keys });
        const before = await audit.verify();
        assert.equal(before.neverKeyed, true, 'a legacy chain without a re-keying anchor is not verified');
        assert.ok(before.broken);
        assert.equal((await types(db)).includes('audit.rekeyed'), false, 'verify wrote nothing');

        const first = await audit.forceRekey(new Date(Date.UTC(2030, 1, 1)));
        assert.ok(first, 'only an operator re-keys it');
        for (let i = 10; i < 13; i += 1) await audit.append(record(i));
        assert.equal((await audit.verify()).broken, undefined);

        // The laundering: re-hash everything with SHA-256, mark it legacy, delete the anchor.
        await db.query(`DELETE FROM audit_log WHERE type = 'audit.rekeyed'`);
        await relinkAuditChain(db, { markLegacy: true });
        const t = await startTestApp(backend, { db });
        try {
          assert.equal((await types(db)).includes('audit.rekeyed'), false, 'start-up did not re-key');
          const laundered = await audit.verify();
          assert.equal(laundered.broken?.reason, 'hash_mismatch');
          assert.equal(laundered.neverKeyed, true, 'all legacy and no valid anchor: NOT VERIFIED, and nothing re-keys it');

          // Only the operator's explicit re-key anchors it again, and says so.
          const forced = await audit.forceRekey(new Date(Date.UTC(2030, 2, 1)));
          assert.equal(forced.anchor.type, 'audit.rekeyed');
          assert.equal(forced.anchor.details.forced, true);
          const after = await audit.verify();
          assert.equal(after.broken, undefined);
          assert.equal(after.legacyForced, true);
          assert.equal(after.legacyThrough, forced.legacyHeadSeq);
        } finally {
          await t.close();
        }
      } finally {
        await database.cleanup();
      }
    });

    it('M3: old-code inserts fail once migrated; an investigated break is accepted by a signed anchor, verify keeps naming it, retention proceeds', async () => {
      const { db, cleanup } = await backend.open();
      try {
        const audit = sqlAuditStore(db, db, { keys });
        await assert.rejects(appendLegacyAudit(db, record(0)), /null value|not-null|violates/i, 'an older Tessera appending to audit_log');
        await assert.rejects(db.query(`INSERT INTO audit_pending (id, at, type, outcome, severity, details) VALUES ($1, now(), 'login.failed', 'failure', 'low', '{}'::jsonb)`, [randomUUID()]), /null value|not-null|violates/i, 'an older Tessera enqueueing');
        for (let i = 1; i <= 3; i += 1) await audit.append(record(i));
        // A row an older instance wrote during the rollout (before this fix): an unkeyed link.
        const last = (await db.query<{ hash: string }>('SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1'))[0]!.hash;
        const legacyRow = record(4);
        await db.query(`INSERT INTO audit_log (id, at, type, outcome, severity, details, prev_hash, hash, scheme) VALUES ($1, $2, $3, 'failure', 'low', '{}'::jsonb, $4, $5, 'sha256')`, [legacyRow.id, legacyRow.at, legacyRow.type, last, 'f'.repeat(64)]);
        const brokenSeq = Number((await db.query<{ seq: string }>('SELECT max(seq)::text AS seq FROM audit_log'))[0]!.seq);
        for (let i = 5; i <= 6; i += 1) await audit.append(record(i));
        assert.equal((await audit.verify()).broken?.seq, brokenSeq);
        await assert.rejects(audit.prune(new Date(Date.UTC(2031, 0, 1)), new Date(Date.UTC(2031, 0, 1))), AuditChainBrokenError);

        await assert.rejects(audit.acceptBreak(brokenSeq + 1, 'wrong record', new Date()), /first break is at #/);
        const accepted = await audit.acceptBreak(brokenSeq, 'older instance during the rollout', new Date(Date.UTC(2030, 0, 2)));
        assert.equal(accepted.anchor.type, 'audit.break_accepted');
        const verified = await audit.verify();
        assert.equal(verified.broken, undefined);
        assert.deepEqual((verified.acceptedBreaks ?? []).map((b) => ({ seq: b.seq, reason: b.reason })), [{ seq: brokenSeq, reason: 'hash_mismatch' }]);
        await assert.rejects(audit.acceptBreak(brokenSeq, 'again', new Date()), /nothing to accept/);

        // Edited again after the acceptance: broken again.
        await db.query(`UPDATE audit_log SET ip = '192.0.2.1' WHERE seq = $1`, [brokenSeq]);
        assert.equal((await audit.verify()).broken?.seq, brokenSeq);
        await db.query(`UPDATE audit_log SET ip = NULL WHERE seq = $1`, [brokenSeq]);

        const pruned = await audit.prune(new Date(Date.UTC(2030, 0, 1, 0, 0, 5)), new Date(Date.UTC(2030, 0, 3)));
        assert.equal(pruned?.throughSeq, brokenSeq, 'retention proceeds past the accepted break');
        const later = await audit.verify();
        assert.equal(later.broken, undefined);
        assert.deepEqual((later.acceptedBreaks ?? []).map((b) => b.seq), [brokenSeq], 'still reported after the record is gone');
      } finally {
        await cleanup();
      }
    });

    it('L2: the head publisher raises the alarm, and signs nothing, when the head does not extend the last one published', async () => {
      const cases: Array<{ name: string; tamper: (db: Queryable, published: { seq: number }) => Promise<unknown>; appendAfter: number }> = [
        { name: 'newest records cut', tamper: (db, p) => db.query('DELETE FROM audit_log WHERE seq >= $1', [p.seq - 1]), appendAfter: 0 },
        { name: 'cut, then new appends past it', tamper: (db, p) => db.query('DELETE FROM audit_log WHERE seq >= $1', [p.seq - 1]), appendAfter: 3 },
        { name: 'the published record rewritten', tamper: (db, p) => db.query(`UPDATE audit_log SET hash = $1 WHERE seq = $2`, ['e'.repeat(64), p.seq]), appendAfter: 1 },
      ];
      for (const { name, tamper, appendAfter } of cases) {
        const { db, cleanup } = await backend.open();
        try {
          const audit = sqlAuditStore(db, db, { keys });
          const published: number[] = [];
          const errors: unknown[] = [];
          const publisher = startAuditHeadPublisher({ audit, keys, clock: new ManualClock(Date.UTC(2030, 0, 1)), intervalMs: 3_600_000, claim: async () => true, publish: (head) => published.push(head.seq), onError: (error) => errors.push(error) });
          try {
            for (let i = 0; i < 4; i += 1) await audit.append(record(i));
            const first = await publisher.publishOnce();
            await audit.append(record(5));
            assert.ok(await publisher.publishOnce(), `${name}: an extended head is published`);
            await tamper(db, { seq: published[1]! });
            for (let i = 0; i < appendAfter; i += 1) await audit.append(record(10 + i));
            await assert.rejects(publisher.publishOnce(), (error: unknown) => error instanceof AuditChainBrokenError && error.broken.reason === 'head_truncated' && error.broken.seq === published[1], name);
            assert.equal(published.length, 2, `${name}: nothing signed`);
            assert.ok(first);
          } finally {
            await publisher.stop();
          }
        } finally {
          await cleanup();
        }
      }
    });
  });
}
