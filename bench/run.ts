// npm run bench: throughput of Tessera's hot paths as ratios against baselines measured in the
// same run on this machine, written to docs/benchmarks.md. Needs PostgreSQL (DATABASE_URL,
// default postgres://postgres@127.0.0.1:5432/test) and, for verification, wrk (Debian: apt-get
// install wrk); everything listens on 127.0.0.1 and stops by itself. BENCH_ROUNDS (default 3) and
// BENCH_SECONDS (default 5) set the effort.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { cpus, tmpdir, totalmem, loadavg } from 'node:os';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { hash, verify } from '@node-rs/argon2';
import pg from 'pg';
import { distinctTokenRounds, frameworks, middlewareRounds, repeatedTokenRounds, revocationBytesPerEntry, revocationLookupRounds } from './sdk.js';

const only = (part: string) => !process.env.BENCH_ONLY || process.env.BENCH_ONLY.split(',').includes(part);
const url = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = 50;
const distinctTokens = only('verify') ? 12_000 : 1; // more than the verified-token cache holds (10 000): every request misses
// A run that ends cuts up to one in-flight refresh per connection, and that chain's successor
// is never read: keep enough chains for every round.
const chains = connections * (rounds + 2);
const root = fileURLToPath(new URL('..', import.meta.url));

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const ratio = (n: number) => `${n.toFixed(2)}×`;

async function withPool<T>(fn: (pool: pg.Pool) => Promise<T>, schema?: string, max = 1): Promise<T> {
  const pool = new pg.Pool({ connectionString: url, max, ...(schema ? { options: `-c search_path=${schema}` } : {}) });
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

interface Tokens {
  accessTokens: string[];
  refreshTokens: string[];
  users: string[];
  password: string;
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

interface BenchProcess {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Starts `bench/<script>` in its own Node.js process and waits for its `ready <port>` line. */
async function startProcess(script: string, args: string[], env: Record<string, string> = {}): Promise<BenchProcess> {
  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []),
      '--import',
      import.meta.resolve('tsx'),
      join(root, 'bench', script),
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_ENV: 'production', ...env } },
  );
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bench/${script} exited with ${code}`)));
    lines.on('line', (line) => {
      const match = /^ready (\d+)/.exec(line);
      if (match) resolve(Number(match[1]));
    });
  });
  return {
    port,
    pid: child.pid!,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** A Tessera (bench/server.ts) with its tokens; its log goes to `log`. */
async function startServer(schema: string, audit = true, log = '/dev/null'): Promise<BenchProcess & { tokens: Tokens }> {
  const file = join(tmpdir(), `tessera-bench-${randomBytes(4).toString('hex')}.json`);
  const server = await startProcess('server.ts', [url, schema, file, String(distinctTokens), String(chains), '50'], {
    BENCH_AUDIT: audit ? 'on' : 'off',
    BENCH_LOG: log,
  });
  const tokens = JSON.parse(readFileSync(file, 'utf8')) as Tokens;
  rmSync(file);
  return { ...server, tokens };
}

interface WrkResult {
  requestsPerSecond: number;
  p99Ms: number;
  /** Server CPU time (user + system, every thread) per request, µs. */
  cpuPerRequest: number;
  requests: number;
}

/**
 * One wrk run (one thread, `connections` connections) against a server process; with `tokenFile`,
 * each request carries the next token of the file (bench/wrk.lua).
 */
function wrk(target: { port: number; pid: number }, path: string, options: { headers?: Record<string, string>; tokenFile?: string; seconds?: number } = {}): WrkResult {
  const args = ['-t1', `-c${connections}`, `-d${options.seconds ?? seconds}s`, '--timeout', '5s', '-s', join(root, 'bench/wrk.lua')];
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push('-H', `${name}: ${value}`);
  args.push(`http://127.0.0.1:${target.port}${path}`);
  const cpuBefore = cpuSeconds(target.pid);
  const output = execFileSync('wrk', args, { encoding: 'utf8', env: { ...process.env, ...(options.tokenFile ? { WRK_TOKENS: options.tokenFile } : {}) } });
  const cpu = cpuSeconds(target.pid) - cpuBefore;
  const line = output.split('\n').find((l) => l.startsWith('{"requests"'));
  if (!line) throw new Error(`wrk printed no summary:\n${output}`);
  const summary = JSON.parse(line) as { requests: number; durationUs: number; non2xx: number; errors: number; p99Us: number };
  if (summary.non2xx + summary.errors > 0 || summary.requests === 0) {
    throw new Error(`${path}: ${summary.non2xx} non-2xx and ${summary.errors} socket errors of ${summary.requests}`);
  }
  return {
    requestsPerSecond: summary.requests / (summary.durationUs / 1e6),
    p99Ms: summary.p99Us / 1000,
    cpuPerRequest: (cpu / summary.requests) * 1e6,
    requests: summary.requests,
  };
}

