import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openTessera } from '../app/create-tessera.js';
import { buildApp } from '../server/app.js';
import { cliDatabases } from '../test-support/cli-databases.js';
import { testConfig } from '../test-support/config.js';
import { deleteRedisKeys, redisUrl, uniquePrefix } from '../test-support/hot-state.js';
import { cliCommand, runCli } from '../test-support/process.js';

/*
 * `tessera users create|list|update|unlock|disable|enable|delete` (issue 12) through the built
 * binary, against the database a server would open; a Tessera opened here between runs signs the
 * users in, as a server over the same database (and the same Redis) would.
 */

const secret = 'cli-users-secret-cli-users-secret-0123456789';
const password = 'correct horse battery staple';

interface Listed {
  id: string;
  username: string;
  email: string | null;
  roles: string[];
  disabled: boolean;
  locked: boolean;
  locked_until: string | null;
  created_at: string;
}

/**
 * `tessera <args>` on a pseudo-terminal (util-linux `script`), answering each prompt once it is
 * shown: typed earlier, a terminal still in echo mode would print the answer itself.
 */
function runOnTerminal(args: string[], options: { cwd: string; env: Record<string, string> }) {
  const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, ...cliCommand(), ...args].map(quote).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', TERM: 'dumb', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  const waiting = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    for (const check of waiting) check();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return {
    output: () => output,
    /** Types `text` once the `count`-th occurrence of `prompt` is on the terminal. */
    async answer(prompt: string, text: string, count = 1) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "${prompt}" within 60 s:\n${output}`)), 60_000);
        const check = () => {
          if (output.split(prompt).length - 1 < count) return;
          waiting.delete(check);
          clearTimeout(timer);
          resolve();
        };
        waiting.add(check);
        check();
      });
      child.stdin.write(text);
    },
    async exited() {
      const code = await exit;
      child.stdin.end();
      return code;
    },
  };
}

const hasScript = process.platform === 'linux' && spawnSync('script', ['--version']).status === 0;

// The backends' runs at once: each mostly waits for its child processes.
describe('tessera users', { concurrency: true }, () => {
  const cwd = mkdtempSync(join(tmpdir(), 'tessera-cli-users-'));
  after(() => rmSync(cwd, { recursive: true, force: true }));

  it('answers wrong invocations with a usage error, exit 2, touching no database', async () => {
    const env = { TESSERA_SECRET: secret, TESSERA_DATA_DIR: join(cwd, 'never') };
    const cases: [string[], RegExp][] = [
      [['users'], /a command is required\n\nUsage: tessera users </],
      [['users', 'frob'], /unknown command "users frob"/],
      [['users', 'create'], /a USERNAME is required\n\nUsage: tessera users create/],
      [['users', 'create', 'x', '--password=hunter2hunter2'], /passwords are never taken from the command line[\s\S]*Usage: tessera users create/],
      [['users', 'create', 'x', '--password', 'hunter2hunter2'], /passwords are never taken from the command line/],
      [['users', 'create', 'x'], /no password: pipe it with --password-stdin, or run on a terminal/],
      [['users', 'list', '--disabled', '--enabled'], /exclude each other\n\nUsage: tessera users list/],
      [['users', 'list', '--limit', '0'], /--limit must be a positive integer/],
      [['users', 'list', '--colour'], /Unknown option '--colour'[\s\S]*Usage: tessera users list/],
      [['users', 'update', 'x'], /nothing to change\n\nUsage: tessera users update/],
      [['users', 'update', 'x', '--email', 'a@b.io', '--no-email'], /exclude each other/],
      [['users', 'disable'], /an ID or USERNAME is required\n\nUsage: tessera users disable/],
      [['users', 'unlock', 'a', 'b'], /unknown argument "b"/],
      [['users', 'delete', 'x'], /deleting needs --yes when not run on a terminal\n\nUsage: tessera users delete/],
    ];
    const runs = cases.map(([args]) => runCli(args, { cwd, env }));
    for (const [i, [args, message]] of cases.entries()) {
      assert.equal(await runs[i]!.exited(), 2, `${args.join(' ')}: ${runs[i]!.output()}`);
      assert.match(runs[i]!.output(), message, args.join(' '));
      assert.doesNotMatch(runs[i]!.output(), /hunter2|\n\s+at /, 'neither the password nor a stack');
    }
    const help = runCli(['users', 'create', '--help'], { cwd, env });
    assert.equal(await help.exited(), 0);
    assert.match(help.output(), /^Usage: tessera users create USERNAME[\s\S]*--password-stdin/);
  });

  it('asks for the password twice on a terminal without echo, and deletes nothing unless told yes', { skip: !hasScript && 'needs util-linux script' }, async () => {
    // Storage plays no part in prompting: one backend, PostgreSQL when there is one (quicker to open).
    const database = await cliDatabases(secret).at(-1)!.create({ migrated: true });
    try {
      const mismatch = runOnTerminal(['users', 'create', 'carol'], { cwd, env: database.env });
      await mismatch.answer('Password: ', 'first secret words here\r');
      await mismatch.answer('Password (again): ', 'other secret words here\r');
      assert.equal(await mismatch.exited(), 1, mismatch.output());
      assert.match(mismatch.output(), /tessera: the passwords do not match/);

      const created = runOnTerminal(['users', 'create', 'carol'], { cwd, env: database.env });
      await created.answer('Password: ', `${password}\r`);
      await created.answer('Password (again): ', `${password}\r`);
      assert.equal(await created.exited(), 0, created.output());
      assert.match(created.output(), /created user carol/);
      for (const run of [mismatch, created]) assert.doesNotMatch(run.output(), /secret words|horse/, 'nothing typed is echoed');

      const kept = runOnTerminal(['users', 'delete', 'carol'], { cwd, env: database.env });
      await kept.answer('? [y/N] ', 'n\r');
      assert.equal(await kept.exited(), 1, kept.output());
      assert.match(kept.output(), /tessera: not deleted/);
      const db = await database.open();
      try {
        assert.deepEqual(await db.query(`SELECT username FROM users`), [{ username: 'carol' }], 'not deleted without a yes');
      } finally {
        await db.close();
      }
    } finally {
      await database.cleanup();
    }
  });

  const backends = cliDatabases(secret);
  for (const backend of backends) {
    // What storage plays no part in (the password policy, an unknown name) is checked on one
    // backend: PostgreSQL when there is one, where commands run at once.
    const everything = backend.name === backends.at(-1)!.name;
    it(`creates, lists, promotes, unlocks, disables, enables and deletes users, as "cli" in the audit log (${backend.name})`, async () => {
      const database = await backend.create({ migrated: true });
      // Lockouts live in hot state: with Redis, the CLI and the Tessera opened here share them.
      const prefix = uniquePrefix();
      const env = { ...database.env, ...(redisUrl ? { REDIS_URL: redisUrl, TESSERA_REDIS_PREFIX: prefix } : {}) };
      const cli = async (args: string[], input?: string) => {
        const run = runCli(args, { cwd, env, ...(input === undefined ? {} : { input }) });
        const code = await run.exited(60_000);
        assert.doesNotMatch(run.output(), /\n\s+at /, `${args.join(' ')}: no stack trace`);
        return { code, output: run.output() };
      };
      type Login = (username: string, pw?: string, ip?: string) => Promise<{ status: number; body: Record<string, unknown> }>;
      /** A server over the same database and hot state, for the time of `work` (PGlite: one process at a time). */
      const server = async (work: (login: Login, refresh: (token: string) => Promise<number>) => Promise<void>) => {
        const { tessera } = await openTessera(testConfig({ ...env, TESSERA_LOCKOUT_THRESHOLD: '5' }));
        const app = await buildApp(tessera);
        try {
          await work(
            async (username, pw = password, ip = '127.0.0.1') => {
              const response = await app.inject({ method: 'POST', url: '/auth/login', payload: { username, password: pw }, remoteAddress: ip });
              return { status: response.statusCode, body: response.json() as Record<string, unknown> };
            },
            async (token) => (await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: token } })).statusCode,
          );
        } finally {
          await app.close();
          await tessera.close();
        }
      };
      // PGlite serves one process at a time; PostgreSQL runs independent commands at once.
      const together = async (runs: (() => Promise<{ code: number | null; output: string }>)[]) => {
        if (backend.name !== 'pglite') return Promise.all(runs.map((run) => run()));
        const results = [];
        for (const run of runs) results.push(await run());
        return results;
      };
      // Bob signs in from one network, and a stranger fails his password from another: only the
      // stranger's lane (the shared one of his username) locks (docs/adr/006).
      const home = '203.0.113.9';
      const stranger = '198.51.100.7';
      try {
        // The first run alone: it migrates the new database.
        const created = await cli(['users', 'create', 'Alice', '--email', 'Alice@Example.com', '--role', 'editor', '--password-stdin'], `${password}\n`);
        assert.equal(created.code, 0, created.output);
        assert.match(created.output, /^created user alice \([0-9a-f-]{36}\)\n$/);
        const [bob, stray, promoted, weak] = await together([
          () => cli(['users', 'create', 'bob', '--password-stdin'], password),
          () => cli(['users', 'create', 'eve', `--password=${password}`]),
          () => cli(['users', 'update', 'ALICE', '--add-role', 'admin']),
          ...(everything ? [() => cli(['users', 'create', 'weakling', '--password-stdin'], 'short pw\n')] : []),
        ]);
        assert.equal(bob!.code, 0, bob!.output);
        assert.equal(stray!.code, 2, stray!.output);
        assert.equal(promoted!.code, 0, promoted!.output);
        if (weak) {
          assert.equal(weak.code, 1, weak.output);
          assert.match(weak.output, /^tessera: The password must be at least 12 characters long[^\n]*\n {2}too_short\n/);
        }
        assert.match(promoted!.output, /^updated user alice \(.*\): roles editor,admin, permissions -, email alice@example\.com\n$/);

        let bobRefresh = '';
        await server(async (login) => {
          const alice = await login('alice');
          assert.equal(alice.status, 200, 'signs in with the password read from stdin');
          assert.deepEqual((alice.body.user as { roles: string[] }).roles, ['editor', 'admin']);
          const signedIn = await login('bob', password, home);
          assert.equal(signedIn.status, 200);
          bobRefresh = signedIn.body.refresh_token as string;
          if (!redisUrl) return;
          for (let i = 0; i < 5; i += 1) assert.equal((await login('bob', 'not the password at all', stranger)).status, 401);
          assert.equal((await login('bob', password, stranger)).status, 429, 'bob is locked out');
        });

        // Lockouts live in hot state: without Redis, the lock never left the process that held it.
        const [listed, table] = await together([() => cli(['users', 'list', '--json']), () => cli(['users', 'list', ...(redisUrl ? ['--locked'] : ['--q', 'B'])])]);
        assert.equal(listed!.code, 0, listed!.output);
        const rows = listed!.output.trim().split('\n').map((line) => JSON.parse(line) as Listed);
        assert.deepEqual(rows.map((row) => row.username), ['alice', 'bob'], 'neither the weak nor the argv password created anyone');
        assert.deepEqual([rows[0]!.email, rows[0]!.roles, rows[0]!.disabled, rows[0]!.locked], ['alice@example.com', ['editor', 'admin'], false, false]);
        assert.doesNotMatch(listed!.output, /argon2|password/i);
        const [aliceId, bobId] = [rows[0]!.id, rows[1]!.id];
        assert.equal(table!.code, 0, table!.output);
        const [header, ...lines] = table!.output.trim().split('\n');
        assert.equal(header, 'ID\tUSERNAME\tEMAIL\tROLES\tDISABLED\tLOCKED\tCREATED');
        assert.deepEqual(lines.map((line) => line.split('\t').slice(0, 5)), [[bobId, 'bob', '-', '-', 'no']]);
        assert.equal(lines[0]!.split('\t')[6], rows[1]!.created_at);
        assert.equal(rows[1]!.locked, Boolean(redisUrl));
        assert.match(lines[0]!.split('\t')[5]!, redisUrl ? /^until \d{4}-\d\d-\d\dT[\d:.]+Z$/ : /^no$/);

        const unlocked = await cli(['users', 'unlock', bobId]);
        assert.deepEqual([unlocked.code, unlocked.output], [0, `unlocked user bob (${bobId}): every lock lifted\n`]);
        const disabled = await cli(['users', 'disable', 'bob']);
        assert.equal(disabled.code, 0, disabled.output);
        assert.match(disabled.output, /^disabled user bob \(.*\): every session and token revoked\n$/);
        assert.equal((await cli(['users', 'enable', 'bob'])).code, 0);
        await server(async (login, refresh) => {
          assert.equal(await refresh(bobRefresh), 401, 'the disable ended the session (the enable does not bring it back)');
          assert.equal((await login('bob', password, stranger)).status, 200, 'unlocked and enabled, bob signs in');
        });

        const [demote, deleted, unknown] = await together([
          // The last enabled admin stays one, from the CLI too.
          () => cli(['users', 'update', 'alice', '--remove-role', 'admin']),
          () => cli(['users', 'delete', 'bob', '--yes']),
          ...(everything ? [() => cli(['users', 'disable', 'nobody'])] : []),
        ]);
        assert.deepEqual([demote!.code, demote!.output], [1, 'tessera: This is the last enabled admin: promote another user first.\n']);
        assert.deepEqual([deleted!.code, deleted!.output], [0, `deleted user bob (${bobId})\n`]);
        if (unknown) assert.deepEqual([unknown.code, unknown.output], [1, 'tessera: no such user "nobody"\n']);

        const db = await database.open();
        try {
          const recordsOf = async (userId: string) =>
            (
              await db.query<{ type: string; details: Record<string, unknown> }>(
                `SELECT type, details FROM audit_log WHERE user_id = $1 AND (type LIKE 'user.%' OR type = 'session.revoked') AND type <> 'user.locked' ORDER BY seq`,
                [userId],
              )
            ).map((record) => [record.type, record.details.by ?? record.details.reason ?? null]);
          assert.deepEqual(await recordsOf(aliceId), [
            ['user.created', 'cli'],
            ['user.updated', 'cli'],
          ]);
          assert.deepEqual(await recordsOf(bobId), [
            ['user.created', 'cli'],
            ['user.updated', 'cli'],
            ['user.unlocked', null],
            ['user.disabled', 'cli'],
            // Disabling ended bob's session.
            ['session.revoked', 'user_disabled'],
            ['user.enabled', 'cli'],
            ['user.disabled', 'cli'],
            ['session.revoked', 'user_disabled'],
            ['user.deleted', 'cli'],
          ]);
          const [{ users }] = await db.query<{ users: number }>(`SELECT count(*)::int AS users FROM users`) as [{ users: number }];
          assert.equal(users, 1, 'only alice is left');
        } finally {
          await db.close();
        }
      } finally {
        await database.cleanup();
        if (redisUrl) await deleteRedisKeys(redisUrl, prefix);
      }
    });
  }
});
