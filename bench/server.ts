// The server side of `npm run bench`: a real Tessera over PostgreSQL with in-process hot state,
// configured as `tessera serve` would be (log level info, the default access log), its log written
// to a file (BENCH_LOG) instead of standard output. It prepares the tokens the load generators
// need, writes them to a file and prints `ready <port> <file>`.
import { writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { pino } from 'pino';
import { parseConfig } from '../src/config/load.js';
import { buildApp } from '../src/server/app.js';
import { createLogger } from '../src/server/logger.js';
import { createTessera } from '../src/app/create-tessera.js';
import { openPostgresDb } from '../src/store/sql/postgres-db.js';

const [url, schema, tokenFile, distinctCount, chains, users] = process.argv.slice(2) as [string, string, string, string, string, string];
const password = 'bench password 0123456789';

const config = parseConfig({
  TESSERA_SECRET: 'bench-secret-bench-secret-bench-secret-0123',
  TESSERA_ISSUER: 'https://auth.bench.example',
  TESSERA_RATE_LIMIT_REFRESH: '999999/1m',
  // The load comes from one address: limits stay in the path (their cost is measured) but never trip.
  TESSERA_RATE_LIMIT_IP: '999999/1m',
  TESSERA_RATE_LIMIT_LOGIN_IP: '999999/1m',
  TESSERA_RATE_LIMIT_LOGIN_ACCOUNT: '999999/1m',
});
// Synchronous writes to a file, as pino writes to standard output by default.
const logger = createLogger(config.logLevel, pino.destination({ dest: process.env.BENCH_LOG ?? '/dev/null', sync: true }));
const db = openPostgresDb({ connectionString: url, schema });
// BENCH_AUDIT=off: the same server without audit records, to measure what auditing costs.
const tessera = await createTessera(config, { db, logger, audit: process.env.BENCH_AUDIT !== 'off' });
const app = await buildApp(tessera, { logger });
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : 0;

const created = [];
for (let i = 0; i < Number(users); i += 1) {
  created.push(await tessera.users.create({ username: `bench-${i}`, password, permissions: ['orders:read'] }));
}
const names = created.map((user) => user.username);
// Access tokens of one session, and refresh chains (one session each) for the rotation load.
const user = created[0]!;
const first = await tessera.login({ username: user.username, password, ip: '127.0.0.1', userAgent: 'bench' });
const accessTokens: string[] = [];
for (let i = 0; i < Number(distinctCount); i += 1) {
  const { token } = await tessera.tokens.issue({
    userId: user.id,
    sessionId: first.session_id,
    username: user.username,
    roles: user.roles,
    permissions: user.permissions,
    amr: ['pwd'],
    tenant: null,
  });
  accessTokens.push(token);
}
const refreshTokens: string[] = [];
for (let i = 0; i < Number(chains); i += 1) {
  const pair = await tessera.login({ username: names[i % names.length]!, password, ip: '127.0.0.1', userAgent: 'bench' });
  refreshTokens.push(pair.refresh_token);
}
writeFileSync(tokenFile, JSON.stringify({ accessTokens, refreshTokens, users: names, password }));
process.stdout.write(`ready ${port} ${tokenFile}\n`);

await Promise.race([once(process, 'SIGTERM'), once(process, 'SIGINT')]);
await app.close();
await tessera.close();
// Let --cpu-prof write its profile on a normal exit.
process.exit(0);
