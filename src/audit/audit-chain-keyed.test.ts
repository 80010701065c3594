import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { sqlAuditStore } from '../store/sql/audit-store.js';
import type { Db, Queryable } from '../store/sql/db.js';
import { upgradeDatabase } from '../store/sql/upgrade.js';
import { startTestApp } from '../test-support/app.js';
import { testSecret } from '../test-support/config.js';
import { testBackends, type TestBackend } from '../test-support/databases.js';
import { appendLegacyAudit, migrateBeforeKeyedChain } from '../test-support/legacy-audit.js';
import { auditKeys } from './keys.js';
import type { AuditRecord } from './record.js';
import { hmacLink, relinkAuditChain, sha256Link } from '../test-support/audit-intruder.js';
import type { AuditStore } from './store.js';

/* Issue 10, finding 2: the chain is keyed, legacy chains are re-keyed once, tampering is caught. */

const keys = auditKeys(testSecret);
const attackerIp = '203.0.113.66';

function record(i: number, ip = '198.51.100.9'): AuditRecord {
  return {
    id: randomUUID(),
    at: new Date(Date.UTC(2030, 0, 1) + i * 1000),
    type: 'login.failed',
    outcome: 'failure',
    userId: null,
    sessionId: null,
    ip,
    userAgent: 'keyed-chain-test',
    requestId: `r-${i}`,
    severity: 'low',
    details: { reason: 'wrong_password', i },
  };
}

/** A database at the schema before the keyed chain, holding `count` legacy records, then migrated. */
/** A chain as Tessera wrote it before it was keyed, migrated up to just before 009 (the upgrade re-keys it). */
async function legacyDatabase(backend: TestBackend, count: number) {
  const database = await backend.open({ migrated: false });
  await migrateBeforeKeyedChain(database.db);
  for (let i = 0; i < count; i += 1) await appendLegacyAudit(database.db, record(i));
  return database;
}

/** The rows as they are, and a way to put them back (one tamper at a time). */
async function snapshot(db: Queryable): Promise<() => Promise<void>> {
  const rows = await db.query<Record<string, unknown>>('SELECT * FROM audit_log ORDER BY seq');
  return async () => {
    await db.query('DELETE FROM audit_log');
    for (const row of rows) {
      const columns = Object.keys(row);
      await db.query(
        `INSERT INTO audit_log (${columns.join(', ')}) OVERRIDING SYSTEM VALUE VALUES (${columns.map((c, i) => (c === 'details' ? `($${i + 1}::text)::jsonb` : `$${i + 1}`)).join(', ')})`,
        columns.map((c) => (c === 'details' ? JSON.stringify(row[c]) : row[c])),
      );
    }
  };
}

async function seqOf(db: Queryable, where: string): Promise<number> {
  return Number((await db.query<{ seq: string }>(`SELECT seq::text AS seq FROM audit_log WHERE ${where} ORDER BY audit_log.seq LIMIT 1`))[0]!.seq);
}

