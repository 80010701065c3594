import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AuthError } from '../errors/auth-error.js';
import { hashHeadPattern } from '../passwords/legacy-hashes.js';
import { createUser, startTestApp, type TestApp } from '../test-support/app.js';
import { testBackends } from '../test-support/databases.js';
import { importLimits, type ImportReport } from './import.js';

/*
 * users/import.ts on both backends: every kind of broken line reported with its reason while the
 * good ones are imported, what is stored (wrapped hashes, fields, audit), idempotence, duplicates,
 * dry runs, batches across the transaction boundary, concurrent runs and the limits.
 */

// Vectors of src/passwords/legacy-hashes.test.ts.
const bcrypt = '$2b$05$x7hm8QA6CKts.Tm0TaXfJ.CZ9DGOz.MmEIzkm50ljYu4J0wksRd.m';
const django = 'pbkdf2_sha256$20000$seasalt2024$uYOY0778iSRCPb8ikLr2LTYeRWCkPkVJqDkKIUwctgU=';
const argon2 = '$argon2id$v=19$m=7168,t=5,p=1$a2V5Y2xvYWstc2FsdC0xNg$yUY8DYovEPiclANHikGE324Mu141CyVwhGc8ikrEg6M';

const jsonl = (...records: unknown[]) => records.map((record) => (typeof record === 'string' ? record : JSON.stringify(record))).join('\n');

function assertNoHash(report: ImportReport): void {
  assert.doesNotMatch(JSON.stringify(report), /\$2[aby]\$|pbkdf2|argon2|tessera-wrap|seasalt/);
}

