import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import type { Db } from '../store/sql/db.js';
import { migrate } from '../store/sql/migrate.js';
import { openPgliteDb } from '../store/sql/pglite-db.js';
import { openPostgresDb } from '../store/sql/postgres-db.js';

export interface TestDatabase {
  db: Db;
  /** PostgreSQL only: another connection pool on the same schema (a second instance). */
  reopen?: () => Db;
  /** Closes the database and removes everything the test created (the PostgreSQL schema). */
  cleanup(): Promise<void>;
}

export interface TestBackend {
  name: 'pglite' | 'postgres';
  /** A new, empty database; `migrated` (default true) brings it to the current schema. */
  open(options?: { migrated?: boolean }): Promise<TestDatabase>;
}

let template: Promise<Blob> | undefined;

/**
 * A migrated PGlite, dumped once: loading the dump is ~3× faster than initdb. `npm test` makes it
 * once for the whole run (scripts/pglite-template.mjs, from the build of these sources) and names
 * the file in TESSERA_TEST_PGLITE_TEMPLATE; a test file run on its own makes its own.
 */
function migratedTemplate(): Promise<Blob> {
  template ??= (async () => {
    const file = process.env.TESSERA_TEST_PGLITE_TEMPLATE;
    if (file) return new Blob([await readFile(file)]);
    const db = await openPgliteDb();
    await migrate(db);
    const dump = await db.dump!();
    await db.close();
    return dump;
  })();
  return template;
}

/*
 * Migrated PGlite databases are reused within a test process: loading the template costs ~0.7 s
 * of CPU, emptying a used database ~30 ms. A test gets a lease on one; on cleanup its rows are
 * truncated and the migrations' own rows put back, and it waits for the next test. A database
 * whose schema a test changed (dropped a table, revoked a grant, added a trigger) is closed
 * instead, as is one the test closed itself. After cleanup the lease refuses every call, so a
 * straggling query of a finished test can never reach the next test's data.
 */

/** Everything about the schema a test could change, as one digest. */
const schemaDigestSql = `SELECT md5(concat_ws('|',
  (SELECT string_agg(concat_ws(':', c.relname, c.relkind, c.relacl::text, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid)), ',' ORDER BY c.relname, a.attnum)
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
     WHERE n.nspname = current_schema()),
  (SELECT string_agg(conname || pg_get_constraintdef(oid), ',' ORDER BY conname) FROM pg_constraint WHERE connamespace = current_schema()::regnamespace),
  (SELECT string_agg(tgname || pg_get_triggerdef(oid), ',' ORDER BY tgname) FROM pg_trigger WHERE NOT tgisinternal),
  (SELECT string_agg(proname || md5(prosrc), ',' ORDER BY proname) FROM pg_proc WHERE pronamespace = current_schema()::regnamespace),
  (SELECT string_agg(indexdef, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = current_schema()),
  (SELECT string_agg(rulename || definition, ',' ORDER BY rulename) FROM pg_rules WHERE schemaname = current_schema()),
  (SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace),
  (SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles)
)) AS digest`;

/** What an empty migrated database holds: its tables, the rows the migrations wrote, its schema digest. */
interface Baseline {
  tables: string[];
  rows: Array<{ table: string; json: string }>;
  digest: string;
}

let baseline: Promise<Baseline> | undefined;
const idle: Db[] = [];
const keepIdle = 2;
/**
 * An open PGlite keeps its process alive (and 'beforeExit' never comes): a database nobody takes
 * within this time is closed, so a test file's process exits just after its last test.
 */
const idleCloseMs = 250;

function keep(db: Db): void {
  idle.push(db);
  setTimeout(() => {
    const at = idle.indexOf(db);
    if (at === -1) return;
    idle.splice(at, 1);
    void db.close().catch(() => undefined);
  }, idleCloseMs);
}

async function readBaseline(db: Db): Promise<Baseline> {
  const tables = (await db.query<{ name: string }>(`SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1`)).map((row) => row.name);
  const rows: Baseline['rows'] = [];
  for (const table of tables) {
    const [row] = await db.query<{ json: string | null }>(`SELECT json_agg(t)::text AS json FROM "${table}" t`);
    if (row?.json) rows.push({ table, json: row.json });
  }
  const [{ digest }] = (await db.query<{ digest: string }>(schemaDigestSql)) as [{ digest: string }];
  return { tables, rows, digest };
}

