import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { currentSignedHead } from '../audit/head.js';
import { auditKeys } from '../audit/keys.js';
import { genesisHash, legacyChainHash, type AuditRecord } from '../audit/record.js';
import { sqlAuditStore } from '../store/sql/audit-store.js';
import type { Db } from '../store/sql/db.js';
import { openPgliteDb } from '../store/sql/pglite-db.js';
import { appendLegacyAudit, migrateBeforeKeyedChain } from '../test-support/legacy-audit.js';
import { openPostgresDb } from '../store/sql/postgres-db.js';
import { databaseUrl, uniqueSchema, withAdminPool } from '../test-support/databases.js';
import { runCli } from '../test-support/process.js';

function auditRecord(i: number): AuditRecord {
  return { id: randomUUID(), at: new Date(Date.UTC(2030, 0, 1) + i * 1000), type: 'login.failed', outcome: 'failure', userId: null, sessionId: null, ip: '203.0.113.66', userAgent: null, requestId: null, severity: 'low', details: { i } };
}

/** A database the CLI opens from its environment, and the same database opened here between runs. */
interface CliDatabase {
  env: Record<string, string>;
  open(): Promise<Db>;
  cleanup(): Promise<void>;
}

function cliDatabases(secret: string): Array<{ name: string; create(): Promise<CliDatabase> }> {
  const pglite = {
    name: 'pglite',
    async create(): Promise<CliDatabase> {
      const dir = mkdtempSync(join(tmpdir(), 'tessera-cli-audit-'));
      return {
        env: { TESSERA_SECRET: secret, TESSERA_DATA_DIR: dir },
        open: () => openPgliteDb({ dataDir: join(dir, 'pgdata') }),
        cleanup: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  };
  if (!databaseUrl) return [pglite];
  const url = databaseUrl;
  const postgres = {
    name: 'postgres',
    async create(): Promise<CliDatabase> {
      const schema = uniqueSchema();
      await withAdminPool(url, (pool) => pool.query(`CREATE SCHEMA ${schema}`));
      const separator = url.includes('?') ? '&' : '?';
      return {
        env: { TESSERA_SECRET: secret, DATABASE_URL: `${url}${separator}options=${encodeURIComponent(`-c search_path=${schema}`)}` },
        open: async () => openPostgresDb({ connectionString: url, schema }),
        cleanup: async () => {
          await withAdminPool(url, (pool) => pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
        },
      };
    },
  };
  return [pglite, postgres];
}

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
