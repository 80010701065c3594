import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sqlAuditStore } from '../store/sql/audit-store.js';
import { testBackends, type TestDatabase } from '../test-support/databases.js';
import { testSecret } from '../test-support/config.js';
import { auditKeys } from './keys.js';
import { canonicalJson, genesisHash, keyedChainHash, legacyChainHash, type AuditRecord } from './record.js';
import type { AuditStore } from './store.js';

function record(i: number): AuditRecord {
  return {
    id: randomUUID(),
    at: new Date(Date.UTC(2030, 0, 1) + i * 1000),
    type: i % 2 === 0 ? 'login.succeeded' : 'login.failed',
    outcome: i % 2 === 0 ? 'success' : 'failure',
    userId: randomUUID(),
    sessionId: null,
    ip: '203.0.113.7',
    userAgent: '=HYPERLINK("http://evil.example")\u0007',
    requestId: `req-${i}`,
    severity: 'info',
    details: { reason: 'wrong password', nested: { z: 1, a: [1, 'two'] }, i },
  };
}

describe('canonical encoding', () => {
  it('sorts keys at every depth and drops undefined members', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [2, { y: 1, x: 2 }], c: undefined } }), '{"a":{"d":[2,{"x":2,"y":1}]},"b":1}');
    const r = record(1);
    const { chain } = auditKeys(testSecret);
    const reordered = { ...r, details: { i: 1, nested: { a: [1, 'two'], z: 1 }, reason: 'wrong password' } };
    for (const link of [legacyChainHash, (prev: string, rec: AuditRecord) => keyedChainHash(chain, prev, rec)]) {
      assert.equal(link(genesisHash, r), link(genesisHash, reordered));
      assert.notEqual(link(genesisHash, r), link('f'.repeat(64), r), 'the previous hash is part of it');
    }
    assert.notEqual(keyedChainHash(chain, genesisHash, r), legacyChainHash(genesisHash, r));
    assert.notEqual(keyedChainHash(chain, genesisHash, r), keyedChainHash(auditKeys(`${testSecret}-other`).chain, genesisHash, r), 'keyed by the secret');
  });
});

for (const backend of testBackends()) {
  describe(`hash-chained audit log (${backend.name})`, () => {
    let database: TestDatabase;
    let audit: AuditStore;
    before(async () => {
      database = await backend.open();
      audit = sqlAuditStore(database.db, database.db, { keys: auditKeys(testSecret) });
    });
    after(() => database.cleanup());

    it('chains concurrent appends in insertion order and verifies', async () => {
      await Promise.all(Array.from({ length: 40 }, (_, i) => audit.append(record(i))));
      const result = await audit.verify();
      const newest = (await database.db.query<{ seq: string; hash: string }>('SELECT seq::text AS seq, hash FROM audit_log ORDER BY audit_log.seq DESC LIMIT 1'))[0]!;
      assert.deepEqual(result, { records: 40, broken: undefined, head: { seq: Number(newest.seq), hash: newest.hash }, prunedThrough: undefined, prunedThroughHash: undefined, legacyThrough: undefined });
    });

    it('names the first record that was edited, deleted or moved', async () => {
      const seqs = (await database.db.query<{ seq: string }>('SELECT seq::text AS seq FROM audit_log ORDER BY seq')).map((row) => Number(row.seq));
      const at = (n: number) => seqs[n]!;

      await database.db.query(`UPDATE audit_log SET details = details || '{"reason":"ok"}' WHERE seq = $1`, [at(10)]);
      assert.deepEqual((await audit.verify()).broken, { seq: at(10), id: (await idOf(at(10))), reason: 'hash_mismatch' });
      await restore();

      await database.db.query('DELETE FROM audit_log WHERE seq = $1', [at(20)]);
      assert.deepEqual((await audit.verify()).broken, { seq: at(21), id: await idOf(at(21)), reason: 'link_broken' });

      // Moving records: swap everything but the position between two neighbours.
      await database.db.query(
        `UPDATE audit_log a SET at = b.at, type = b.type, outcome = b.outcome, user_id = b.user_id, details = b.details,
           request_id = b.request_id, prev_hash = b.prev_hash, hash = b.hash
         FROM (SELECT * FROM audit_log) b
         WHERE (a.seq = $1 AND b.seq = $2) OR (a.seq = $2 AND b.seq = $1)`,
        [at(5), at(6)],
      );
      assert.deepEqual((await audit.verify()).broken, { seq: at(5), id: await idOf(at(5)), reason: 'link_broken' });
    });

    async function idOf(seq: number): Promise<string> {
      return (await database.db.query<{ id: string }>('SELECT id FROM audit_log WHERE seq = $1', [seq]))[0]!.id;
    }

    /** Undo the edit of record 10 by re-hashing it honestly, so later checks see one tamper at a time. */
    async function restore(): Promise<void> {
      await database.db.query(`UPDATE audit_log SET details = details || '{"reason":"wrong password"}' WHERE details->>'reason' = 'ok'`);
      assert.equal((await audit.verify()).broken, undefined);
    }
  });
}
