import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { after, before, describe, it } from 'node:test';
import { createUser, login, signIn, startTestApp, type TestApp } from '../../test-support/app.js';
import { testBackends } from '../../test-support/databases.js';
import { assertApiError, type SignedIn } from '../../test-support/tokens.js';

/*
 * POST /admin/users/import (SPEC §3 Administration, issue 12): a team moves its users over from
 * bcrypt, Django and argon2id databases and nobody resets a password; the gate with no side
 * effect; a dry run; broken lines next to good ones; bad requests in the error shape.
 */

// Vectors of src/passwords/legacy-hashes.test.ts, with the passwords they were made from.
const users = [
  { username: 'from-bcrypt', password_hash: '$2b$05$x7hm8QA6CKts.Tm0TaXfJ.CZ9DGOz.MmEIzkm50ljYu4J0wksRd.m', password: 'imported secret' },
  { username: 'from-django', password_hash: 'pbkdf2_sha256$20000$seasalt2024$uYOY0778iSRCPb8ikLr2LTYeRWCkPkVJqDkKIUwctgU=', password: 'lètmein correct horse' },
  { username: 'from-keycloak', password_hash: '$argon2id$v=19$m=7168,t=5,p=1$a2V5Y2xvYWstc2FsdC0xNg$yUY8DYovEPiclANHikGE324Mu141CyVwhGc8ikrEg6M', password: 'lètmein correct horse' },
] as const;

const currentArgon2 = /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/;

const lines = (records: unknown[]) => records.map((record) => (typeof record === 'string' ? record : JSON.stringify(record))).join('\n');
const file = lines(users.map(({ username, password_hash }) => ({ username, password_hash, email: `${username}@example.com`, roles: ['reader'] })));

function postLines(t: TestApp, body: string, options: { token?: string; type?: string; query?: string } = {}): Promise<LightMyRequestResponse> {
  return t.app.inject({
    method: 'POST',
    url: `/admin/users/import${options.query ?? ''}`,
    headers: { 'content-type': options.type ?? 'application/x-ndjson', ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) },
    payload: body,
  });
}

interface Report {
  dry_run: boolean;
  created: number;
  skipped: number;
  refused: number;
  lines: { line: number; username?: string; outcome: string; reason: string }[];
}

function reportOf(response: LightMyRequestResponse, label: string): Report {
  assert.equal(response.statusCode, 200, `${label}: ${response.body}`);
  assert.doesNotMatch(response.body, /\$2[aby]\$|pbkdf2|argon2|tessera-wrap/, `${label}: no hash in the report`);
  return response.json() as Report;
}

