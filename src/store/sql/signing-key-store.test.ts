import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateSigningKey } from '../../keys/generate.js';
import type { SigningKeyRecord } from '../../keys/signing-key.js';
import { testBackends } from '../../test-support/databases.js';
import { sqlSigningKeyStore } from './signing-key-store.js';

/* The scheduling methods of SigningKeyStore (migration 010) and their concurrency promises. */

const t0 = Date.UTC(2031, 0, 1);
const at = (ms: number) => new Date(t0 + ms);

async function record(status: 'active' | 'next', activatedAt: Date): Promise<SigningKeyRecord> {
  const key = await generateSigningKey('EdDSA');
  // Rows only: the store never opens the seal.
  return { kid: key.kid, alg: 'EdDSA', publicJwk: key.publicJwk, privateKeySealed: 'v1.x.y', status, createdAt: at(0), activatedAt, retiredAt: null, publishUntil: null };
}

for (const backend of testBackends()) {
  describe(`SigningKeyStore scheduling (${backend.name})`, () => {
    it('admits one waiting key: of concurrent insertNext calls exactly one wins; a rotation not due inserts nothing', async () => {
      const database = await backend.open();
      const other = database.reopen?.() ?? database.db;
      try {
        const first = sqlSigningKeyStore(database.db);
        const second = sqlSigningKeyStore(other);
        const active = await record('active', at(0));
        assert.equal(await first.insertActiveIfNone(active), true);
        const [a, b] = await Promise.all([record('next', at(1000)), record('next', at(1000))]);
        const won = await Promise.all([
          database.db.transaction((tx) => sqlSigningKeyStore(tx).insertNext(a!, at(0))),
          other.transaction((tx) => sqlSigningKeyStore(tx).insertNext(b!, at(0))),
        ]);
        assert.deepEqual(won.filter(Boolean).length, 1, won.join(', '));
        // Not due: a key activates after the cutoff (the one just inserted), whatever the index says.
        await first.settle(at(2000));
        const late = await record('next', at(5000));
        assert.equal(await second.insertNext(late, at(500)), false);
        assert.equal((await first.listAll(10)).length, 2);
      } finally {
        if (other !== database.db) await other.close();
        await database.cleanup();
      }
    });

    it('derives publication from the schedule and settles statuses once, whoever calls', async () => {
      const database = await backend.open();
      try {
        const store = sqlSigningKeyStore(database.db);
        const old = await record('active', at(0));
        const next = await record('next', at(10_000));
        await store.insertActiveIfNone(old);
        assert.equal(await store.insertNext(next), true);
        await store.scheduleRetirement(old.kid, at(10_000), at(20_000));
        const kids = async (ms: number) => (await store.listPublished(at(ms))).map((key) => key.kid).sort();
        assert.deepEqual(await kids(5_000), [old.kid, next.kid].sort());
        // Past publish_until, gone even while its row still says active (no one settled yet).
        assert.deepEqual(await kids(20_001), [next.kid]);
        await Promise.all([store.settle(at(5_000)), store.settle(at(5_000))]);
        assert.deepEqual((await store.listAll(10)).map((key) => key.status).sort(), ['active', 'next'], 'nothing due yet');
        await Promise.all([database.db.transaction((tx) => sqlSigningKeyStore(tx).settle(at(10_000))), store.settle(at(10_000))]);
        const rows = await store.listAll(10);
        assert.deepEqual(Object.fromEntries(rows.map((key) => [key.kid, key.status])), { [old.kid]: 'retired', [next.kid]: 'active' });
        // No key waits now, but the active one activated after the cutoff: not due, nothing inserted.
        assert.equal(await store.insertNext(await record('next', at(30_000)), at(9_999)), false);
        // A new next key may wait again once the earlier one was settled.
        assert.equal(await store.insertNext(await record('next', at(30_000))), true);
      } finally {
        await database.cleanup();
      }
    });
  });
}
