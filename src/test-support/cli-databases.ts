import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditRecord } from '../audit/record.js';
import type { Db } from '../store/sql/db.js';
import { openPgliteDb } from '../store/sql/pglite-db.js';
import { openPostgresDb } from '../store/sql/postgres-db.js';
import { databaseUrl, uniqueSchema, withAdminPool } from './databases.js';

export function auditRecord(i: number): AuditRecord {
  return { id: randomUUID(), at: new Date(Date.UTC(2030, 0, 1) + i * 1000), type: 'login.failed', outcome: 'failure', userId: null, sessionId: null, ip: '203.0.113.66', userAgent: null, requestId: null, severity: 'low', details: { i } };
}

/** A database the CLI opens from its environment, and the same database opened here between runs. */
export interface CliDatabase {
  env: Record<string, string>;
  open(): Promise<Db>;
  cleanup(): Promise<void>;
}

/**
 * Puts a migrated, empty embedded database at `pgdata` when `npm test` made one for the run
 * (scripts/pglite-template.mjs): the command's first run then opens it (~0.4 s) instead of
 * creating it (~3 s). Run on its own, a test lets the command create it, as a first start would.
 */
export function seedDataDir(pgdata: string): void {
  const template = process.env.TESSERA_TEST_PGLITE_DATADIR;
  if (template) cpSync(template, pgdata, { recursive: true });
}

/** `migrated`: start from a migrated database where the run made one (tests that build an older schema leave it out). */
export function cliDatabases(secret: string): Array<{ name: string; create(options?: { migrated?: boolean }): Promise<CliDatabase> }> {
  const pglite = {
    name: 'pglite',
    async create({ migrated = false } = {}): Promise<CliDatabase> {
      const dir = mkdtempSync(join(tmpdir(), 'tessera-cli-audit-'));
      if (migrated) seedDataDir(join(dir, 'pgdata'));
      return {
        env: { TESSERA_SECRET: secret, TESSERA_DATA_DIR: dir },
        open: () => openPgliteDb({ dataDir: join(dir, 'pgdata') }),
        cleanup: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  };
  if (!databaseUrl) return [pglite];
  const url = databaseUrl;
  const postgres = {
    name: 'postgres',
    async create(): Promise<CliDatabase> {
      const schema = uniqueSchema();
      await withAdminPool(url, (pool) => pool.query(`CREATE SCHEMA ${schema}`));
      const separator = url.includes('?') ? '&' : '?';
      return {
        env: { TESSERA_SECRET: secret, DATABASE_URL: `${url}${separator}options=${encodeURIComponent(`-c search_path=${schema}`)}` },
        open: async () => openPostgresDb({ connectionString: url, schema }),
        cleanup: async () => {
          await withAdminPool(url, (pool) => pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
        },
      };
    },
  };
  return [pglite, postgres];
}