let serverPid = 0;

/** One autocannon run; adds the server's CPU time per request (µs) and cores kept busy. */
async function cannon(options: autocannon.Options): Promise<autocannon.Result & { cpuPerRequest: number; coresBusy: number }> {
  const cpuBefore = cpuSeconds(serverPid);
  const started = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    autocannon({ duration: seconds, connections, ...options }, (error, res) => (error ? reject(error) : resolve(res)));
  });
  const cpu = cpuSeconds(serverPid) - cpuBefore;
  const elapsed = (performance.now() - started) / 1000;
  return { ...result, cpuPerRequest: (cpu / Math.max(1, result.requests.total)) * 1e6, coresBusy: cpu / elapsed };
}

function assertClean(name: string, result: autocannon.Result, okStatus = 200): void {
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0 || result.requests.total === 0) {
    throw new Error(`${name}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts of ${result.requests.total} (expected ${okStatus})`);
  }
}

/** Raw PostgreSQL: the same rotation (lock, consume, insert successor) as bare SQL, 10 clients like the app's pool. */
async function rawRotation(schema: string): Promise<number> {
  return withPool(
    async (pool) => {
      await pool.query(`CREATE TABLE raw_rotation (id text PRIMARY KEY, session_id uuid NOT NULL, secret_hash text NOT NULL,
        created_at timestamptz NOT NULL, expires_at timestamptz NOT NULL, consumed_at timestamptz, successor_id text)`);
      const session = randomUUID();
      const deadline = Date.now() + seconds * 1000;
      let count = 0;
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          let id = randomBytes(16).toString('base64url');
          await pool.query('INSERT INTO raw_rotation VALUES ($1, $2, $3, now(), now() + interval \'7 days\', NULL, NULL)', [id, session, 'h']);
          while (Date.now() < deadline) {
            const next = randomBytes(16).toString('base64url');
            const client = await pool.connect();
            try {
              await client.query('BEGIN');
              await client.query('SELECT id FROM raw_rotation WHERE id = $1 FOR UPDATE', [id]);
              await client.query('INSERT INTO raw_rotation VALUES ($1, $2, $3, now(), now() + interval \'7 days\', NULL, NULL)', [next, session, 'h']);
              await client.query('UPDATE raw_rotation SET consumed_at = now(), successor_id = $2 WHERE id = $1', [id, next]);
              await client.query('COMMIT');
            } finally {
              client.release();
            }
            id = next;
            count += 1;
          }
        }),
      );
      return count / seconds;
    },
    schema,
    10,
  );
}

