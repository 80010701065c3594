import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { auditKeys } from '../audit/keys.js';
import type { AuditRecord } from '../audit/record.js';
import { sqlAuditStore } from '../store/sql/audit-store.js';
import { migrate } from '../store/sql/migrate.js';
import { openPgliteDb } from '../store/sql/pglite-db.js';
import { runCli } from '../test-support/process.js';

/* `tessera audit export` and `tessera audit verify` over the embedded database of a data directory. */

const t0 = Date.UTC(2030, 5, 1);

function record(i: number, userAgent: string): AuditRecord {
  return {
    id: randomUUID(),
    at: new Date(t0 + i * 60_000),
    type: i % 2 === 0 ? 'login.failed' : 'login.succeeded',
    outcome: i % 2 === 0 ? 'failure' : 'success',
    userId: null,
    sessionId: null,
    ip: '203.0.113.9',
    userAgent,
    requestId: `cli-${i}`,
    severity: 'info',
    details: { i },
  };
}

describe('tessera audit export / verify', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'tessera-audit-cli-'));
  const env = { TESSERA_SECRET: 'cli-test-secret-cli-test-secret-0123456789' };
  const agents = ['=HYPERLINK("http://x")', 'plain agent', '-2+3', 'quote " and, comma'];
  let head = '';

  before(async () => {
    const db = await openPgliteDb({ dataDir: join(cwd, '.tessera', 'pgdata') });
    try {
      await migrate(db);
      const audit = sqlAuditStore(db, db, { keys: auditKeys(env.TESSERA_SECRET) });
      for (const [i, agent] of agents.entries()) head = (await audit.append(record(i, agent))).hash;
    } finally {
      await db.close();
    }
  });
  after(() => rmSync(cwd, { recursive: true, force: true }));

  it('writes JSON Lines by default and neutralised CSV on request, filtered, to stdout', async () => {
    const jsonl = runCli(['audit', 'export'], { cwd, env });
    assert.equal(await jsonl.exited(), 0, jsonl.output());
    const records = jsonl.output().trimEnd().split('\n').map((line) => JSON.parse(line) as { user_agent: string; request_id: string });
    assert.deepEqual(records.map((r) => r.user_agent), agents, 'oldest first, exact');

    const csv = runCli(['audit', 'export', '--format', 'csv', '--type', 'login.failed', '--since', '2030-06-01T00:00:00Z'], { cwd, env });
    assert.equal(await csv.exited(), 0, csv.output());
    const lines = csv.output().split('\r\n');
    assert.equal(lines[0], 'id,seq,at,type,outcome,user_id,session_id,ip,user_agent,request_id,severity,details,prev_hash,hash');
    assert.equal(lines.length, 2 + 2, 'header, two records, and the empty rest after the last CRLF');
    assert.ok(lines[1]!.includes(`,"'=HYPERLINK(""http://x"")",cli-0,`), lines[1]);
    assert.ok(lines[2]!.includes(`,'-2+3,cli-2,`), lines[2]);
  });

  it('refuses bad options with exit code 2, naming the option, and the usage', async () => {
    for (const [args, message] of [
      [['--since', 'last week'], /--since must be an ISO-8601 time/],
      [['--format', 'xml'], /--format must be jsonl or csv/],
      [['--colour'], /Unknown option '--colour'/],
    ] as const) {
      const run = runCli(['audit', 'export', ...args], { cwd, env });
      assert.equal(await run.exited(), 2, run.output());
      assert.match(run.output(), message);
      assert.match(run.output(), /Usage: tessera audit export/);
      assert.doesNotMatch(run.output(), /\n\s+at /, 'no stack trace');
    }
  });

  it('prints the record count and the head hash to keep outside the database', async () => {
    const run = runCli(['audit', 'verify'], { cwd, env });
    assert.equal(await run.exited(), 0, run.output());
    assert.match(run.output(), new RegExp(`audit chain verified: ${agents.length} records\\nhead: #${agents.length} ${head}\\n`));
  });
});
