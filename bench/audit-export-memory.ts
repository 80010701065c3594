// Memory of a streamed audit export: fills a throwaway PostgreSQL schema with BENCH_AUDIT_ROWS
// (default 1,000,000) audit rows through generate_series (their hashes do not verify; the export
// does not check them), starts a Tessera in a child process, downloads GET /admin/audit/export
// as JSON Lines and as CSV, and prints the server's RSS and heap before and at the peak of each.
//
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node --import tsx bench/audit-export-memory.ts
//
// BENCH_SERVER_HEAP_MB caps the server's old generation (`--max-old-space-size`): the export
// still completing under a small cap shows that what grows is garbage awaiting collection.
//
// Not part of `npm test` (it takes a minute and wants an idle machine); the figures of a run are
// in docs/operations.md.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { migrate } from '../src/store/sql/migrate.js';
import { openPostgresDb } from '../src/store/sql/postgres-db.js';

const url = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const rows = Number(process.env.BENCH_AUDIT_ROWS ?? 1_000_000);
const schema = `tessera_bench_${randomBytes(4).toString('hex')}`;
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

interface Sample {
  rss: number;
  heapUsed: number;
  external: number;
}

async function admin<T>(fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

async function fill(): Promise<void> {
  const db = openPostgresDb({ connectionString: url, schema });
  try {
    await migrate(db);
    const chunk = 100_000;
    for (let from = 1; from <= rows; from += chunk) {
      const to = Math.min(rows, from + chunk - 1);
      // Times end just before now, so retention leaves them alone.
      await db.query(
        // Marked keyed, so the server does not take them for a legacy chain to re-key at start-up.
        `INSERT INTO audit_log (id, at, type, outcome, user_id, session_id, ip, user_agent, request_id, severity, details, prev_hash, hash, scheme)
         SELECT gen_random_uuid(), now() - ($3::int - i) * interval '1 millisecond',
                CASE WHEN i % 3 = 0 THEN 'login.failed' ELSE 'login.succeeded' END,
                CASE WHEN i % 3 = 0 THEN 'failure' ELSE 'success' END,
                gen_random_uuid(), CASE WHEN i % 3 = 0 THEN NULL ELSE gen_random_uuid() END,
                '198.51.' || (i / 256 % 256) || '.' || (i % 256),
                'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0 #' || i,
                'req-' || i, 'info', jsonb_build_object('reason', 'wrong_password', 'i', i),
                md5(i::text) || md5((i - 1)::text), md5(i::text) || md5((i + 1)::text), 'hmac-sha256'
         FROM generate_series($1::int, $2::int) AS i`,
        [from, to, rows],
      );
      process.stdout.write(`\rinserted ${to.toLocaleString('en')} rows`);
    }
    process.stdout.write('\n');
    await db.query('ANALYZE audit_log');
  } finally {
    await db.close();
  }
}

function request<T>(child: ChildProcess, type: string): Promise<T> {
  const reply = once(child, 'message') as Promise<[T]>;
  child.send({ type });
  return reply.then(([message]) => message);
}

async function download(port: number, token: string, format: 'jsonl' | 'csv'): Promise<{ bytes: number; lines: number; ms: number }> {
  const started = performance.now();
  const response = await fetch(`http://127.0.0.1:${port}/admin/audit/export?format=${format}`, { headers: { authorization: `Bearer ${token}` } });
  if (response.status !== 200 || !response.body) throw new Error(`export answered ${response.status}`);
  let bytes = 0;
  let lines = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    bytes += chunk.byteLength;
    for (const byte of chunk) if (byte === 10) lines += 1;
  }
  return { bytes, lines, ms: performance.now() - started };
}

await admin((pool) => pool.query(`CREATE SCHEMA ${schema}`));
let child: ChildProcess | undefined;
try {
  const filling = performance.now();
  await fill();
  console.log(`filled ${rows.toLocaleString('en')} rows in ${((performance.now() - filling) / 1000).toFixed(1)} s`);
  child = fork(fileURLToPath(new URL('./audit-export-server.ts', import.meta.url)), [url, schema], {
    execArgv: ['--import', 'tsx', '--expose-gc', ...(process.env.BENCH_SERVER_HEAP_MB ? [`--max-old-space-size=${process.env.BENCH_SERVER_HEAP_MB}`] : [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [ready] = (await once(child, 'message')) as [{ port: number; token: string }];
  console.log('format | rows | size | time | RSS before → peak (growth) | heap used before → peak (growth) | kernel peak RSS');
  for (const format of ['jsonl', 'csv'] as const) {
    await request(child, 'reset');
    const result = await download(ready.port, ready.token, format);
    const report = await request<{ baseline: Sample; peak: Sample; kernelPeakRss?: number }>(child, 'report');
    const { baseline, peak } = report;
    console.log(
      [
        format,
        (format === 'csv' ? result.lines - 1 : result.lines).toLocaleString('en'),
        mib(result.bytes),
        `${(result.ms / 1000).toFixed(1)} s`,
        `${mib(baseline.rss)} → ${mib(peak.rss)} (+${mib(peak.rss - baseline.rss)})`,
        `${mib(baseline.heapUsed)} → ${mib(peak.heapUsed)} (+${mib(peak.heapUsed - baseline.heapUsed)})`,
        report.kernelPeakRss === undefined ? 'n/a' : mib(report.kernelPeakRss),
      ].join(' | '),
    );
  }
  child.send({ type: 'stop' });
  await Promise.race([once(child, 'exit'), new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
} finally {
  child?.kill('SIGKILL');
  await admin((pool) => pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
}
