import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sqlAuditStore } from '../store/sql/audit-store.js';
import { testSecret } from '../test-support/config.js';
import { testBackends, type TestDatabase } from '../test-support/databases.js';
import { auditKeys } from './keys.js';
import { csvCell, csvLine } from './export.js';
import type { AuditRecord, ChainedAuditRecord } from './record.js';
import type { AuditStore } from './store.js';

/* The AuditStore's reads: list (newest first), scan (exports), listAfter (live stream), head. */

function record(i: number): AuditRecord {
  return {
    id: randomUUID(),
    at: new Date(Date.UTC(2030, 0, 1) + i * 1000),
    type: i % 3 === 0 ? 'session.revoked' : 'login.succeeded',
    outcome: 'success',
    userId: null,
    sessionId: null,
    ip: null,
    userAgent: null,
    requestId: null,
    severity: 'info',
    details: { i },
  };
}

const seqs = (records: readonly ChainedAuditRecord[]) => records.map((r) => r.seq);

describe('CSV cells (RFC 4180, OWASP CSV injection)', () => {
  it('prefixes formula starts with a quote mark and quotes what needs quoting', () => {
    const cases: Array<[string, string]> = [
      ['plain', 'plain'],
      ['', ''],
      ['=1+1', `'=1+1`],
      ['+1', `'+1`],
      ['-1', `'-1`],
      ['@A1', `'@A1`],
      ['\tx', `"'\tx"`],
      ['\rx', `"'\rx"`],
      ['a,b', '"a,b"'],
      ['say "hi"', '"say ""hi"""'],
      ['line\nbreak', '"line\nbreak"'],
      ['=HYPERLINK("http://x")', `"'=HYPERLINK(""http://x"")"`],
      ['1-1', '1-1'],
      [' =1', ' =1'],
      // A `;` or TAB separates cells in some locales: such a cell is quoted so no part starts a formula.
      ["Mozilla;=cmd|' /C calc'!A0;", `"Mozilla;=cmd|' /C calc'!A0;"`],
      ['a;b', '"a;b"'],
      ['a\t=1', '"a\t=1"'],
      ['\t=1', `"'\t=1"`],
      ['=1;2', `"'=1;2"`],
    ];
    for (const [value, expected] of cases) assert.equal(csvCell(value), expected, JSON.stringify(value));
    assert.equal(csvLine(['a', '=b', 'c,d']), `a,'=b,"c,d"\r\n`);
    assert.equal(csvLine(['x;=1', 'y']), `"x;=1",y\r\n`);
  });
});

for (const backend of testBackends()) {
  describe(`audit store reads (${backend.name})`, () => {
    let database: TestDatabase;
    let audit: AuditStore;
    let all: ChainedAuditRecord[];
    before(async () => {
      database = await backend.open();
      audit = sqlAuditStore(database.db, database.db, { keys: auditKeys(testSecret) });
      assert.equal(await audit.head(), undefined);
      all = [];
      for (let i = 0; i < 12; i += 1) all.push(await audit.append(record(i)));
    });
    after(() => database.cleanup());

    it('listAfter: ascending, strictly after the seq given, at most limit', async () => {
      assert.deepEqual(seqs(await audit.listAfter(0, 100)), seqs(all));
      assert.deepEqual(seqs(await audit.listAfter(all[3]!.seq, 4)), seqs(all.slice(4, 8)));
      assert.deepEqual(await audit.listAfter(all[11]!.seq, 10), []);
      const [next] = await audit.listAfter(all[9]!.seq, 1);
      assert.deepEqual(next, all[10], 'the whole record, as appended');
    });

    it('scan: ascending within (afterSeq, throughSeq], filtered; list: descending before a seq', async () => {
      const revoked = all.filter((r) => r.type === 'session.revoked');
      assert.deepEqual(seqs(await audit.scan({ type: 'session.revoked' }, { afterSeq: 0, limit: 100 })), seqs(revoked));
      assert.deepEqual(seqs(await audit.scan({}, { afterSeq: all[1]!.seq, throughSeq: all[4]!.seq, limit: 100 })), seqs(all.slice(2, 5)));
      assert.deepEqual(seqs(await audit.list({}, { limit: 3 })), seqs(all.slice(9).reverse()));
      assert.deepEqual(seqs(await audit.list({}, { limit: 3, beforeSeq: all[9]!.seq })), seqs(all.slice(6, 9).reverse()));
      assert.deepEqual(
        seqs(await audit.list({ since: all[2]!.at, until: all[6]!.at }, { limit: 100 })),
        seqs(all.slice(2, 6).reverse()),
        'since inclusive, until exclusive',
      );
      assert.deepEqual(await audit.head(), { seq: all[11]!.seq, hash: all[11]!.hash });
    });
  });
}
