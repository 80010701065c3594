import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { ManualClock } from '../clock.js';
import { sqlAuditStore } from '../store/sql/audit-store.js';
import type { Queryable } from '../store/sql/db.js';
import { migrate } from '../store/sql/migrate.js';
import { startTestApp } from '../test-support/app.js';
import { testSecret } from '../test-support/config.js';
import { testBackends, type TestBackend } from '../test-support/databases.js';
import { appendLegacyAudit, migrateBeforeKeyedChain } from '../test-support/legacy-audit.js';
import { startAuditHeadPublisher } from './head-publisher.js';
import { auditKeys } from './keys.js';
import type { AuditRecord } from './record.js';
import { relinkAuditChain } from '../test-support/audit-intruder.js';
import { AuditChainBrokenError, type AuditStore } from './store.js';

/* Issue 10, second review of the keyed chain: findings 1-7 (an intruder with database access, without TESSERA_SECRET). */

const keys = auditKeys(testSecret);

function record(i: number, type = 'login.failed'): AuditRecord {
  return { id: randomUUID(), at: new Date(Date.UTC(2030, 0, 1) + i * 1000), type, outcome: 'failure', userId: null, sessionId: null, ip: '203.0.113.66', userAgent: 'review2-test', requestId: `r-${i}`, severity: 'low', details: { i } };
}

/** The intruder's laundering: anchors deleted, every row re-linked from genesis with plain SHA-256, marked legacy. */
async function launderAsLegacy(db: Queryable): Promise<void> {
  await db.query(`DELETE FROM audit_log WHERE type = 'audit.rekeyed'`);
  await relinkAuditChain(db, { markLegacy: true });
}

/** What the first version of this fix read as "re-key once more": a row in `audit_rekey_due`, which anyone with write access can add. */
async function markRekeyDue(db: Queryable): Promise<void> {
  await db.query('CREATE TABLE IF NOT EXISTS audit_rekey_due (due boolean PRIMARY KEY CHECK (due))');
  await db.query('INSERT INTO audit_rekey_due VALUES (true) ON CONFLICT DO NOTHING');
}

const pendingColumns = 'id, at, type, outcome, user_id, session_id, ip, user_agent, request_id, severity, details';
async function insertPending(db: Queryable, r: AuditRecord, mac?: string): Promise<void> {
  const values = [r.id, r.at, r.type, r.outcome, r.userId, r.sessionId, r.ip, r.userAgent, r.requestId, r.severity, JSON.stringify(r.details)];
  if (mac === undefined) await db.query(`INSERT INTO audit_pending (${pendingColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, ($11::text)::jsonb)`, values);
  else await db.query(`INSERT INTO audit_pending (${pendingColumns}, mac) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, ($11::text)::jsonb, $12)`, [...values, mac]);
}

