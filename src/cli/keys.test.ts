import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cliDatabases } from '../test-support/cli-databases.js';
import { runCli } from '../test-support/process.js';

/* `tessera keys list|rotate` against the database, as `tessera migrate` works (issue 12). */

describe('tessera keys', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'tessera-cli-keys-'));
  after(() => rmSync(cwd, { recursive: true, force: true }));
  const secret = 'cli-keys-secret-cli-keys-secret-0123456789';

  it('answers a wrong invocation with its usage, exit 2, touching no database', async () => {
    for (const [args, message] of [
      [['keys'], /a command is required\n\nUsage: tessera keys <list\|rotate>/],
      [['keys', 'frob'], /unknown command "keys frob"/],
      [['keys', 'rotate', 'now'], /unknown argument "now"\n\nUsage: tessera keys rotate/],
      [['keys', 'list', '--all'], /unknown argument "--all"\n\nUsage: tessera keys list/],
    ] as const) {
      const run = runCli([...args], { cwd, env: { TESSERA_SECRET: secret, TESSERA_DATA_DIR: join(cwd, 'never') } });
      assert.equal(await run.exited(), 2, run.output());
      assert.match(run.output(), message);
    }
    const help = runCli(['keys', 'rotate', '--help'], { cwd, env: {} });
    assert.equal(await help.exited(), 0);
    assert.match(help.output(), /^Usage: tessera keys rotate/);
  });

  for (const backend of cliDatabases(secret)) {
    it(`lists the keys, rotates once (publish before sign), refuses a second rotation while the key waits, and audits it (${backend.name})`, async () => {
      const database = await backend.create({ migrated: true });
      const cli = async (args: string[]) => {
        const run = runCli(args, { cwd, env: database.env });
        return { code: await run.exited(60_000), output: run.output() };
      };
      try {
        const first = await cli(['keys', 'list']);
        assert.equal(first.code, 0, first.output);
        const [header, ...rows] = first.output.trim().split('\n');
        assert.equal(header, 'KID\tALG\tSTATE\tCREATED\tACTIVATES\tRETIRES\tPUBLISHED_UNTIL');
        assert.equal(rows.length, 1);
        const [oldKid, , oldState] = rows[0]!.split('\t');
        assert.equal(oldState, 'active');

        const rotated = await cli(['keys', 'rotate']);
        assert.equal(rotated.code, 0, rotated.output);
        const match = /^published key (\S+) \((\w+)\); it signs from (\S+), when the current key retires\n$/.exec(rotated.output);
        assert.ok(match, rotated.output);
        const [, newKid, , activates] = match;
        assert.ok(Date.parse(activates!) - Date.now() > 5 * 60_000, 'signs after the JWKS max-age');

        const again = await cli(['keys', 'rotate']);
        assert.equal(again.code, 1, again.output);
        assert.match(again.output, /still waiting to sign/);

        // Run without the servers' algorithm, a key command refuses rather than change keys.
        const otherAlg = runCli(['keys', 'list'], { cwd, env: { ...database.env, TESSERA_SIGNING_ALG: 'ES256' } });
        assert.equal(await otherAlg.exited(60_000), 1);
        assert.match(otherAlg.output(), /^tessera: TESSERA_SIGNING_ALG is ES256 but the keys sign with RS256/m);

        const listed = await cli(['keys', 'list']);
        assert.equal(listed.code, 0, listed.output);
        assert.doesNotMatch(listed.output, /PRIVATE|v1\.|"d"/);
        const states = listed.output.trim().split('\n').slice(1).map((line) => line.split('\t'));
        assert.deepEqual(states.map(([kid, , state]) => [kid, state]), [[newKid, 'next'], [oldKid, 'active']]);
        assert.equal(states[1]![5], activates, 'the old key retires when the new one activates');

        const db = await database.open();
        try {
          const records = await db.query<{ details: Record<string, unknown> }>(`SELECT details FROM audit_log WHERE type = 'key.rotated'`);
          assert.equal(records.length, 1);
          assert.equal(records[0]!.details.by, 'cli');
          assert.equal(records[0]!.details.kid, newKid);
          assert.equal(records[0]!.details.previousKid, oldKid);
        } finally {
          await db.close();
        }
      } finally {
        await database.cleanup();
      }
    });
  }
});
