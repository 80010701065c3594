import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { auditKeys } from '../audit/keys.js';
import { sqlAuditStore } from '../store/sql/audit-store.js';
import { migrations } from '../store/sql/migrate.js';
import { openPostgresDb } from '../store/sql/postgres-db.js';
import { databaseUrl, uniqueSchema, withAdminPool } from '../test-support/databases.js';
import { freePort, runCli, waitForHttp } from '../test-support/process.js';

const adminPassword = 'bootstrap operator passphrase 42';

describe('tessera command', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'tessera-cli-'));
  after(() => rmSync(cwd, { recursive: true, force: true }));

  it('refuses an invalid setting with exit code 1, naming the variable, without a stack trace', async () => {
    const run = runCli(['serve'], { cwd, env: { TESSERA_ACCESS_TTL: 'soon', PORT: 'x' } });
    assert.equal(await run.exited(), 1);
    assert.match(run.output(), /TESSERA_ACCESS_TTL: must be a duration/);
    assert.match(run.output(), /PORT: must be a whole number/);
    assert.doesNotMatch(run.output(), /\n\s+at /, 'no stack trace');
  });

  it('rejects an unknown command and prints usage, exit 2', async () => {
    const run = runCli(['frobnicate'], { cwd, env: {} });
    assert.equal(await run.exited(), 2);
    assert.match(run.output(), /unknown command "frobnicate"/);
    assert.match(run.output(), /Usage: tessera/);
  });

  it('serves with no configuration: bootstrap admin signs in, token verifies against the JWKS, SIGTERM stops it cleanly', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = { PORT: String(port), TESSERA_BOOTSTRAP_ADMIN: `admin:${adminPassword}`, TESSERA_LOG_LEVEL: 'info' };
    const run = runCli(['serve'], { cwd, env });
    try {
      await waitForHttp(`${base}/readyz`, run);
      const login = await fetch(`${base}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'e2e-login-1' },
        body: JSON.stringify({ username: 'admin', password: adminPassword }),
      });
      assert.equal(login.status, 200);
      assert.equal(login.headers.get('x-request-id'), 'e2e-login-1');
      assert.equal(login.headers.get('cache-control'), 'no-store');
      const tokens = (await login.json()) as { access_token: string; refresh_token: string };

      const jwks = await (await fetch(`${base}/.well-known/jwks.json`)).json();
      const { payload, protectedHeader } = await jwtVerify(tokens.access_token, createLocalJWKSet(jwks as never), {
        issuer: base,
        audience: 'tessera',
        typ: 'at+jwt',
      });
      assert.equal(protectedHeader.alg, 'RS256');
      assert.deepEqual(payload.roles, ['admin']);

      const me = await fetch(`${base}/auth/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.equal(me.status, 200);
      const discovery = (await (await fetch(`${base}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      assert.equal(discovery.issuer, base);
      assert.equal(discovery.jwks_uri, `${base}/.well-known/jwks.json`);

      run.child.kill('SIGTERM');
      assert.equal(await run.exited(15_000), 0);
      const logs = run.output();
      assert.match(logs, /development default: TESSERA_SECRET is not set/);
      assert.match(logs, /"msg":"stopped"/);
      for (const secret of [adminPassword, tokens.access_token, tokens.refresh_token]) {
        assert.ok(!logs.includes(secret), 'no password or token in the logs');
      }
    } finally {
      run.child.kill('SIGKILL');
    }

    // A restart reuses the data directory: same secret, same signing key, same admin.
    const port2 = await freePort();
    const again = runCli(['serve'], { cwd, env: { ...env, PORT: String(port2) } });
    try {
      await waitForHttp(`http://127.0.0.1:${port2}/readyz`, again);
      const jwks2 = (await (await fetch(`http://127.0.0.1:${port2}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
      assert.equal(jwks2.keys.length, 1);
      const login = await fetch(`http://127.0.0.1:${port2}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: adminPassword }),
      });
      assert.equal(login.status, 200);
      again.child.kill('SIGINT');
      assert.equal(await again.exited(15_000), 0);
    } finally {
      again.child.kill('SIGKILL');
    }
  });

  it('migrates PostgreSQL with `tessera migrate`, idempotently', { skip: databaseUrl ? false : 'DATABASE_URL not set' }, async () => {
    const url = databaseUrl!;
    const schema = uniqueSchema();
    await withAdminPool(url, (pool) => pool.query(`CREATE SCHEMA ${schema}`));
    try {
      const separator = url.includes('?') ? '&' : '?';
      const env = {
        DATABASE_URL: `${url}${separator}options=${encodeURIComponent(`-c search_path=${schema}`)}`,
        TESSERA_SECRET: 'cli-test-secret-cli-test-secret-0123456789',
      };
      const first = runCli(['migrate'], { cwd, env });
      assert.equal(await first.exited(), 0, first.output());
      assert.match(first.output(), new RegExp(`applied migrations ${migrations.map((migration) => migration.version).join(', ')};`));
      const second = runCli(['migrate'], { cwd, env });
      assert.equal(await second.exited(), 0, second.output());
      assert.match(second.output(), /up to date/);
      const tables = await withAdminPool(url, (pool) =>
        pool.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1', [schema]),
      );
      assert.deepEqual(
        tables.rows.map((row) => row.table_name),
        ['api_keys', 'audit_head_published', 'audit_log', 'audit_pending', 'incidents', 'ip_rules', 'ip_rules_version', 'outbox', 'password_history', 'password_reset_tokens', 'refresh_tokens', 'revocations', 'sessions', 'signing_keys', 'tessera_migrations', 'users'],
      );

      // `tessera audit verify` on that schema: an empty chain, then a chain of two, then a tampered one.
      const empty = runCli(['audit', 'verify'], { cwd, env });
      assert.equal(await empty.exited(), 0, empty.output());
      assert.match(empty.output(), /audit chain verified: 0 records/);
      const db = openPostgresDb({ connectionString: url, schema });
      try {
        const audit = sqlAuditStore(db, db, { keys: auditKeys(env.TESSERA_SECRET) });
        for (const type of ['login.succeeded', 'session.revoked']) {
          await audit.append({ id: randomUUID(), at: new Date(), type, outcome: 'success', userId: null, sessionId: null, ip: '127.0.0.1', userAgent: null, requestId: null, severity: 'info', details: {} });
        }
        const intact = runCli(['audit', 'verify'], { cwd, env });
        assert.equal(await intact.exited(), 0, intact.output());
        assert.match(intact.output(), /verified: 2 records/);
        await db.query(`UPDATE audit_log SET type = 'nothing.happened' WHERE seq = (SELECT max(seq) FROM audit_log)`);
        const tampered = runCli(['audit', 'verify'], { cwd, env });
        assert.equal(await tampered.exited(), 1);
        assert.match(tampered.output(), /BROKEN at record #2 .*edited/);
      } finally {
        await db.close();
      }
    } finally {
      await withAdminPool(url, (pool) => pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
    }
  });

  it('fails `tessera migrate` cleanly when the database is unreachable', async () => {
    const port = await freePort();
    const run = runCli(['migrate'], {
      cwd,
      env: { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/test`, TESSERA_SECRET: 'x'.repeat(40) },
    });
    assert.equal(await run.exited(), 1);
    assert.match(run.output(), /cannot connect to the database/);
    assert.doesNotMatch(run.output(), /\n\s+at /);
  });
});
