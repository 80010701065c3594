import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { warmUp } from '../../test-support/fixtures.js';
import { databaseUrl, testBackends, uniqueSchema, withAdminPool, type TestDatabase } from '../../test-support/databases.js';
import type { Db } from './db.js';
import { migrate, migrations, type Migration } from './migrate.js';
import { initial } from './migrations/001-initial.js';
import { openPostgresDb } from './postgres-db.js';

/** Tables the first migration creates; later migrations may add more. */
const initialTables = ['refresh_tokens', 'sessions', 'signing_keys', 'tessera_migrations', 'users'];

const versions = migrations.map((migration) => migration.version);
const latest = Math.max(...versions);
const future: Migration = { version: latest + 1, name: 'widgets', sql: 'CREATE TABLE widgets (id integer PRIMARY KEY);' };

async function tablesOf(db: Db): Promise<string[]> {
  const rows = await db.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`,
  );
  return rows.map((row) => row.table_name);
}

async function recorded(db: Db): Promise<{ version: number; name: string; checksum: string }[]> {
  return db.query('SELECT version, name, checksum FROM tessera_migrations ORDER BY version');
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function expectedRecords(list: readonly Migration[]) {
  return list.map((migration) => ({ version: migration.version, name: migration.name, checksum: sha256(migration.sql) }));
}

describe('the migration list', () => {
  it('starts at version 1 and counts up by one', () => {
    assert.equal(migrations[0], initial);
    assert.deepEqual(
      versions,
      versions.map((_, index) => index + 1),
    );
  });
});

for (const backend of testBackends()) {
  describe(`migrate (${backend.name})`, () => {
    let database: TestDatabase;
    before(async () => {
      database = await backend.open({ migrated: false });
    });
    after(() => database.cleanup());

    // These steps build on each other over one database, in order.
    it('starts from an empty schema', async () => {
      assert.deepEqual(await tablesOf(database.db), []);
    });

    it('rolls back every statement of a run when one migration fails', async () => {
      const broken: Migration = { version: 2, name: 'broken', sql: 'CREATE TABLE half (id integer); SELECT no_such_function();' };
      await assert.rejects(migrate(database.db, [initial, broken]), /no_such_function/);
      assert.deepEqual(await tablesOf(database.db), [], 'neither version 1 nor the half-done version 2 remains');
    });

    it('applies version 1 on a fresh database, then nothing on a second run', async () => {
      assert.deepEqual(await migrate(database.db, [initial]), { applied: [1], current: 1 });
      assert.deepEqual(await migrate(database.db, [initial]), { applied: [], current: 1 });
      assert.deepEqual(await recorded(database.db), expectedRecords([initial]));
      assert.deepEqual(await tablesOf(database.db), initialTables);
    });

    it('brings a database at version 1 up to date with the later migrations only, then does nothing', async () => {
      assert.deepEqual(await migrate(database.db), { applied: versions.slice(1), current: latest });
      assert.deepEqual(await migrate(database.db), { applied: [], current: latest });
      assert.deepEqual(await recorded(database.db), expectedRecords(migrations));
    });

    it('creates every table', async () => {
      const present = await tablesOf(database.db);
      for (const table of initialTables) assert.ok(present.includes(table), `table ${table}`);
    });

    it('refuses an edited migration and changes nothing', async () => {
      const before = await tablesOf(database.db);
      const edited = migrations.map((migration) =>
        migration.version === 1 ? { ...migration, sql: `${migration.sql}\nCREATE TABLE sneaky (id integer);` } : migration,
      );
      await assert.rejects(migrate(database.db, edited), {
        message: 'migration 1 (initial) was changed after it was applied',
      });
      assert.deepEqual(await tablesOf(database.db), before);
      assert.deepEqual(await recorded(database.db), expectedRecords(migrations));
    });

    it('applies an appended migration only', async () => {
      assert.deepEqual(await migrate(database.db, [...migrations, future]), { applied: [future.version], current: future.version });
      assert.deepEqual(await migrate(database.db, [...migrations, future]), { applied: [], current: future.version });
      assert.ok((await tablesOf(database.db)).includes('widgets'));
    });

    it('refuses a database that a newer Tessera migrated, with a message saying so', async () => {
      await assert.rejects(migrate(database.db), (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(error.message, new RegExp(`migration ${future.version}\\b`));
        assert.match(error.message, /does not know/);
        assert.match(error.message, /upgrade Tessera/);
        return true;
      });
      assert.deepEqual(await recorded(database.db), expectedRecords([...migrations, future]));
    });
  });
}

describe('migrate from two PostgreSQL pools at once', { skip: databaseUrl === undefined && 'DATABASE_URL is not set' }, () => {
  for (let round = 0; round < 5; round += 1) {
    it(`applies each migration exactly once (round ${round + 1})`, async () => {
      const url = databaseUrl!;
      const schema = uniqueSchema('tessera_migrate');
      await withAdminPool(url, (pool) => pool.query(`CREATE SCHEMA ${schema}`));
      const first = openPostgresDb({ connectionString: url, schema });
      const second = openPostgresDb({ connectionString: url, schema });
      try {
        // Connect both pools first, so the two runs really overlap.
        await Promise.all([warmUp(first, 2), warmUp(second, 2)]);
        const results = await Promise.all([migrate(first), migrate(second)]);
        assert.deepEqual(
          results.map((result) => result.applied).sort((a, b) => b.length - a.length),
          [versions, []],
          'one pool applies every migration, the other finds nothing to do',
        );
        const counts = await first.query<{ version: number; count: number }>(
          'SELECT version, count(*)::int AS count FROM tessera_migrations GROUP BY version ORDER BY version',
        );
        assert.deepEqual(
          counts,
          versions.map((version) => ({ version, count: 1 })),
        );
        const present = await tablesOf(second);
        for (const table of initialTables) assert.ok(present.includes(table), `table ${table}`);
      } finally {
        await first.close();
        await second.close();
        await withAdminPool(url, (pool) => pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
      }
    });
  }
});