for (const backend of testBackends()) {
  describe(`keyed audit chain (${backend.name})`, () => {
    it('catches records deleted and one edited, then re-linked with plain SHA-256 or an HMAC under another key', async () => {
      const { db, cleanup } = await backend.open();
      try {
        const audit = sqlAuditStore(db, db, { keys });
        for (let i = 0; i < 30; i += 1) await audit.append(record(i, i % 2 === 0 ? attackerIp : '198.51.100.9'));
        assert.equal((await audit.verify()).broken, undefined);
        const restore = await snapshot(db);
        for (const [name, link] of [['SHA-256', sha256Link], ['HMAC under another key', hmacLink(auditKeys(`${testSecret}-guess`).chain)]] as const) {
          await db.query(`DELETE FROM audit_log WHERE seq IN (SELECT seq FROM audit_log WHERE ip = $1 ORDER BY seq LIMIT 12)`, [attackerIp]);
          await db.query(`UPDATE audit_log SET details = '{"reason":"ok"}' WHERE seq = (SELECT max(seq) FROM audit_log)`);
          await relinkAuditChain(db, { link });
          const result = await audit.verify();
          assert.deepEqual(result.broken, { seq: await seqOf(db, 'true'), id: (await db.query<{ id: string }>('SELECT id FROM audit_log ORDER BY audit_log.seq LIMIT 1'))[0]!.id, reason: 'hash_mismatch' }, name);
          assert.equal(result.records, 0, name);
          await restore();
        }
        assert.equal((await audit.verify()).broken, undefined, 'restored');
      } finally {
        await cleanup();
      }
    });

    it('never verifies without the right key: another secret fails, no key throws', async () => {
      const { db, cleanup } = await backend.open();
      try {
        const audit = sqlAuditStore(db, db, { keys });
        for (let i = 0; i < 3; i += 1) await audit.append(record(i));
        const other = await sqlAuditStore(db, db, { keys: auditKeys(`${testSecret}-rotated`) }).verify();
        assert.equal(other.broken?.reason, 'hash_mismatch');
        assert.equal(other.broken?.seq, await seqOf(db, 'true'));
        await assert.rejects(sqlAuditStore(db, db).verify(), /needs its keys/);
        await assert.rejects(sqlAuditStore(db, db).append(record(9)), /needs its keys/);
        assert.equal((await upgradeDatabase(db, auditKeys(`${testSecret}-rotated`), new Date())).rekeyed, undefined, 'a keyed chain under another key is never re-keyed');
      } finally {
        await cleanup();
      }
    });

    it('re-keys a legacy chain exactly once among concurrent callers; both parts verify and tampering with either is caught', async () => {
      const database = await legacyDatabase(backend, 10);
      const second: Db | undefined = database.reopen?.();
      try {
        const { db } = database;
        const stores: AuditStore[] = [db, db, second ?? db, second ?? db].map((on) => sqlAuditStore(on, on, { keys }));
        const results = await Promise.all([db, db, second ?? db, second ?? db].map((on) => upgradeDatabase(on, keys, new Date(Date.UTC(2030, 1, 1)))));
        const done = results.flatMap(({ rekeyed }) => rekeyed ?? []);
        assert.equal(done.length, 1, 'one anchor');
        const legacyHead = (await db.query<{ seq: string; hash: string }>('SELECT seq::text AS seq, hash FROM audit_log WHERE type = $1 ORDER BY audit_log.seq DESC LIMIT 1', ['login.failed']))[0]!;
        assert.deepEqual(
          { ...done[0]!, anchor: undefined },
          { legacyHeadSeq: Number(legacyHead.seq), legacyHeadHash: legacyHead.hash, legacyRecords: 10, legacyVerified: true, anchor: undefined },
        );
        assert.equal(done[0]!.anchor.type, 'audit.rekeyed');
        assert.equal(done[0]!.anchor.prevHash, legacyHead.hash);
        assert.equal((await upgradeDatabase(db, keys, new Date())).rekeyed, undefined, 'and never again');

        const audit = stores[0]!;
        for (let i = 20; i < 25; i += 1) await audit.append(record(i));
        const verified = await audit.verify();
        assert.equal(verified.broken, undefined);
        assert.equal(verified.records, 16);
        assert.equal(verified.legacyThrough, Number(legacyHead.seq));
        const rekeySeq = done[0]!.anchor.seq;
        const legacySeq = await seqOf(db, 'true');
        const keyedSeq = rekeySeq + 2;

        const restore = await snapshot(db);
        const tampers: Array<{ name: string; tamper: () => Promise<unknown>; seq: number; reason: string }> = [
          { name: 'a legacy record edited', tamper: () => db.query(`UPDATE audit_log SET ip = '192.0.2.1' WHERE seq = $1`, [legacySeq + 3]), seq: legacySeq + 3, reason: 'hash_mismatch' },
          {
            name: 'a legacy record edited and the legacy part re-linked with SHA-256',
            tamper: async () => {
              await db.query(`UPDATE audit_log SET ip = '192.0.2.1' WHERE seq = $1`, [legacySeq + 3]);
              await relinkAuditChain(db, { link: sha256Link });
            },
            seq: rekeySeq,
            reason: 'hash_mismatch',
          },
          { name: 'a keyed record edited', tamper: () => db.query(`UPDATE audit_log SET ip = '192.0.2.1' WHERE seq = $1`, [keyedSeq]), seq: keyedSeq, reason: 'hash_mismatch' },
          { name: 'a keyed record re-linked with SHA-256, marked legacy', tamper: async () => {
              await db.query(`UPDATE audit_log SET ip = '192.0.2.1', scheme = 'sha256' WHERE seq = $1`, [keyedSeq]);
              await relinkAuditChain(db, { link: sha256Link, fromSeq: keyedSeq });
            }, seq: keyedSeq, reason: 'hash_mismatch' },
          { name: 'the re-keying anchor deleted', tamper: () => db.query('DELETE FROM audit_log WHERE seq = $1', [rekeySeq]), seq: legacySeq, reason: 'hash_mismatch' },
        ];
        for (const { name, tamper, seq, reason } of tampers) {
          await tamper();
          const result = await audit.verify();
          assert.equal(result.broken?.seq, seq, name);
          assert.equal(result.broken?.reason, reason, name);
          await restore();
        }
        assert.equal((await audit.verify()).broken, undefined, 'restored');
        // An older instance still running cannot append the legacy way any more (no default scheme).
        await assert.rejects(appendLegacyAudit(db, record(40)), /scheme/);
        assert.equal((await upgradeDatabase(db, keys, new Date())).rekeyed, undefined);
        assert.equal((await audit.verify()).broken, undefined);
      } finally {
        await second?.close();
        await database.cleanup();
      }
    });

    it('a legacy chain that is already broken is re-keyed saying so, and still reported', async () => {
      const database = await legacyDatabase(backend, 6);
      try {
        const { db } = database;
        const edited = (await seqOf(db, 'true')) + 2;
        await db.query(`UPDATE audit_log SET ip = '192.0.2.1' WHERE seq = $1`, [edited]);
        const audit = sqlAuditStore(db, db, { keys });
        const { rekeyed: result } = await upgradeDatabase(db, keys, new Date());
        assert.equal(result?.legacyVerified, false);
        assert.equal(result?.legacyBrokenAt, edited);
        assert.equal(result?.anchor.severity, 'critical');
        assert.deepEqual((await audit.verify()).broken?.seq, edited);
      } finally {
        await database.cleanup();
      }
    });

    it('start-up re-keys a legacy chain, before anything is appended to it', async () => {
      const database = await legacyDatabase(backend, 4);
      const t = await startTestApp(backend, { db: database.db });
      try {
        const anchors = await database.db.query<{ seq: string }>(`SELECT seq::text AS seq FROM audit_log WHERE type = 'audit.rekeyed'`);
        assert.equal(anchors.length, 1);
        assert.equal(Number(anchors[0]!.seq), (await seqOf(database.db, 'true')) + 4);
        const verified = await t.stores.audit.verify();
        assert.equal(verified.broken, undefined);
        assert.equal(verified.legacyThrough, (await seqOf(database.db, 'true')) + 3);
        assert.equal((await upgradeDatabase(database.db, keys, new Date())).rekeyed, undefined, 'a restart finds it keyed');
      } finally {
        await t.close();
        await database.cleanup();
      }
    });
  });
}