/** The cost of one rate-limit check (rate-limiter-flexible), in µs: in memory, and in Redis. */
async function limiterCost(): Promise<{ memory: number; redis: number | undefined }> {
  const { createMemoryHotState } = await import('../src/store/hot/memory-hot-state.js');
  const { createRedisHotState } = await import('../src/store/hot/redis-hot-state.js');
  const measure = async (limiter: { consume(key: string): Promise<unknown> }, n: number) => {
    for (let i = 0; i < 200; i += 1) await limiter.consume(`warm-${i % 50}`);
    const started = performance.now();
    for (let i = 0; i < n; i += 1) await limiter.consume(`key-${i % 500}`);
    return ((performance.now() - started) * 1000) / n;
  };
  const memory = await measure(createMemoryHotState().rateLimiter('bench', 1e9, 3600), 20_000);
  let redis: number | undefined;
  if (process.env.REDIS_URL) {
    const prefix = `tessera-bench-${randomBytes(3).toString('hex')}`;
    const hot = await createRedisHotState({ url: process.env.REDIS_URL, prefix });
    try {
      redis = await measure(hot.rateLimiter('bench', 1e9, 3600), 3000);
    } finally {
      await hot.close();
      const { deleteRedisKeys } = await import('../src/test-support/hot-state.js');
      await deleteRedisKeys(process.env.REDIS_URL, prefix);
    }
  }
  return { memory, redis };
}

/** Raw argon2id verification throughput at the OWASP parameters, 4 in flight (the libuv pool). */
async function rawArgon2(): Promise<number> {
  const stored = await hash('bench password 0123456789', { memoryCost: 19_456, timeCost: 2, parallelism: 1 });
  const deadline = Date.now() + seconds * 1000;
  let count = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (Date.now() < deadline) {
        await verify(stored, 'bench password 0123456789');
        count += 1;
      }
    }),
  );
  return count / seconds;
}

/** A refresh load on its own chains: each token presented once, its successor queued again. */
function refreshLoad(base: string, queue: string[]) {
  return cannon({
    url: `${base}/auth/refresh`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    requests: [
      {
        setupRequest: (request) => ({ ...request, body: JSON.stringify({ refresh_token: queue.shift() }) }),
        onResponse: (status, body) => {
          if (status === 200) queue.push((JSON.parse(body) as { refresh_token: string }).refresh_token);
        },
      },
    ],
  });
}

function loginLoad(base: string, users: string[], password: string) {
  let n = 0;
  return cannon({
    url: `${base}/auth/login`,
    method: 'POST',
    connections: 16,
    headers: { 'content-type': 'application/json' },
    requests: [{ setupRequest: (request) => ({ ...request, body: JSON.stringify({ username: users[n++ % users.length], password }) }) }],
  });
}

/**
 * (d) What the audit trail costs: the same server with and without audit records (every sign-in
 * and refresh writes one or more records in its transaction), interleaved per round, one loaded at
 * a time.
 */
