import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { currentSignedHead } from '../audit/head.js';
import { auditKeys } from '../audit/keys.js';
import { sqlAuditStore } from '../store/sql/audit-store.js';
import { appendLegacyAudit, migrateBeforeKeyedChain } from '../test-support/legacy-audit.js';
import { runCli } from '../test-support/process.js';
import { auditRecord, cliDatabases } from '../test-support/cli-databases.js';

describe('tessera audit verify --expect-head', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'tessera-cli-head-'));
  after(() => rmSync(cwd, { recursive: true, force: true }));
  const secret = 'cli-head-secret-cli-head-secret-0123456789';
  const keys = auditKeys(secret);

  it('answers usage, exit 2, for a malformed argument', async () => {
    for (const args of [['--expect-head'], ['--expect-head', '12'], ['--expect-head', `12:${'a'.repeat(63)}`], ['--expect-head', `1:${'a'.repeat(64)}`, 'extra']]) {
      const run = runCli(['audit', 'verify', ...args], { cwd, env: { TESSERA_SECRET: secret } });
      assert.equal(await run.exited(), 2, args.join(' '));
      assert.match(run.output(), /Usage: tessera audit verify \[--expect-head/, args.join(' '));
    }
  });

  for (const backend of cliDatabases(secret)) {
    it(`keys a legacy chain by \`tessera migrate\`, then passes on the true head and fails on truncation, a wrong hash or a forged signed head (${backend.name})`, async () => {
      const database = await backend.create();
      const cli = async (args: string[]) => {
        const run = runCli(args, { cwd, env: database.env });
        return { code: await run.exited(60_000), output: run.output() };
      };
      try {
        let db = await database.open();
        await migrateBeforeKeyedChain(db);
        for (let i = 0; i < 5; i += 1) await appendLegacyAudit(db, auditRecord(i));
        const legacyHead = Number((await db.query<{ seq: string }>('SELECT max(seq)::text AS seq FROM audit_log'))[0]!.seq);
        await db.close();

        const migrated = await cli(['migrate']);
        assert.equal(migrated.code, 0, migrated.output);
        assert.match(migrated.output, new RegExp(`audit chain re-keyed at record #\\d+ \\(an incident was raised\\): legacy records up to #${legacyHead} verified with SHA-256`));

        db = await database.open();
        const audit = sqlAuditStore(db, db, { keys });
        for (let i = 10; i < 14; i += 1) await audit.append(auditRecord(i));
        const head = (await audit.head())!;
        const signed = (await currentSignedHead(audit, keys, Date.UTC(2030, 0, 2)))!;
        await db.close();

        const intact = await cli(['audit', 'verify', '--expect-head', `${head.seq}:${head.hash}`]);
        assert.equal(intact.code, 0, intact.output);
        assert.match(intact.output, /audit chain verified: 10 records/);
        assert.match(intact.output, new RegExp(`records up to #${legacyHead} were written before the chain was keyed and verify with unkeyed SHA-256 only`));
        assert.match(intact.output, /expected head .* is in the chain/);
        const bySignature = await cli(['audit', 'verify', `--expect-head=${signed.token}`]);
        assert.equal(bySignature.code, 0, bySignature.output);

        const wrong = await cli(['audit', 'verify', '--expect-head', `${head.seq}:${'e'.repeat(64)}`]);
        assert.equal(wrong.code, 1, wrong.output);
        assert.match(wrong.output, /expected head NOT FOUND: .*rewritten/);
        const [seq, hash, ms, mac] = signed.token.split(':') as [string, string, string, string];
        const forged = await cli(['audit', 'verify', '--expect-head', `${seq}:${hash}:${Number(ms) + 60_000}:${mac}`]);
        assert.equal(forged.code, 1, forged.output);
        assert.match(forged.output, /expected head REFUSED: its signature does not verify/);

        // The newest records are deleted: the rest still verifies, the recorded head does not.
        db = await database.open();
        await db.query('DELETE FROM audit_log WHERE seq > $1', [head.seq - 2]);
        await db.close();
        const truncated = await cli(['audit', 'verify', '--expect-head', signed.token]);
        assert.equal(truncated.code, 1, truncated.output);
        assert.match(truncated.output, /audit chain verified: 8 records/);
        assert.match(truncated.output, new RegExp(`expected head NOT FOUND: expected head #${head.seq} .* the chain ends at #${head.seq - 2}, so its newest records were removed`));
      } finally {
        await database.cleanup();
      }
    });
  }
});