/** Empties a used database back to its migrated state; false when it cannot be reused. */
async function emptied(db: Db): Promise<boolean> {
  try {
    const expected = await baseline!;
    // Session state a test may have left: settings, a role, session advisory locks.
    await db.exec('RESET ALL; RESET ROLE; SELECT pg_advisory_unlock_all();');
    const [{ digest }] = (await db.query<{ digest: string }>(schemaDigestSql)) as [{ digest: string }];
    if (digest !== expected.digest) return false;
    await db.transaction(async (tx) => {
      await tx.exec(`TRUNCATE ${expected.tables.map((table) => `"${table}"`).join(', ')} RESTART IDENTITY CASCADE`);
      for (const { table, json } of expected.rows) {
        await tx.query(`INSERT INTO "${table}" SELECT * FROM json_populate_recordset(NULL::"${table}", $1::json)`, [json]);
      }
    });
    return true;
  } catch {
    return false;
  }
}

/** A test's hold on a pooled database: every call goes through until `release`. */
function lease(db: Db): { db: Db; release(): Promise<void> } {
  let released = false;
  let closedByTest = false;
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const guard = <T>(work: () => Promise<T>): Promise<T> => {
    if (released || closedByTest) return Promise.reject(new Error('database closed'));
    inFlight += 1;
    return work().finally(() => {
      inFlight -= 1;
      if (inFlight === 0) drained?.();
    });
  };
  const leased: Db = {
    kind: db.kind,
    query: (sql, params) => guard(() => db.query(sql, params)),
    exec: (sql) => guard(() => db.exec(sql)),
    transaction: (fn) => guard(() => db.transaction(fn)),
    ping: () => guard(() => db.ping()),
    dump: () => guard(() => db.dump!()),
    async close() {
      // The test takes the database down itself (an outage): it is not reused.
      if (closedByTest || released) return;
      closedByTest = true;
      await db.close();
    },
  };
  return {
    db: leased,
    async release() {
      if (released) return;
      released = true;
      if (closedByTest) return;
      if (inFlight > 0) {
        const settled = new Promise<boolean>((resolve) => {
          drained = () => resolve(true);
          setTimeout(() => resolve(false), 2000).unref();
        });
        if (!(await settled)) {
          await db.close();
          return;
        }
      }
      if (idle.length < keepIdle && (await emptied(db))) keep(db);
      else await db.close();
    },
  };
}

async function migratedDb(): Promise<Db> {
  const reused = idle.pop();
  if (reused) return reused;
  const db = await openPgliteDb({ loadDataDir: await migratedTemplate() });
  baseline ??= readBaseline(db);
  await baseline;
  return db;
}

export const pgliteBackend: TestBackend = {
  name: 'pglite',
  async open({ migrated = true } = {}) {
    if (!migrated) {
      // A new database before any migration: from the run's tarball when `npm test` made one.
      const empty = process.env.TESSERA_TEST_PGLITE_EMPTY;
      const db = await openPgliteDb(empty ? { loadDataDir: new Blob([await readFile(empty)]) } : {});
      return { db, cleanup: () => db.close() };
    }
    const held = lease(await migratedDb());
    return { db: held.db, cleanup: () => held.release() };
  },
};


/** A unique schema name per test database, so runs never see each other's rows. */
export function uniqueSchema(prefix = 'tessera_test'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

export async function withAdminPool<T>(url: string, fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

export function postgresBackend(url: string): TestBackend {
  return {
    name: 'postgres',
    async open({ migrated = true } = {}) {
      const schema = uniqueSchema();
      await withAdminPool(url, (pool) => pool.query(`CREATE SCHEMA ${schema}`));
      const db = openPostgresDb({ connectionString: url, schema, max: 60 });
      if (migrated) await migrate(db);
      return {
        db,
        reopen: () => openPostgresDb({ connectionString: url, schema, max: 20 }),
        async cleanup() {
          await db.close();
          await withAdminPool(url, (pool) => pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
        },
      };
    },
  };
}

/** The URL of the real PostgreSQL the suites run against, when DATABASE_URL is set. */
export const databaseUrl: string | undefined = process.env.DATABASE_URL || undefined;

/** PGlite always; the real PostgreSQL too when DATABASE_URL is set (as in CI). */
export function testBackends(): TestBackend[] {
  return databaseUrl ? [pgliteBackend, postgresBackend(databaseUrl)] : [pgliteBackend];
}
