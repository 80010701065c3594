import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { auditKeys } from '../audit/keys.js';
import { genesisHash, legacyChainHash, type AuditRecord } from '../audit/record.js';
import { sqlAuditStore } from '../store/sql/audit-store.js';
import { appendLegacyAudit, migrateBeforeKeyedChain } from '../test-support/legacy-audit.js';
import { runCli } from '../test-support/process.js';
import { auditRecord, cliDatabases } from '../test-support/cli-databases.js';

describe('tessera audit verify reads only; accept-break and rekey repair, recorded (issue 10 review H2, M3)', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'tessera-cli-repair-'));
  after(() => rmSync(cwd, { recursive: true, force: true }));
  const secret = 'cli-repair-secret-cli-repair-secret-012345';

  for (const backend of cliDatabases(secret)) {
    it(`re-keys only in the upgrade run, never a chain laundered to look legacy; an operator's rekey and accept-break are recorded (${backend.name})`, async () => {
      const database = await backend.create();
      const cli = async (args: string[]) => {
        const run = runCli(args, { cwd, env: database.env });
        return { code: await run.exited(60_000), output: run.output() };
      };
      const anchors = async (type: string) => {
        const db = await database.open();
        try {
          return Number((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM audit_log WHERE type = $1', [type]))[0]!.n);
        } finally {
          await db.close();
        }
      };
      try {
        let db = await database.open();
        await migrateBeforeKeyedChain(db);
        for (let i = 0; i < 3; i += 1) await appendLegacyAudit(db, auditRecord(i));
        await db.close();

        // Every entry point migrates: the run that applies migration 009 re-keys, once, and says so.
        const upgraded = await cli(['audit', 'verify']);
        assert.equal(upgraded.code, 0, upgraded.output);
        assert.match(upgraded.output, /re-keyed at record #\d+ on .* by the upgrade to the keyed chain/);
        assert.equal(await anchors('audit.rekeyed'), 1);
        assert.equal((await cli(['migrate'])).code, 0);
        assert.equal(await anchors('audit.rekeyed'), 1, 'migrating again does not re-key');

        // Laundered: the anchor deleted, every link recomputed with SHA-256 and marked legacy.
        db = await database.open();
        await db.query(`DELETE FROM audit_log WHERE type = 'audit.rekeyed'`);
        let prev = genesisHash;
        for (const row of await db.query<{ seq: string; id: string; at: Date; type: string; outcome: AuditRecord['outcome']; ip: string | null; severity: AuditRecord['severity']; details: Record<string, unknown> }>('SELECT seq::text AS seq, id, at, type, outcome, ip, severity, details FROM audit_log ORDER BY seq')) {
          const hash = legacyChainHash(prev, { id: row.id, at: row.at, type: row.type, outcome: row.outcome, userId: null, sessionId: null, ip: row.ip, userAgent: null, requestId: null, severity: row.severity, details: row.details });
          await db.query(`UPDATE audit_log SET prev_hash = $1, hash = $2, scheme = 'sha256' WHERE seq = $3`, [prev, hash, row.seq]);
          prev = hash;
        }
        await db.close();
        for (const args of [['audit', 'verify'], ['migrate'], ['audit', 'verify']]) {
          const run = await cli(args);
          if (args[0] === 'audit') {
            assert.equal(run.code, 1, run.output);
            // All legacy and no valid re-key record: never "verified" (a keyed chain rewritten to look old).
            assert.match(run.output, /audit chain NOT VERIFIED: every record has an unkeyed SHA-256 link and no valid re-keying anchor/);
          }
        }
        assert.equal(await anchors('audit.rekeyed'), 0, 'neither verify nor migrate re-keyed it');

        const refused = await cli(['audit', 'rekey']);
        assert.equal(refused.code, 2);
        assert.match(refused.output, /tessera audit rekey --i-understand/);
        const rekeyed = await cli(['audit', 'rekey', '--i-understand']);
        assert.equal(rekeyed.code, 0, rekeyed.output);
        assert.match(rekeyed.output, /re-keyed by an operator at record #\d+/);
        const verified = await cli(['audit', 'verify']);
        assert.equal(verified.code, 0, verified.output);
        assert.match(verified.output, /written by an operator/);

        // A break investigated and accepted: verify passes and keeps naming it.
        db = await database.open();
        const audit = sqlAuditStore(db, db, { keys: auditKeys(secret) });
        await audit.append(auditRecord(10));
        const edited = (await audit.head())!.seq;
        await audit.append(auditRecord(11));
        await db.query(`UPDATE audit_log SET ip = '192.0.2.1' WHERE seq = $1`, [edited]);
        await db.close();
        const broken = await cli(['audit', 'verify']);
        assert.match(broken.output, new RegExp(`BROKEN at record #${edited} `));
        for (const args of [['audit', 'accept-break', String(edited)], ['audit', 'accept-break', 'x', '--reason', 'r'], ['audit', 'accept-break', String(edited), '--reason', ' ']]) {
          const bad = await cli(args);
          assert.equal(bad.code, 2, args.join(' '));
          assert.match(bad.output, /Usage: tessera audit accept-break SEQ --reason TEXT/, args.join(' '));
        }
        const elsewhere = await cli(['audit', 'accept-break', String(edited + 1), '--reason', 'wrong one']);
        assert.equal(elsewhere.code, 1);
        assert.match(elsewhere.output, new RegExp(`NOT accepted: the first break is at #${edited}`));
        const accepted = await cli(['audit', 'accept-break', String(edited), '--reason', 'restored from ticket 42']);
        assert.equal(accepted.code, 0, accepted.output);
        const after = await cli(['audit', 'verify']);
        assert.equal(after.code, 0, after.output);
        assert.match(after.output, new RegExp(`break ACCEPTED at record #${edited} \\(hash_mismatch\\) by record #\\d+: restored from ticket 42`));
      } finally {
        await database.cleanup();
      }
    });
  }
});