async function auditCost(record: (key: string, value: number) => void): Promise<void> {
  const schemas = [`tessera_bench_${randomBytes(4).toString('hex')}`, `tessera_bench_${randomBytes(4).toString('hex')}`];
  for (const schema of schemas) await withPool((pool) => pool.query(`CREATE SCHEMA ${schema}`));
  const servers: Awaited<ReturnType<typeof startServer>>[] = [];
  try {
    servers.push(await startServer(schemas[0]!, true), await startServer(schemas[1]!, false));
    const [on, off] = servers as [(typeof servers)[0], (typeof servers)[0]];
    const queues: [string[], string[]] = [[...on.tokens.refreshTokens], [...off.tokens.refreshTokens]];
    // Every refresh round first: sign-ins end the oldest sessions of a user (the session limit),
    // which would cut the refresh chains.
    for (let round = 0; round < rounds; round += 1) {
      serverPid = on.pid;
      const refreshOn = await refreshLoad(`http://127.0.0.1:${on.port}`, queues[0]);
      serverPid = off.pid;
      const refreshOff = await refreshLoad(`http://127.0.0.1:${off.port}`, queues[1]);
      assertClean('refresh, audit on', refreshOn);
      assertClean('refresh, audit off', refreshOff);
      record('auditRefreshOn', refreshOn.requests.average);
      record('auditRefreshOff', refreshOff.requests.average);
      record('auditRefreshRatio', refreshOn.requests.average / refreshOff.requests.average);
      if (process.env.BENCH_ONLY) console.log(`audit: refresh ${Math.round(refreshOn.requests.average)} vs ${Math.round(refreshOff.requests.average)}/s`);
    }
    for (let round = 0; round < rounds; round += 1) {
      serverPid = on.pid;
      const loginOn = await loginLoad(`http://127.0.0.1:${on.port}`, on.tokens.users, on.tokens.password);
      serverPid = off.pid;
      const loginOff = await loginLoad(`http://127.0.0.1:${off.port}`, off.tokens.users, off.tokens.password);
      assertClean('login, audit on', loginOn);
      assertClean('login, audit off', loginOff);
      record('auditLoginOn', loginOn.requests.average);
      record('auditLoginOff', loginOff.requests.average);
      record('auditLoginRatio', loginOn.requests.average / loginOff.requests.average);
      if (process.env.BENCH_ONLY) console.log(`audit: login ${Math.round(loginOn.requests.average)} vs ${Math.round(loginOff.requests.average)}/s`);
    }
  } finally {
    for (const server of servers) await server.stop();
    for (const schema of schemas) await withPool((pool) => pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
  }
}

/**
 * (a) GET /auth/verify against a bare node:http server and a bare Fastify server, each in its own
 * process, loaded one at a time by wrk and interleaved per round.
 */
async function verifyCost(server: BenchProcess & { tokens: Tokens }, log: string, record: (key: string, value: number) => void): Promise<void> {
  const tokenFile = join(tmpdir(), `tessera-bench-tokens-${randomBytes(4).toString('hex')}.txt`);
  writeFileSync(tokenFile, `${server.tokens.accessTokens.join('\n')}\n`);
  const baselines: BenchProcess[] = [];
  try {
    const jwks = `http://127.0.0.1:${server.port}/.well-known/jwks.json`;
    baselines.push(
      await startProcess('bare-node.ts', []),
      await startProcess('bare-fastify.ts', []),
      await startProcess('bare-node.ts', ['verify-answer']),
      await startProcess('bare-node.ts', ['verify-rs256', jwks, 'pool']),
      await startProcess('bare-node.ts', ['verify-rs256', jwks, 'sync']),
    );
    const [node, fastify, answer, rsaPool, rsaSync] = baselines as [BenchProcess, BenchProcess, BenchProcess, BenchProcess, BenchProcess];
    const bearer = { authorization: `Bearer ${server.tokens.accessTokens[0]}` };
    const variants = {
      node: () => wrk(node, '/bench/bare'),
      fastify: () => wrk(fastify, '/bench/bare'),
      answer: () => wrk(answer, '/bench/bare'),
      rsaPool: () => wrk(rsaPool, '/bench/bare', { tokenFile }),
      rsaSync: () => wrk(rsaSync, '/bench/bare', { tokenFile }),
      same: () => wrk(server, '/auth/verify', { headers: bearer }),
      distinct: () => wrk(server, '/auth/verify', { tokenFile }),
    };
    // Warm-up (not recorded): the JIT has compiled the hot paths before the first round.
    wrk(node, '/bench/bare', { seconds: 2 });
    wrk(fastify, '/bench/bare', { seconds: 2 });
    wrk(answer, '/bench/bare', { seconds: 2 });
    wrk(rsaPool, '/bench/bare', { tokenFile, seconds: 2 });
    wrk(rsaSync, '/bench/bare', { tokenFile, seconds: 2 });
    wrk(server, '/auth/verify', { headers: bearer, seconds: 2 });
    for (let round = 0; round < rounds; round += 1) {
      const results: Partial<Record<keyof typeof variants, WrkResult>> = {};
      for (const [name, run] of Object.entries(variants) as [keyof typeof variants, () => WrkResult][]) {
        const logBefore = statSync(log).size;
        const result = run();
        results[name] = result;
        record(name, result.requestsPerSecond);
        record(`${name}P99`, result.p99Ms);
        record(`${name}Cpu`, result.cpuPerRequest);
        if (name === 'same' || name === 'distinct') record(`${name}LogBytes`, (statSync(log).size - logBefore) / result.requests);
      }
      for (const name of ['fastify', 'answer', 'rsaPool', 'rsaSync', 'same', 'distinct'] as const) record(`${name}Ratio`, results[name]!.requestsPerSecond / results.node!.requestsPerSecond);
      // Each Tessera figure against the floor for the same work (the faster way to check, for new tokens).
      record('sameFloor', results.same!.requestsPerSecond / results.answer!.requestsPerSecond);
      record('distinctFloor', results.distinct!.requestsPerSecond / Math.max(results.rsaPool!.requestsPerSecond, results.rsaSync!.requestsPerSecond));
      if (process.env.BENCH_ONLY) {
        console.log(
          Object.entries(results)
            .map(([name, r]) => `${name} ${Math.round(r.requestsPerSecond)}/s ${Math.round(r.cpuPerRequest)} µs`)
            .join(', '),
        );
      }
    }
  } finally {
    for (const baseline of baselines) await baseline.stop();
    rmSync(tokenFile, { force: true });
  }
}

const sdkDistinctTokens = 2000;
const sdkRevocations = 100_000;

/** (e) tessera/verify (bench/sdk.ts): in this process against raw node:crypto, then its middlewares against their bare frameworks. */
async function sdkCost(record: (key: string, value: number) => void): Promise<void> {
  for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) {
    for (const r of await distinctTokenRounds(alg, { count: sdkDistinctTokens, passes: 2, rounds })) {
      record(`sdk${alg}`, r.sdk);
      record(`sdk${alg}Raw`, r.raw);
      record(`sdk${alg}Ratio`, r.ratio);
      if (process.env.BENCH_ONLY) console.log(`sdk: distinct ${alg} ${Math.round(r.sdk)}/s vs raw ${Math.round(r.raw)}/s`);
    }
  }
  for (const r of await repeatedTokenRounds('RS256', { ms: 300, rounds })) {
    record('sdkSame', r.sdk);
    record('sdkSameRaw', r.raw);
    record('sdkSameRatio', r.ratio);
    if (process.env.BENCH_ONLY) console.log(`sdk: repeated RS256 ${Math.round(r.sdk)}/s vs raw ${Math.round(r.raw)}/s`);
  }
  for (const r of revocationLookupRounds({ entries: sdkRevocations, calls: 1_000_000, rounds })) {
    record('sdkLookupLive', r.notRevokedNs);
    record('sdkLookupRevoked', r.revokedNs);
  }
  record('sdkRevocationBytes', revocationBytesPerEntry(sdkRevocations));
  for (const r of await middlewareRounds({ startProcess, wrk }, { rounds, seconds })) {
    record(`sdk-${r.framework}`, r.auth);
    record(`sdk-${r.framework}Bare`, r.bare);
    record(`sdk-${r.framework}Ratio`, r.ratio);
    record(`sdk-${r.framework}Cpu`, r.authCpu);
    record(`sdk-${r.framework}BareCpu`, r.bareCpu);
    if (process.env.BENCH_ONLY) console.log(`sdk: ${r.framework} ${Math.round(r.auth)}/s vs bare ${Math.round(r.bare)}/s`);
  }
}

