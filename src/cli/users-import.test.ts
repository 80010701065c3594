import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createPasswordHasher } from '../passwords/hasher.js';
import { cliDatabases } from '../test-support/cli-databases.js';
import { runCli } from '../test-support/process.js';

/* `tessera users import FILE [--dry-run]` through the tessera binary, against the database (issue 12). */

// Vectors of src/passwords/legacy-hashes.test.ts, with the passwords they were made from.
const users = [
  { username: 'cli-bcrypt', password_hash: '$2b$05$x7hm8QA6CKts.Tm0TaXfJ.CZ9DGOz.MmEIzkm50ljYu4J0wksRd.m', password: 'imported secret' },
  { username: 'cli-django', password_hash: 'pbkdf2_sha256$20000$seasalt2024$uYOY0778iSRCPb8ikLr2LTYeRWCkPkVJqDkKIUwctgU=', password: 'lètmein correct horse' },
  { username: 'cli-argon2', password_hash: '$argon2id$v=19$m=7168,t=5,p=1$a2V5Y2xvYWstc2FsdC0xNg$yUY8DYovEPiclANHikGE324Mu141CyVwhGc8ikrEg6M', password: 'lètmein correct horse' },
] as const;

describe('tessera users import', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'tessera-cli-import-'));
  after(() => rmSync(cwd, { recursive: true, force: true }));
  const secret = 'cli-import-secret-cli-import-secret-0123456';
  const good = users.map(({ username, password_hash }) => JSON.stringify({ username, password_hash, roles: ['reader'] }));
  const goodFile = join(cwd, 'good.jsonl');
  const mixedFile = join(cwd, 'mixed.jsonl');
  writeFileSync(goodFile, `${good.join('\n')}\n`);
  writeFileSync(mixedFile, [good[0], '{oops', good[1], JSON.stringify({ username: 'cli-plain', password: 'never from a file' }), good[2]].join('\n'));

  it('answers a wrong invocation with its usage, exit 2, and --help with it, exit 0', async () => {
    for (const [args, message] of [
      [['users', 'import'], /a FILE is required\n\nUsage: tessera users import FILE \[--dry-run\]/],
      [['users', 'import', 'a.jsonl', 'b.jsonl'], /unknown argument "b.jsonl"\n\nUsage: tessera users import/],
      [['users', 'import', 'a.jsonl', '--frob'], /--frob/],
    ] as const) {
      const run = runCli([...args], { cwd, env: { TESSERA_SECRET: secret, TESSERA_DATA_DIR: join(cwd, 'never') } });
      assert.equal(await run.exited(), 2, run.output());
      assert.match(run.output(), message);
    }
    const help = runCli(['users', 'import', '--help'], { cwd, env: {} });
    assert.equal(await help.exited(), 0);
    assert.match(help.output(), /^Usage: tessera users import FILE \[--dry-run\]/);
    assert.match(help.output(), /3 some lines refused/);
  });

  for (const backend of cliDatabases(secret)) {
    it(`dry-runs, imports the good lines (exit 3 for the broken ones), re-runs idempotently (exit 0) and audits (${backend.name})`, async () => {
      const database = await backend.create({ migrated: true });
      const cli = async (args: string[]) => {
        const run = runCli(args, { cwd, env: database.env });
        return { code: await run.exited(60_000), output: run.output() };
      };
      try {
        const dry = await cli(['users', 'import', mixedFile, '--dry-run']);
        assert.equal(dry.code, 3, dry.output);
        assert.equal(dry.output, 'line 2\trefused\tinvalid_json\nline 4\trefused\tplaintext_password\ndry run: would create 3, skipped 0, refused 2\n');

        const real = await cli(['users', 'import', mixedFile]);
        assert.equal(real.code, 3, real.output);
        assert.match(real.output, /^line 2\trefused\tinvalid_json\nline 4\trefused\tplaintext_password\ncreated 3, skipped 0, refused 2\n$/);
        assert.doesNotMatch(real.output, /\$2b\$|pbkdf2|argon2|never from a file/);

        const again = await cli(['users', 'import', goodFile]);
        assert.equal(again.code, 0, again.output);
        assert.equal(again.output, 'line 1\tskipped\texists\tcli-bcrypt\nline 2\tskipped\texists\tcli-django\nline 3\tskipped\texists\tcli-argon2\ncreated 0, skipped 3, refused 0\n');

        const missing = await cli(['users', 'import', join(cwd, 'missing.jsonl')]);
        assert.equal(missing.code, 1, missing.output);
        assert.match(missing.output, /^tessera: cannot read .*missing\.jsonl \(ENOENT\)\n$/);
        const empty = join(cwd, `empty-${backend.name}.jsonl`);
        writeFileSync(empty, '\n\n');
        const none = await cli(['users', 'import', empty]);
        assert.equal(none.code, 1, none.output);
        assert.match(none.output, /^tessera: .*holds no lines/);

        const db = await database.open();
        try {
          const hasher = createPasswordHasher();
          for (const { username, password } of users) {
            const [row] = await db.query<{ password_hash: string; roles: string[] }>('SELECT password_hash, roles FROM users WHERE username = $1', [username]);
            assert.ok(row, username);
            assert.deepEqual(row.roles, ['reader']);
            assert.equal(await hasher.verify(row.password_hash, password), true, `${username}: its own password verifies`);
            assert.equal(await hasher.verify(row.password_hash, `${password}?`), false, username);
          }
          const [bcryptRow] = await db.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE username = $1', ['cli-bcrypt']);
          assert.match(bcryptRow!.password_hash, /^\$tessera-wrap\$bcrypt\$c=5\$/);
          const created = await db.query<{ details: Record<string, unknown> }>(`SELECT details FROM audit_log WHERE type = 'user.created' ORDER BY seq`);
          assert.deepEqual(created.map((record) => [record.details.via, record.details.by]), [['import', 'cli'], ['import', 'cli'], ['import', 'cli']]);
          const summaries = await db.query<{ details: Record<string, unknown> }>(`SELECT details FROM audit_log WHERE type = 'users.imported' ORDER BY seq`);
          assert.deepEqual(summaries.map((record) => record.details), [
            { by: 'cli', created: 3, skipped: 0, refused: 2 },
            { by: 'cli', created: 0, skipped: 3, refused: 0 },
          ]);
        } finally {
          await db.close();
        }
      } finally {
        await database.cleanup();
      }
    });
  }
});