for (const backend of testBackends()) {
  describe(`POST /admin/users/import (${backend.name})`, () => {
    let t: TestApp;
    let admin: SignedIn;

    before(async () => {
      t = await startTestApp(backend);
      await createUser(t, 'import-admin', { roles: ['admin'] });
      admin = await signIn(t, 'import-admin');
    });
    after(() => t.close());

    it('refuses without a token (401) and for a non-admin (403), importing nothing', async () => {
      await createUser(t, 'import-user');
      const user = await signIn(t, 'import-user');
      assertApiError(await postLines(t, file), 401, 'invalid_token', 'no token');
      assertApiError(await postLines(t, file, { token: user.access_token }), 403, 'forbidden', 'non-admin');
      assertApiError(await postLines(t, file, { token: user.access_token, query: '?dry_run=true' }), 403, 'forbidden', 'non-admin dry run');
      for (const { username } of users) assert.equal(await t.stores.users.findByUsername(username), undefined, username);
    });

    it('changes nothing on a dry run', async () => {
      const dry = reportOf(await postLines(t, file, { token: admin.access_token, query: '?dry_run=true' }), 'dry run');
      assert.deepEqual(dry, { dry_run: true, created: 3, skipped: 0, refused: 0, lines: [] });
      for (const { username } of users) assert.equal(await t.stores.users.findByUsername(username), undefined, username);
      await t.tessera.auditChain.flush();
      assert.equal((await t.stores.audit.list({ type: 'users.imported' }, { limit: 10 })).length, 0);
    });

    it('imports bcrypt, Django and argon2id users; each signs in with its own password and is rehashed to argon2id; a re-run skips all', async () => {
      const report = reportOf(await postLines(t, `${file}\n`, { token: admin.access_token }), 'import');
      assert.deepEqual(report, { dry_run: false, created: 3, skipped: 0, refused: 0, lines: [] });

      for (const { username, password } of users) {
        const before = (await t.stores.users.findByUsername(username))!;
        assert.doesNotMatch(before.passwordHash, currentArgon2, `${username}: not current argon2id before its first sign-in`);
        assert.equal((await login(t, { username, password: `${password}x` })).statusCode, 401, `${username}: wrong password`);
        const signedIn = await signIn(t, username, password);
        assert.deepEqual([signedIn.user.username, signedIn.user.roles], [username, ['reader']]);
        const after = (await t.stores.users.findByUsername(username))!;
        assert.match(after.passwordHash, currentArgon2, `${username}: rehashed on sign-in`);
        assert.equal((await signIn(t, username, password)).user.id, before.id, `${username}: signs in with the new hash`);
      }

      const again = reportOf(await postLines(t, file, { token: admin.access_token }), 're-run');
      assert.deepEqual([again.created, again.skipped, again.refused], [0, 3, 0]);
      assert.deepEqual(again.lines.map((line) => [line.username, line.outcome, line.reason]), users.map(({ username }) => [username, 'skipped', 'exists']));

      await t.tessera.auditChain.flush();
      const created = await t.stores.audit.list({ type: 'user.created' }, { limit: 50 });
      const adminId = admin.user.id;
      assert.equal(created.filter((record) => record.details.via === 'import' && record.details.by === adminId).length, 3);
      const summaries = await t.stores.audit.list({ type: 'users.imported' }, { limit: 10 });
      assert.deepEqual(summaries.map((record) => record.details).reverse(), [
        { by: adminId, created: 3, skipped: 0, refused: 0 },
        { by: adminId, created: 0, skipped: 3, refused: 0 },
      ]);
    });

    it('keeps a bcrypt hash after a sign-in with a password over 72 bytes: bcrypt proved only its first 72', async () => {
      const { hash } = await import('@node-rs/bcrypt');
      const password = `${'long passphrase '.repeat(5)}tail as set`;
      assert.ok(Buffer.byteLength(password) > 72);
      const report = reportOf(await postLines(t, lines([{ username: 'long-bcrypt', password_hash: await hash(password, 5) }]), { token: admin.access_token }), 'import');
      assert.equal(report.created, 1);
      const typed = `${password.slice(0, 72)}another tail`;
      assert.equal((await login(t, { username: 'long-bcrypt', password: typed })).statusCode, 200, 'bcrypt reads 72 bytes');
      const stored = (await t.stores.users.findByUsername('long-bcrypt'))!.passwordHash;
      assert.match(stored, /^\$tessera-wrap\$bcrypt\$/, 'not rehashed from a password that may differ after byte 72');
      assert.equal((await signIn(t, 'long-bcrypt', password)).user.username, 'long-bcrypt', 'the password as set still works');
    });

    it('imports the good lines of a file with broken ones and reports the rest (text/plain too)', async () => {
      const text = lines([
        { username: 'good-1', password_hash: users[0].password_hash },
        'not json',
        { username: 'good-2', password: 'plaintext is never taken' },
        { username: 'good-3', password_hash: 'sha1$$2fd4e1c67a2d28fced849ee1bb76e7391b93eb12' },
        { username: 'good-4', password_hash: users[2].password_hash, extra: 1 },
        { username: 'good-5', password_hash: users[1].password_hash },
      ]);
      const report = reportOf(await postLines(t, text, { token: admin.access_token, type: 'text/plain; charset=utf-8' }), 'mixed');
      assert.deepEqual([report.created, report.skipped, report.refused], [2, 0, 4]);
      assert.deepEqual(report.lines.map((line) => [line.line, line.outcome, line.reason]), [
        [2, 'refused', 'invalid_json'],
        [3, 'refused', 'plaintext_password'],
        [4, 'refused', 'unsupported_hash'],
        [5, 'refused', 'unknown_field'],
      ]);
      assert.ok(await t.stores.users.findByUsername('good-1'));
      assert.ok(await t.stores.users.findByUsername('good-5'));
      assert.equal((await signIn(t, 'good-5', users[1].password)).user.username, 'good-5');
    });

    it('answers bad requests in the error shape, never a 5xx, importing nothing', async () => {
      const token = admin.access_token;
      const one = JSON.stringify({ username: 'never-imported', password_hash: users[0].password_hash });
      const cases: [string, Promise<LightMyRequestResponse>, number, string][] = [
        ['empty body', postLines(t, '', { token }), 400, 'invalid_request'],
        ['blank lines only', postLines(t, '\n \n', { token }), 400, 'invalid_request'],
        ['JSON instead of JSON Lines', postLines(t, one, { token, type: 'application/json' }), 415, 'unsupported_media_type'],
        ['a form', postLines(t, 'a=b', { token, type: 'application/x-www-form-urlencoded' }), 415, 'unsupported_media_type'],
        ['bytes', postLines(t, one, { token, type: 'application/octet-stream' }), 415, 'unsupported_media_type'],
        ['NUL in the text', postLines(t, `${one}\u0000`, { token }), 400, 'invalid_request'],
        ['unknown query member', postLines(t, one, { token, query: '?dry=1' }), 400, 'invalid_request'],
        ['dry_run not a boolean', postLines(t, one, { token, query: '?dry_run=yes' }), 400, 'invalid_request'],
        ['more than 10 000 lines', postLines(t, Array.from({ length: 10_001 }, () => one).join('\n'), { token }), 400, 'invalid_request'],
        ['over 10 MiB', postLines(t, `${one}\n${' '.repeat(10 * 1024 * 1024)}`, { token }), 413, 'payload_too_large'],
      ];
      for (const [label, pending, status, code] of cases) assertApiError(await pending, status, code, label);
      assert.equal(await t.stores.users.findByUsername('never-imported'), undefined);
    });
  });
}