for (const backend of testBackends()) {
  describe(`user import (${backend.name})`, () => {
    let t: TestApp;
    const run = (text: string, extra: { dryRun?: boolean; maxLines?: number } = {}) =>
      t.tessera.userImport.run(text, { by: 'admin-id', maxLines: extra.maxLines ?? importLimits.httpLines, ...(extra.dryRun ? { dryRun: true } : {}) });
    const auditOf = async (type: string) => {
      await t.tessera.auditChain.flush();
      return t.stores.audit.list({ type }, { limit: 1000 });
    };

    before(async () => {
      t = await startTestApp(backend);
    });
    after(() => t.close());

    it('imports the good lines, reports every broken one with its reason, stores no legacy digest', async () => {
      await createUser(t, 'already-here', { email: 'taken@example.com' });
      const long = JSON.stringify({ username: 'long-line', password_hash: bcrypt, tenant: 'x'.repeat(importLimits.lineBytes) });
      const text = jsonl(
        { username: 'Alice', email: 'Alice@Example.com', password_hash: bcrypt, roles: ['editor'], permissions: ['docs:write'], tenant: 'acme', created_at: '2019-05-06T07:08:09.123456+00:00' },
        { username: 'bob', email: '', password_hash: django, disabled: true },
        { username: 'carol', password_hash: argon2, email: null },
        '',
        '{"username": "broken",',
        '["not", "an", "object"]',
        { username: 'plain', password: 'correct horse battery staple' },
        { username: 'typo', password_hash: bcrypt, rolse: ['admin'] },
        { password_hash: bcrypt },
        { username: 'bad name!', password_hash: bcrypt },
        { username: 'nohash' },
        { username: 'md5', password_hash: '$1$saltsalt$qjXMvbEw8oaL.CzflDugX/' },
        { username: 'scrypt', password_hash: '$scrypt$ln=14,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2g' },
        { username: 'bad-email', password_hash: bcrypt, email: 'not-an-address' },
        { username: 'bad-roles', password_hash: bcrypt, roles: ['has space'] },
        { username: 'bad-perms', password_hash: bcrypt, permissions: 'docs:write' },
        { username: 'bad-tenant', password_hash: bcrypt, tenant: 'a,b' },
        { username: 'bad-disabled', password_hash: bcrypt, disabled: 'yes' },
        { username: 'bad-time', password_hash: bcrypt, created_at: 'yesterday' },
        { username: 'future', password_hash: bcrypt, created_at: '2999-01-01T00:00:00Z' },
        { username: 'ALICE', password_hash: argon2 },
        { username: 'alice-2', password_hash: argon2, email: 'alice@example.com' },
        { username: 'already-here', password_hash: bcrypt },
        { username: 'new-with-taken-email', password_hash: argon2, email: 'TAKEN@example.com' },
        long,
        '   ',
      );
      const report = await run(`${text}\r\n`);
      assertNoHash(report);
      assert.deepEqual(
        report.lines.map((line) => [line.line, line.outcome, line.reason, line.username]),
        [
          [5, 'refused', 'invalid_json', undefined],
          [6, 'refused', 'not_an_object', undefined],
          [7, 'refused', 'plaintext_password', undefined],
          [8, 'refused', 'unknown_field', undefined],
          [9, 'refused', 'missing_username', undefined],
          [10, 'refused', 'invalid_username', undefined],
          [11, 'refused', 'missing_password_hash', 'nohash'],
          [12, 'refused', 'unsupported_hash', 'md5'],
          [13, 'refused', 'unsupported_hash', 'scrypt'],
          [14, 'refused', 'invalid_email', 'bad-email'],
          [15, 'refused', 'invalid_roles', 'bad-roles'],
          [16, 'refused', 'invalid_permissions', 'bad-perms'],
          [17, 'refused', 'invalid_tenant', 'bad-tenant'],
          [18, 'refused', 'invalid_disabled', 'bad-disabled'],
          [19, 'refused', 'invalid_created_at', 'bad-time'],
          [20, 'refused', 'invalid_created_at', 'future'],
          [21, 'refused', 'duplicate_in_file', 'alice'],
          [22, 'refused', 'duplicate_in_file', 'alice-2'],
          [23, 'skipped', 'exists', 'already-here'],
          [24, 'refused', 'email_taken', 'new-with-taken-email'],
          [25, 'refused', 'line_too_long', undefined],
        ],
      );
      assert.deepEqual([report.created, report.skipped, report.refused], [3, 1, 20]);

      const alice = (await t.stores.users.findByUsername('alice'))!;
      assert.deepEqual(
        [alice.email, alice.roles, alice.permissions, alice.tenant, alice.disabled, alice.createdAt.toISOString()],
        ['alice@example.com', ['editor'], ['docs:write'], 'acme', false, '2019-05-06T07:08:09.123Z'],
      );
      assert.match(alice.passwordHash, /^\$tessera-wrap\$bcrypt\$c=5\$[A-Za-z0-9+/]+\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      assert.ok(!alice.passwordHash.includes(bcrypt.slice(-31)), 'the bcrypt digest is not stored');
      const bob = (await t.stores.users.findByUsername('bob'))!;
      assert.deepEqual([bob.email, bob.disabled], [null, true]);
      assert.match(bob.passwordHash, /^\$tessera-wrap\$pbkdf2-sha256\$i=20000,l=32\$/);
      assert.ok(!bob.passwordHash.includes('uYOY0778'), 'the Django digest is not stored');
      assert.equal((await t.stores.users.findByUsername('carol'))!.passwordHash, argon2, 'argon2id is kept as it is');
      for (const name of ['plain', 'typo', 'md5', 'new-with-taken-email', 'long-line']) assert.equal(await t.stores.users.findByUsername(name), undefined, name);

      const created = await auditOf('user.created');
      const imported = created.filter((record) => record.details.via === 'import');
      assert.deepEqual(imported.map((record) => record.userId).sort(), [alice.id, bob.id, (await t.stores.users.findByUsername('carol'))!.id].sort());
      for (const record of imported) assert.equal(record.details.by, 'admin-id');
      const summary = await auditOf('users.imported');
      assert.equal(summary.length, 1);
      assert.deepEqual(summary[0]!.details, { by: 'admin-id', created: 3, skipped: 1, refused: 20 });
      assert.doesNotMatch(JSON.stringify([...created, ...summary]), /tessera-wrap|pbkdf2|\$2b\$|argon2id\$/);
      // The kinds a restart finds, to pad every verification (docs/adr/011).
      const heads = (await t.stores.users.passwordHashHeads(hashHeadPattern)).sort();
      assert.deepEqual(heads, ['$argon2id$v=19$m=19456,t=2,p=1', '$argon2id$v=19$m=7168,t=5,p=1', '$tessera-wrap$bcrypt$c=5', '$tessera-wrap$pbkdf2-sha256$i=20000,l=32']);

      // A re-run of the same file creates nothing and writes no user.created.
      const again = await run(text);
      assert.deepEqual([again.created, again.skipped], [0, 4]);
      assert.deepEqual(
        again.lines.filter((line) => line.outcome === 'skipped').map((line) => line.username),
        ['alice', 'bob', 'carol', 'already-here'],
      );
      assert.equal((await auditOf('user.created')).length, created.length);
    });

    it('changes nothing on a dry run, and reports what a real run would', async () => {
      const text = jsonl({ username: 'dry-1', password_hash: bcrypt }, { username: 'dry-2', password_hash: 'nope' }, { username: 'already-here', password_hash: argon2 });
      const before = (await auditOf('user.created')).length;
      const dry = await run(text, { dryRun: true });
      assert.deepEqual([dry.created, dry.skipped, dry.refused], [1, 1, 1]);
      assert.equal(await t.stores.users.findByUsername('dry-1'), undefined);
      assert.equal((await auditOf('user.created')).length, before);
      const summaries = (await auditOf('users.imported')).length;
      const real = await run(text);
      assert.deepEqual(real, dry);
      assert.ok(await t.stores.users.findByUsername('dry-1'));
      assert.equal((await auditOf('users.imported')).length, summaries + 1);
    });

    it('writes across batches, and two concurrent runs of one file create each user once', async () => {
      const count = importLimits.batch + 40;
      const text = jsonl(...Array.from({ length: count }, (_, i) => ({ username: `batch-${i}`, password_hash: argon2 })));
      const [first, second] = await Promise.all([run(text), run(text)]);
      assert.equal(first!.created + second!.created, count);
      assert.equal(first!.skipped + second!.skipped, count);
      assert.equal(first!.refused + second!.refused, 0);
      const listed = await t.stores.users.list({ usernamePrefix: 'batch-', limit: count + 10 });
      assert.equal(listed.length, count);
    });

    it('refuses a file it cannot take at all, writing nothing', async () => {
      const codeOf = async (promise: Promise<unknown>) => {
        try {
          await promise;
          return undefined;
        } catch (error) {
          assert.ok(error instanceof AuthError, String(error));
          return error.code;
        }
      };
      assert.equal(await codeOf(run('')), 'invalid_request');
      assert.equal(await codeOf(run('\n  \n')), 'invalid_request');
      const three = jsonl(...['limit-1', 'limit-2', 'limit-3'].map((username) => ({ username, password_hash: argon2 })));
      assert.equal(await codeOf(run(three, { maxLines: 2 })), 'invalid_request');
      assert.equal(await t.stores.users.findByUsername('limit-1'), undefined);
    });
  });
}
