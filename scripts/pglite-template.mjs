#!/usr/bin/env node
// Writes empty PGlite databases from the build (dist/) of the sources under test, once per
// `npm test` run: an uncompressed dumpDataDir() tarball of a new database before any migration
// (EMPTY) and of a migrated one (TARBALL), which test processes load instead of running initdb
// and every migration (src/test-support/databases.ts), and a migrated data directory (DATADIR),
// which tests of the `tessera` command copy instead of having its first run create one
// (src/test-support/cli-databases.ts).
import { writeFileSync } from 'node:fs';

const [out, dataDir, empty] = process.argv.slice(2);
if (!out || !dataDir || !empty) {
  console.error('usage: pglite-template.mjs TARBALL DATADIR EMPTY');
  process.exit(2);
}
const dist = new URL('../dist/', import.meta.url);
const { openPgliteDb } = await import(new URL('store/sql/pglite-db.js', dist).href);
const { migrate } = await import(new URL('store/sql/migrate.js', dist).href);
const db = await openPgliteDb();
writeFileSync(empty, Buffer.from(await (await db.dump()).arrayBuffer()));
await migrate(db);
const dump = await db.dump();
await db.close();
writeFileSync(out, Buffer.from(await dump.arrayBuffer()));

const onDisk = await openPgliteDb({ dataDir });
await migrate(onDisk);
await onDisk.close();