/** The report's section for part `sdk`, from the medians. */
function sdkSection(m: (key: string) => number): string {
  const distinct = (alg: string) =>
    `| ${alg}, ${fmt(sdkDistinctTokens)} distinct tokens, each new to the verifier | ${fmt(m(`sdk${alg}`))} | ${fmt(m(`sdk${alg}Raw`))} | ${ratio(m(`sdk${alg}Ratio`))} | ≥ 0.80× |`;
  const framework = (name: string) =>
    `| ${name} | ${fmt(m(`sdk-${name}Bare`))} | ${fmt(m(`sdk-${name}`))} | ${ratio(m(`sdk-${name}Ratio`))} | ${fmt(m(`sdk-${name}BareCpu`))} µs | ${fmt(m(`sdk-${name}Cpu`))} µs |`;
  return `
## Verification SDK (tessera/verify)

\`verify\` in the benchmark's own process, each call awaited before the next (what a caller pays),
against raw \`crypto.verify\` over the same signing inputs and signatures, decoded ahead, with one
KeyObject made from the same JWK; the two alternate within each round. Distinct tokens: a fresh
verifier per pass, so no token is in its cache.

| tokens | SDK, tokens/s | raw crypto.verify, per second | ratio | target |
| --- | ---: | ---: | ---: | --- |
${['RS256', 'ES256', 'EdDSA'].map(distinct).join('\n')}
| RS256, one token again and again: a cache hit, plus the revocation check against 100,000 revocations held from a (loopback) revocation stream | ${fmt(m('sdkSame'))} | ${fmt(m('sdkSameRaw'))} | ${ratio(m('sdkSameRatio'))} | ≥ 5× |

Revocation lookup, \`RevocationCache.check(claims, now)\` holding ${fmt(sdkRevocations)} entries (40 % jti, 30 % sid,
20 % revoke-all, 10 % disabled users): **${fmt(m('sdkLookupLive'))} ns** for a token nothing revokes (every map
consulted; half of them of a user with an older revoke-all), **${fmt(m('sdkLookupRevoked'))} ns** for a revoked one (by each
kind in turn); target < 1 µs. Memory: **${fmt(m('sdkRevocationBytes'))} bytes per entry**, its subject string included: the heap
used after two full collections, before and after filling the cache, in a process of its own (\`--expose-gc\`).

Middlewares: \`tesseraAuth\` (one permission required) on one JSON route, one repeated valid RS256
token, against the same framework's bare route, each server in its own process; wrk, one thread,
${connections} connections; per round bare, auth, auth, bare for half the seconds each.

| framework | bare route, req/s | behind tesseraAuth, req/s | ratio | server CPU per request, bare | behind tesseraAuth |
| --- | ---: | ---: | ---: | ---: | ---: |
${frameworks.map(framework).join('\n')}
`;
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const schema = `tessera_bench_${randomBytes(4).toString('hex')}`;
  const log = join(tmpdir(), `tessera-bench-${randomBytes(4).toString('hex')}.log`);
  writeFileSync(log, '');
  await withPool((pool) => pool.query(`CREATE SCHEMA ${schema}`));
  const server = await startServer(schema, true, log).catch(async (error: unknown) => {
    await withPool((pool) => pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
    throw error;
  });
  serverPid = server.pid;
  const base = `http://127.0.0.1:${server.port}`;
  const { refreshTokens, users, password } = server.tokens;
  const rows: Record<string, number[]> = {};
  const record = (key: string, value: number) => (rows[key] ??= []).push(value);

  try {
    if (only('verify')) await verifyCost(server, log, record);

    // (b) refresh rotation: a shared queue of live refresh tokens; each is presented exactly once
    // and its successor goes back in the queue, so chains never collide (no reuse detection).
    const queue = [...refreshTokens];
    for (let round = 0; round < (only('refresh') ? rounds : 0); round += 1) {
      const refresh = await refreshLoad(base, queue);
      if (refresh.non2xx > 0) console.error('refresh statuses', JSON.stringify((refresh as unknown as { statusCodeStats: unknown }).statusCodeStats));
      assertClean('refresh', refresh);
      const raw = await rawRotation(`${schema}`).finally(() =>
        withPool((p) => p.query('DROP TABLE IF EXISTS raw_rotation'), schema),
      );
      record('refresh', refresh.requests.average);
      record('rawRotation', raw);
      record('refreshRatio', refresh.requests.average / raw);
      record('refreshP99', refresh.latency.p99);
      record('refreshCpu', refresh.cpuPerRequest);
      record('refreshCores', refresh.coresBusy);
      if (process.env.BENCH_ONLY) console.log(`refresh ${Math.round(refresh.requests.average)}/s, server ${Math.round(refresh.cpuPerRequest)} µs CPU/req, ${refresh.coresBusy.toFixed(2)} cores`);
    }

    // (c) sign-in against raw argon2id verification, with /healthz latency under that load.
    for (let round = 0; round < (only('login') ? rounds : 0); round += 1) {
      const loginRun = loginLoad(base, users, password);
      // A monitoring probe, not a second load: 100 requests a second on one connection.
      const health = cannon({ url: `${base}/healthz`, connections: 1, overallRate: 100 });
      const [login, healthz] = await Promise.all([loginRun, health]);
      assertClean('login', login);
      assertClean('healthz', healthz);
      const raw = await rawArgon2();
      record('login', login.requests.average);
      record('rawArgon2', raw);
      record('loginRatio', login.requests.average / raw);
      record('healthzP99', healthz.latency.p99);
      record('loginCpu', login.cpuPerRequest);
      if (process.env.BENCH_ONLY) console.log(`login ${login.requests.average}/s raw ${raw}/s, server ${Math.round(login.cpuPerRequest)} µs CPU/req, ${login.coresBusy.toFixed(2)} cores`);
    }
  } finally {
    await server.stop();
    rmSync(log, { force: true });
    await withPool((pool) => pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
  }
  if (only('audit')) await auditCost(record);
  if (only('sdk')) await sdkCost(record);

  const limiter = only('login') ? await limiterCost() : { memory: NaN, redis: undefined };
  const m = (key: string) => median(rows[key] ?? [NaN]);
  const loadAfter = loadavg();
  const us = (key: string) => `${fmt(m(key))} µs`;
  const ms = (key: string) => m(key).toFixed(1);
  const report = `# Benchmarks

Produced by \`npm run bench\` (bench/run.ts) on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC.
Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node.js ${process.version};
load average ${loadBefore.map((n) => n.toFixed(2)).join(' ')} before the run, ${loadAfter.map((n) => n.toFixed(2)).join(' ')} after it.
PostgreSQL over loopback, in-process hot state. ${rounds} rounds of ${seconds} s per variant, variants interleaved within
each round; each figure is the median over rounds and each ratio the median of per-round ratios
(variant and baseline measured in the same round). Every server runs in its own process; the load
generator shares the 2 cores with it. Absolute numbers move ±15 % between runs on this shared VM:
read the ratios. What the profiles show: [performance.md](performance.md).

## Verification: GET /auth/verify against bare servers

Load generator: wrk, one thread, ${connections} connections. Tessera runs as \`tessera serve\` would: log level
\`info\`, \`TESSERA_ACCESS_LOG\` at its default, the log written synchronously to a file. CPU per request is the
server process's CPU time (user + system, every thread, from \`/proc/<pid>/stat\`) over the requests answered.

| variant | req/s | ratio to bare node:http | server CPU per request | p99 ms | target |
| --- | ---: | ---: | ---: | ---: | --- |
| bare \`node:http\` server, a small JSON answer | ${fmt(m('node'))} | 1.00× | ${us('nodeCpu')} | ${ms('nodeP99')} | |
| bare Fastify server, one JSON route | ${fmt(m('fastify'))} | ${ratio(m('fastifyRatio'))} | ${us('fastifyCpu')} | ${ms('fastifyP99')} | |
| floor for a repeated token: bare \`node:http\` server sending the verify answer (its 24 headers as one flat list, a body of the same size) | ${fmt(m('answer'))} | ${ratio(m('answerRatio'))} | ${us('answerCpu')} | ${ms('answerP99')} | |
| Tessera GET /auth/verify, one repeated token | ${fmt(m('same'))} | ${ratio(m('sameRatio'))} | ${us('sameCpu')} | ${ms('sameP99')} | ≥ 0.70× |
| floor for new tokens: the same bare answer after one raw RS256 check of each token, on the thread pool | ${fmt(m('rsaPool'))} | ${ratio(m('rsaPoolRatio'))} | ${us('rsaPoolCpu')} | ${ms('rsaPoolP99')} | |
| the same floor, the RS256 check on the event loop | ${fmt(m('rsaSync'))} | ${ratio(m('rsaSyncRatio'))} | ${us('rsaSyncCpu')} | ${ms('rsaSyncP99')} | |
| Tessera GET /auth/verify, distinct tokens (${fmt(distinctTokens)}, more than the cache holds) | ${fmt(m('distinct'))} | ${ratio(m('distinctRatio'))} | ${us('distinctCpu')} | ${ms('distinctP99')} | ≥ 0.40× |

Against the floor for the same work, in the same round: repeated token **${ratio(m('sameFloor'))}** of the bare
server sending the same answer; distinct tokens **${ratio(m('distinctFloor'))}** of the faster bare RS256 server.
The floors are what Node.js itself does on this machine with the contract's answer and one
signature check, and no more: no parsing, no claims, no revocation check.

Log written per verification: ${m('sameLogBytes').toFixed(0)} bytes (repeated token), ${m('distinctLogBytes').toFixed(0)} bytes (distinct tokens).

The sections below use autocannon (${connections} connections unless stated): each of their requests
depends on the answer to an earlier one (a refresh presents the successor it was given), which
autocannon's request hooks express directly, and their rates are far below what it can generate.

## Refresh rotation: POST /auth/refresh against the raw PostgreSQL rotation transaction

| variant | per second | ratio | p99 ms | target |
| --- | ---: | ---: | ---: | --- |
| raw transaction (lock, insert successor, consume), 10 clients | ${fmt(m('rawRotation'))} | 1.00× | | |
| POST /auth/refresh, ${connections} connections each on its own chain | ${fmt(m('refresh'))} | ${ratio(m('refreshRatio'))} | ${m('refreshP99')} | ≥ 0.50× |

## Sign-in: POST /auth/login against raw argon2id verification

| variant | per second | ratio | target |
| --- | ---: | ---: | --- |
| raw argon2id verify (m=19456, t=2, p=1), 4 in flight | ${fmt(m('rawArgon2'))} | 1.00× | |
| POST /auth/login, 16 connections | ${fmt(m('login'))} | ${ratio(m('loginRatio'))} | ≥ 0.85× |

## Cost of the audit trail: the same server with audit records on and off

| variant | audit on, per second | audit off, per second | ratio on/off | target |
| --- | ---: | ---: | ---: | --- |
| POST /auth/refresh (records: \`refresh_token.rotated\`, in the rotation transaction) | ${fmt(m('auditRefreshOn'))} | ${fmt(m('auditRefreshOff'))} | ${ratio(m('auditRefreshRatio'))} | ≥ 0.90× |
| POST /auth/login (records: \`session.created\`, \`login.succeeded\`, in the session transaction) | ${fmt(m('auditLoginOn'))} | ${fmt(m('auditLoginOff'))} | ${ratio(m('auditLoginRatio'))} | ≥ 0.90× |

GET /healthz p99 while sign-in is loaded (a probe of 100 requests/s alongside): **${m('healthzP99')} ms**.
The sign-in path includes the password input checks, the overall per-IP limit, both sign-in rate
limits and the lockout check (limits set high enough not to trip).

## Rate limiter cost

One \`consume\` of rate-limiter-flexible, sequential, in this process: **${limiter.memory.toFixed(1)} µs** in memory${
    limiter.redis === undefined ? ' (REDIS_URL not set: Redis not measured)' : `, **${limiter.redis.toFixed(0)} µs** in Redis (one round trip over loopback)`
  }. A sign-in consumes three (per IP overall, per IP for sign-in, per account and IP).
${only('sdk') ? sdkSection(m) : ''}`;
  if (!process.env.BENCH_ONLY) writeFileSync(join(root, 'docs/benchmarks.md'), report);
  process.stdout.write(report);
}

await main();
