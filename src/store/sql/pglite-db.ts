import { mkdirSync } from 'node:fs';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { lockDataDir } from './data-dir-lock.js';
import type { Db, Queryable } from './db.js';

function wrap(target: PGlite | Transaction): Queryable {
  return {
    async query<Row>(sql: string, params: readonly unknown[] = []): Promise<Row[]> {
      const result = await target.query<Row>(sql, params as unknown[]);
      return result.rows;
    },
    async exec(sql: string): Promise<void> {
      await target.exec(sql);
    },
  };
}

export interface PgliteOptions {
  /** Directory of the database files; undefined keeps everything in memory (tests). */
  dataDir?: string;
  /** A `dumpDataDir()` tarball to start from (tests start from a migrated template). */
  loadDataDir?: Blob;
}

/**
 * The embedded store: PostgreSQL compiled to WebAssembly, running in this process.
 * PGlite runs every query on the event-loop thread and serialises transactions itself.
 * A data directory is opened by one process at a time: any other opener gets
 * `DataDirLockedError` (data-dir-lock.ts) until `close()` or the owner's exit.
 */
export async function openPgliteDb(options: PgliteOptions = {}): Promise<Db> {
  if (options.dataDir !== undefined) mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const lock = options.dataDir === undefined ? undefined : lockDataDir(options.dataDir);
  let pg: PGlite;
  try {
    pg = await PGlite.create({
      ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
      ...(options.loadDataDir === undefined ? {} : { loadDataDir: options.loadDataDir }),
    });
  } catch (error) {
    lock?.release();
    throw error;
  }
  const root = wrap(pg);
  let closed = false;
  return {
    kind: 'pglite',
    // Uncompressed: loading it costs ~0.3 s less CPU than a gzip one (it is only kept in memory or a temp file).
    dump: () => pg.dumpDataDir('none'),
    query: root.query,
    exec: root.exec,
    transaction: (fn) => pg.transaction((tx) => fn(wrap(tx))),
    async ping() {
      if (closed || pg.closed) throw new Error('database closed');
      await pg.query('SELECT 1');
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await pg.close();
      } finally {
        lock?.release();
      }
    },
  };
}
