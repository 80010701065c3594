import { randomBytes } from 'node:crypto';
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

/** A migrated PGlite, dumped once per process: loading the dump is ~3× faster than initdb. */
function migratedTemplate(): Promise<Blob> {
  template ??= (async () => {
    const db = await openPgliteDb();
    await migrate(db);
    const dump = await db.dump!();
    await db.close();
    return dump;
  })();
  return template;
}

export const pgliteBackend: TestBackend = {
  name: 'pglite',
  async open({ migrated = true } = {}) {
    const db = migrated ? await openPgliteDb({ loadDataDir: await migratedTemplate() }) : await openPgliteDb();
    return { db, cleanup: () => db.close() };
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
