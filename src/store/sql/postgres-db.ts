import pg from 'pg';
import { AuthError } from '../../errors/auth-error.js';
import type { Db, Queryable } from './db.js';

/**
 * True for failures to reach PostgreSQL (refused, reset, timed out, server shutting down,
 * SQLSTATE class 08), as opposed to errors in a statement.
 */
export function isConnectionError(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', '57P01', '57P02', '57P03'].includes(code) ||
    code.startsWith('08') ||
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end/.test(message)
  );
}

/** A database outage becomes 503 service_unavailable; the cause stays for the logs. */
async function guarded<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (isConnectionError(error)) throw new AuthError('service_unavailable', { detail: 'database unreachable', cause: error });
    throw error;
  }
}

export interface PostgresOptions {
  connectionString: string;
  /** Schema to use (search_path); tests give each run its own. */
  schema?: string;
  max?: number;
  /** Called with connection errors of idle clients, which would otherwise crash the process. */
  onError?: (error: Error) => void;
}

function wrap(client: pg.Pool | pg.PoolClient): Queryable {
  return {
    async query<Row>(sql: string, params: readonly unknown[] = []): Promise<Row[]> {
      const result = await guarded(() => client.query(sql, params as unknown[]));
      return result.rows as Row[];
    },
    async exec(sql: string): Promise<void> {
      await guarded(() => client.query(sql));
    },
  };
}

const maxTransactionAttempts = 3;

/** PostgreSQL through a `pg` connection pool. */
export function openPostgresDb(options: PostgresOptions): Db {
  if (options.schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(options.schema)) {
    throw new Error('invalid schema name');
  }
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    ...(options.schema === undefined ? {} : { options: `-c search_path=${options.schema}` }),
  });
  pool.on('error', (error) => options.onError?.(error));
  const root = wrap(pool);
  let closed = false;

  async function runTransaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await guarded(() => pool.connect());
    let broken = false;
    try {
      await guarded(() => client.query('BEGIN'));
      const result = await fn(wrap(client));
      await guarded(() => client.query('COMMIT'));
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }

  return {
    kind: 'postgres',
    query: root.query,
    exec: root.exec,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      // A deadlock or serialization failure aborts the whole transaction before anything is
      // committed: run it again (PostgreSQL picks one victim; the retry then goes through).
      for (let attempt = 1; ; attempt += 1) {
        try {
          return await runTransaction(fn);
        } catch (error) {
          const code = (error as { code?: string }).code;
          if (attempt >= maxTransactionAttempts || (code !== '40P01' && code !== '40001')) throw error;
        }
      }
    },
    async ping() {
      if (closed) throw new Error('database closed');
      await pool.query('SELECT 1');
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
