import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../../test-support/process.js';
import { DataDirLockedError } from './data-dir-lock.js';
import { openPgliteDb } from './pglite-db.js';

/* Issue 11 item 6: one process at a time on the embedded data directory. */

const secret = 'data-dir-lock-secret-data-dir-lock-secret-0';

function lockOf(dataDir: string): { pid: number; host: string; boot?: string; started?: string; nonce: string } {
  return JSON.parse(readFileSync(`${dataDir}.lock`, 'utf8'));
}

/** A PID that was alive a moment ago and is not any more. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

const bootId = existsSync('/proc/sys/kernel/random/boot_id') ? readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() : undefined;

describe('embedded data directory lock', () => {
  const root = mkdtempSync(join(tmpdir(), 'tessera-lock-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  /** A data directory made once and copied for each case: the lock is under test, not initdb (~3 s each). */
  let made: Promise<string> | undefined;
  async function existingDataDir(dataDir: string): Promise<void> {
    made ??= (async () => {
      const first = join(root, 'made-once', 'pgdata');
      await openPgliteDb({ dataDir: first }).then((db) => db.close());
      return first;
    })();
    cpSync(await made, dataDir, { recursive: true });
  }

  it('refuses a second process (a CLI command while Tessera runs) with one line naming the PID and the directory, exit 1', async () => {
    const dir = join(root, 'held');
    const db = await openPgliteDb({ dataDir: join(dir, 'pgdata') });
    try {
      await db.exec('CREATE TABLE marker (id int)');
      for (const args of [['migrate'], ['audit', 'verify'], ['audit', 'export'], ['serve']]) {
        const run = runCli(args, { cwd: root, env: { TESSERA_DATA_DIR: dir, TESSERA_SECRET: secret, PORT: '0', TESSERA_LOG_LEVEL: 'error' } });
        assert.equal(await run.exited(60_000), 1, `${args.join(' ')}: ${run.output()}`);
        const lines = run.output().trim().split('\n');
        assert.equal(lines.length, 1, `${args.join(' ')}: one line, no stack: ${run.output()}`);
        assert.equal(lines[0], `tessera: the data directory ${join(dir, 'pgdata')} is in use by process ${process.pid}; stop it first, or use DATABASE_URL (PostgreSQL) to run several processes`);
      }
      // The holder was not disturbed: its schema is as it left it (no migrations by the refused ones).
      assert.deepEqual(await db.query(`SELECT to_regclass('tessera_migrations') AS t`), [{ t: null }]);
      await assert.rejects(openPgliteDb({ dataDir: join(dir, 'pgdata') }), (error: unknown) => error instanceof DataDirLockedError && error.pid === process.pid);
    } finally {
      await db.close();
    }
    assert.ok(!existsSync(join(dir, 'pgdata.lock')), 'released on close');
    const later = runCli(['migrate'], { cwd: root, env: { TESSERA_DATA_DIR: dir, TESSERA_SECRET: secret } });
    assert.equal(await later.exited(60_000), 0, later.output());
    assert.ok(!existsSync(join(dir, 'pgdata.lock')), 'the command released it');
  });

  it('releases the lock when the process exits without closing', async () => {
    const dataDir = join(root, 'exit', 'pgdata');
    await existingDataDir(dataDir);
    const script = `import { openPgliteDb } from ${JSON.stringify(new URL('./pglite-db.ts', import.meta.url).href)};
await openPgliteDb({ dataDir: ${JSON.stringify(dataDir)} });
process.stdout.write('open');
process.exit(0);`;
    const child = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout, 'open');
    assert.ok(!existsSync(`${dataDir}.lock`));
  });

  const stale: Array<{ name: string; owner: () => Record<string, unknown>; taken: boolean; message?: RegExp }> = [
    { name: 'a dead PID', owner: () => ({ pid: deadPid(), host: hostname(), ...(bootId ? { boot: bootId } : {}) }), taken: true },
    { name: 'this PID, not holding it (a restarted container)', owner: () => ({ pid: process.pid, host: hostname(), ...(bootId ? { boot: bootId } : {}) }), taken: true },
    ...(bootId
      ? [
          { name: 'a live PID of another boot', owner: () => ({ pid: process.ppid, host: hostname(), boot: randomUUID() }), taken: true },
          { name: 'a live PID that started at another time (reused)', owner: () => ({ pid: process.ppid, host: hostname(), boot: bootId, started: '1' }), taken: true },
        ]
      : []),
    { name: 'a live PID', owner: () => ({ pid: process.ppid, host: hostname(), ...(bootId ? { boot: bootId } : {}) }), taken: false, message: new RegExp(`in use by process ${process.ppid};`) },
    { name: 'another host', owner: () => ({ pid: 4242, host: 'elsewhere.example', boot: randomUUID() }), taken: false, message: /in use by process 4242 on host elsewhere\.example \(remove .*pgdata\.lock if it no longer runs\)/ },
    { name: 'an unreadable lock', owner: () => ({ garbage: true }), taken: false, message: /in use by process 0 on host unknown/ },
  ];
  for (const [i, { name, owner, taken, message }] of stale.entries()) {
    it(`${taken ? 'takes over' : 'refuses'} a lock left by ${name}`, async () => {
      const dataDir = join(root, `stale-${i}`, 'pgdata');
      const before = { nonce: randomUUID(), ...owner() };
      await existingDataDir(dataDir);
      writeFileSync(`${dataDir}.lock`, JSON.stringify(before));
      if (!taken) {
        await assert.rejects(openPgliteDb({ dataDir }), (error: unknown) => error instanceof DataDirLockedError && message!.test(error.message));
        assert.deepEqual(JSON.parse(readFileSync(`${dataDir}.lock`, 'utf8')), before, 'left as it was');
        return;
      }
      const db = await openPgliteDb({ dataDir });
      try {
        assert.equal(lockOf(dataDir).pid, process.pid);
        assert.notEqual(lockOf(dataDir).nonce, before.nonce);
        await db.query('SELECT 1');
      } finally {
        await db.close();
      }
      assert.ok(!existsSync(`${dataDir}.lock`));
    });
  }
});
