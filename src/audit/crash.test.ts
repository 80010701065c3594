import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Db } from '../store/sql/db.js';
import { openPgliteDb } from '../store/sql/pglite-db.js';
import { openPostgresDb } from '../store/sql/postgres-db.js';
import { strongPassword } from '../test-support/app.js';
import { seedDataDir } from '../test-support/cli-databases.js';
import { databaseUrl, uniqueSchema, withAdminPool } from '../test-support/databases.js';
import { freePort, runCli, waitForHttp } from '../test-support/process.js';

/*
 * SPEC §5: "an acknowledged request never loses its record". The real server is killed with
 * SIGKILL in the middle of a burst of sign-ups and failed sign-ins; afterwards `tessera audit
 * verify` passes and every request that got its answer has its record, matched by request id.
 */

interface Target {
  name: string;
  env: Record<string, string>;
  open(): Promise<Db>;
  cleanup(): Promise<void>;
}

const burstSize = 120;
const acknowledgedBeforeKill = 40;

function targets(cwd: string): Target[] {
  const pglite: Target = {
    name: 'pglite',
    env: { TESSERA_DATA_DIR: join(cwd, 'pglite') },
    open: () => {
      // A migrated database to start from, when the run made one: the server's start is not under test.
      if (!existsSync(join(cwd, 'pglite', 'pgdata'))) seedDataDir(join(cwd, 'pglite', 'pgdata'));
      return openPgliteDb({ dataDir: join(cwd, 'pglite', 'pgdata') });
    },
    cleanup: async () => undefined,
  };
  if (!databaseUrl) return [pglite];
  const schema = uniqueSchema('tessera_crash');
  const url = new URL(databaseUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return [
    pglite,
    {
      name: 'postgres',
      env: { DATABASE_URL: url.toString(), TESSERA_DATA_DIR: join(cwd, 'pg') },
      async open() {
        await withAdminPool(databaseUrl!, (pool) => pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`));
        return openPostgresDb({ connectionString: databaseUrl!, schema });
      },
      cleanup: () => withAdminPool(databaseUrl!, (pool) => pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)).then(() => undefined),
    },
  ];
}

describe('audit durability under kill -9', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'tessera-crash-'));
  after(() => rmSync(cwd, { recursive: true, force: true }));

  for (const target of targets(cwd)) {
    it(`keeps the record of every acknowledged request (${target.name})`, async () => {
      // The schema must exist before the server starts.
      const setup = await target.open();
      await setup.close();
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const env = {
        ...target.env,
        PORT: String(port),
        TESSERA_SECRET: 'crash-test-secret-crash-test-secret-0123456789',
        TESSERA_SIGNUP: 'open',
        TESSERA_RATE_LIMIT_SIGNUP: '100000/1h',
        TESSERA_RATE_LIMIT_IP: '100000/1h',
        TESSERA_RATE_LIMIT_LOGIN_IP: '100000/1m',
        TESSERA_RATE_LIMIT_LOGIN_ACCOUNT: '100000/1m',
        TESSERA_LOCKOUT_THRESHOLD: '1000',
        // The burst looks like password spraying; blocking it would end the burst early.
        TESSERA_IP_BLOCK_DURATION: '0s',
        TESSERA_LOG_LEVEL: 'warn',
      };
      const server = runCli(['serve'], { cwd, env });
      const acknowledged = new Map<string, number>();
      try {
        await waitForHttp(`${base}/readyz`, server);
        let killed = false;
        const requests = Array.from({ length: burstSize }, async (_, i) => {
          const requestId = `burst-${target.name}-${i}`;
          const signUp = i % 2 === 0;
          try {
            const response = await fetch(`${base}${signUp ? '/auth/register' : '/auth/login'}`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'x-request-id': requestId },
              body: JSON.stringify(signUp ? { username: `burst-user-${i}`, password: strongPassword } : { username: `nobody-${i}`, password: 'wrong password 1' }),
            });
            await response.arrayBuffer();
            acknowledged.set(requestId, response.status);
            if (!killed && acknowledged.size >= acknowledgedBeforeKill) {
              killed = true;
              server.child.kill('SIGKILL');
            }
          } catch {
            // In flight when the server died: no answer, no promise made.
          }
        });
        await Promise.all(requests);
        await server.exited(15_000);
      } finally {
        server.child.kill('SIGKILL');
      }
      assert.ok(acknowledged.size >= acknowledgedBeforeKill, `${acknowledged.size} answered`);
      assert.ok(acknowledged.size < burstSize, 'the server died mid-burst');

      const verify = runCli(['audit', 'verify'], { cwd, env });
      assert.equal(await verify.exited(60_000), 0, verify.output());
      assert.match(verify.output(), /verif/i);

      const db = await target.open();
      try {
        // `tessera audit verify` only reads: what the killed server had not chained yet is still queued.
        const rows = await db.query<{ request_id: string; type: string }>(
          `SELECT request_id, type FROM audit_log WHERE request_id LIKE 'burst-%' UNION ALL SELECT request_id, type FROM audit_pending WHERE request_id LIKE 'burst-%'`,
        );
        const recorded = new Map<string, Set<string>>();
        for (const row of rows) recorded.set(row.request_id, (recorded.get(row.request_id) ?? new Set()).add(row.type));
        for (const [requestId, status] of acknowledged) {
          const expected = status === 201 ? 'user.created' : status === 401 ? 'login.failed' : undefined;
          assert.ok(expected, `${requestId}: unexpected status ${status}`);
          assert.ok(recorded.get(requestId)?.has(expected), `${requestId} answered ${status} but its ${expected} record is missing`);
        }
      } finally {
        await db.close();
        await target.cleanup();
      }
    });
  }
});