async function count(db: Queryable, where: string, params: unknown[] = []): Promise<number> {
  return Number((await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM audit_log WHERE ${where}`, params))[0]!.n);
}

async function seqs(db: Queryable): Promise<number[]> {
  return (await db.query<{ seq: string }>('SELECT seq::text AS seq FROM audit_log ORDER BY audit_log.seq')).map((row) => Number(row.seq));
}

async function rekeyIncidents(db: Queryable): Promise<Array<Record<string, unknown>>> {
  const rows = await db.query<{ evidence: Record<string, unknown> }>(`SELECT evidence FROM incidents WHERE type = 'audit_chain_broken'`);
  return rows.map((row) => row.evidence).filter((evidence) => evidence.reason === 'rekeyed');
}

async function keyedChain(backend: TestBackend, records: number): Promise<{ db: Queryable & { close?: () => Promise<void> }; audit: AuditStore; cleanup: () => Promise<void> }> {
  const { db, cleanup } = await backend.open();
  const audit = sqlAuditStore(db, db, { keys });
  for (let i = 0; i < records; i += 1) await audit.append(record(i));
  return { db, audit, cleanup };
}

for (const backend of testBackends()) {
  describe(`audit chain, second review (${backend.name})`, () => {
    it('F1: nothing stored in the database re-keys: a laundered chain with a due mark is BROKEN after start-up and migrate', async () => {
      const { db, audit, cleanup } = await keyedChain(backend, 4);
      try {
        await launderAsLegacy(db);
        await markRekeyDue(db);
        const t = await startTestApp(backend, { db: db as never });
        try {
          await migrate(db as never);
          assert.equal(await count(db, `type = 'audit.rekeyed'`), 0, 'nothing re-keyed');
          const result = await audit.verify();
          assert.equal(result.broken?.reason, 'hash_mismatch');
          assert.equal(result.records, 0);
        } finally {
          await t.close();
        }
      } finally {
        await cleanup();
      }
    });

    it('F1: the run that applies migration 009 re-keys, raises an incident, and verify names the anchor; an operator re-key raises one too', async () => {
      const database = await backend.open({ migrated: false });
      try {
        const { db } = database;
        await migrateBeforeKeyedChain(db);
        for (let i = 0; i < 3; i += 1) await appendLegacyAudit(db, record(i));
        const t = await startTestApp(backend, { db, clock: new ManualClock(Date.UTC(2030, 1, 1)) });
        try {
          assert.equal(await count(db, `type = 'audit.rekeyed'`), 1);
          const incidents = await rekeyIncidents(db);
          assert.equal(incidents.length, 1, 'the upgrade re-key raised the alarm');
          assert.equal(incidents[0]!.forced, false);
          const verified = await t.stores.audit.verify();
          assert.equal(verified.broken, undefined);
          assert.equal(verified.rekeyed?.forced, false);
          assert.equal(verified.rekeyed?.seq, (await seqs(db))[3]);
          assert.ok(verified.rekeyed?.at instanceof Date);

          const forced = await t.stores.audit.forceRekey(new Date(Date.UTC(2030, 2, 1)));
          assert.equal(forced.anchor.severity, 'critical');
          const after = await rekeyIncidents(db);
          assert.equal(after.length, 1, 'one open incident, updated');
          assert.equal(after[0]!.forced, true);
          assert.equal(after[0]!.seq, forced.anchor.seq);
          assert.equal((await t.stores.audit.verify()).rekeyed?.seq, forced.anchor.seq);
        } finally {
          await t.close();
        }
      } finally {
        await database.cleanup();
      }
    });

    it('F2: a queued "pre-upgrade" row in an already keyed chain is wrapped as unauthenticated, whatever runs; the upgrade adopts the genuine ones', async () => {
      const { db, audit, cleanup } = await keyedChain(backend, 2);
      try {
        const forged = record(10, 'admin.user_deleted');
        await insertPending(db, forged, 'pre-upgrade');
        await markRekeyDue(db);
        const t = await startTestApp(backend, { db: db as never });
        try {
          await audit.forceRekey(new Date());
          await t.tessera.auditChain.flush();
          assert.equal(await count(db, 'id = $1', [forged.id]), 0, 'never chained as written');
          assert.equal(await count(db, `type = 'audit.pending_rejected' AND details->'record'->>'id' = $1`, [forged.id]), 1, 'wrapped');
        } finally {
          await t.close();
        }
      } finally {
        await cleanup();
      }

      const database = await backend.open({ migrated: false });
      try {
        const { db: old } = database;
        await migrateBeforeKeyedChain(old);
        await appendLegacyAudit(old, record(0));
        const queued = record(1);
        await insertPending(old, queued);
        const t = await startTestApp(backend, { db: old });
        try {
          await t.tessera.auditChain.flush();
          assert.equal(await count(old, 'id = $1', [queued.id]), 1, 'a row queued before the upgrade is chained as genuine');
          assert.equal(await count(old, `type = 'audit.pending_rejected'`), 0);
        } finally {
          await t.close();
        }
      } finally {
        await database.cleanup();
      }
    });

    it('F3: an accepted link break pins the record before it: deleting more records before it breaks again', async () => {
      const { db, audit, cleanup } = await keyedChain(backend, 12);
      try {
        const all = await seqs(db);
        await db.query('DELETE FROM audit_log WHERE seq = $1', [all[8]]);
        assert.equal((await audit.verify()).broken?.seq, all[9]);
        await audit.acceptBreak(all[9]!, 'restored from an incomplete backup', new Date(Date.UTC(2030, 0, 2)));
        assert.equal((await audit.verify()).broken, undefined);
        await db.query('DELETE FROM audit_log WHERE seq > $1 AND seq < $2', [all[0], all[8]]);
        const result = await audit.verify();
        assert.equal(result.broken?.seq, all[9], 'the acceptance no longer holds');
        assert.equal(result.broken?.reason, 'link_broken');
      } finally {
        await cleanup();
      }
    });

    it('F3: an accepted removed head holds only while that record is the oldest (a guard for the new pins; held before too)', async () => {
      const { db, audit, cleanup } = await keyedChain(backend, 8);
      try {
        const all = await seqs(db);
        await db.query('DELETE FROM audit_log WHERE seq <= $1', [all[1]]);
        assert.equal((await audit.verify()).broken?.reason, 'head_removed');
        await audit.acceptBreak(all[2]!, 'oldest records lost in a restore', new Date(Date.UTC(2030, 0, 2)));
        assert.equal((await audit.verify()).broken, undefined);
        // The accepted record itself deleted too: the next one is now the oldest, not accepted.
        await db.query('DELETE FROM audit_log WHERE seq = $1', [all[2]]);
        assert.equal((await audit.verify()).broken?.seq, all[3]);
      } finally {
        await cleanup();
      }
    });

    it('F4: the stored published head is signed and never goes backwards: deleted, unsigned or rolled back, the alarm is raised', async () => {
      const cases: Array<{ name: string; tamper: (db: Queryable, cut: number) => Promise<unknown>; freshProcess: boolean }> = [
        { name: 'row deleted, newest records cut', tamper: async (db, cut) => { await db.query('DELETE FROM audit_head_published'); await db.query('DELETE FROM audit_log WHERE seq >= $1', [cut]); }, freshProcess: false },
        { name: 'row rolled back to an older record, newest cut', tamper: async (db, cut) => {
            const older = (await db.query<{ seq: string; hash: string }>('SELECT seq::text AS seq, hash FROM audit_log WHERE seq < $1 ORDER BY seq DESC LIMIT 1', [cut]))[0]!;
            await db.query('UPDATE audit_head_published SET seq = $1, hash = $2', [older.seq, older.hash]);
            await db.query('DELETE FROM audit_log WHERE seq >= $1', [cut]);
          }, freshProcess: true },
      ];
      for (const { name, tamper, freshProcess } of cases) {
        const { db, audit, cleanup } = await keyedChain(backend, 4);
        try {
          const published: number[] = [];
          const options = { audit, keys, clock: new ManualClock(Date.UTC(2030, 0, 1)), intervalMs: 3_600_000, claim: async () => true, publish: (head: { seq: number }) => published.push(head.seq), onError: () => undefined };
          let publisher = startAuditHeadPublisher(options);
          try {
            assert.ok(await publisher.publishOnce());
            await tamper(db, published[0]!);
            if (freshProcess) {
              await publisher.stop();
              publisher = startAuditHeadPublisher(options);
            }
            await audit.append(record(20));
            await assert.rejects(publisher.publishOnce(), (error: unknown) => error instanceof AuditChainBrokenError, name);
            assert.equal(published.length, 1, `${name}: nothing signed`);
          } finally {
            await publisher.stop();
          }
        } finally {
          await cleanup();
        }
      }
    });

    it('F5/F6: a replayed or malformed queued row is wrapped, and the rows after it are still chained', async () => {
      const { db, audit, cleanup } = await keyedChain(backend, 1);
      try {
        const genuine = record(1);
        await audit.enqueue(genuine);
        await audit.chainPending(100);
        await audit.enqueue(genuine);
        await insertPending(db, { ...record(2), at: new Date(Date.UTC(2030, 0, 1)) }, 'x');
        await db.query(`UPDATE audit_pending SET at = 'infinity' WHERE mac = 'x'`);
        const after = record(3);
        await audit.enqueue(after);
        const { moved, rejected } = await audit.chainPending(100);
        assert.equal(moved, 3);
        assert.equal(rejected.length, 2);
        assert.equal(await count(db, 'id = $1', [genuine.id]), 1, 'the replay is not chained again');
        assert.equal(await count(db, `type = 'audit.pending_rejected' AND details->>'reason' = 'duplicate'`), 1);
        assert.equal(await count(db, `type = 'audit.pending_rejected' AND details->>'reason' = 'malformed'`), 1);
        assert.equal(await count(db, 'id = $1', [after.id]), 1, 'the next row is chained');
        assert.equal((await audit.verify()).broken, undefined);
      } finally {
        await cleanup();
      }
    });

    it('F7: a forged pruning anchor at the newest seq does not hide the genuine one; it is reported where the walk reaches it', async () => {
      const { audit, cleanup } = await keyedChain(backend, 6);
      try {
        const pruned = await audit.prune(new Date(Date.UTC(2030, 0, 1, 0, 0, 2)), new Date(Date.UTC(2030, 0, 2)));
        assert.ok(pruned);
        await audit.append(record(30));
        assert.equal((await audit.verify()).broken, undefined);
        const forged = record(31, 'audit.pruned');
        await audit.append({ ...forged, details: { throughSeq: 1, throughHash: 'a'.repeat(64), removed: 1, before: 'x', mac: 'forged' } });
        const result = await audit.verify();
        assert.equal(result.broken?.reason, 'anchor_forged');
        assert.equal(result.broken?.id, forged.id, 'the forged anchor, where the walk reaches it');
        assert.equal(result.prunedThrough, pruned.throughSeq);
        assert.ok(result.records > 0, 'the records before it verify');
      } finally {
        await cleanup();
      }
    });
  });
}
