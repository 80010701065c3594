// The server side of `npm run bench`: a real Tessera over PostgreSQL with in-process hot state,
// plus a bare route in the same Fastify instance as the baseline. It prepares the tokens the
// load generator needs, writes them to a file and prints `ready <port> <file>`.
import { writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { parseConfig } from '../src/config/load.js';
import { buildApp } from '../src/server/app.js';
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
  TESSERA_LOG_LEVEL: 'silent',
});
const db = openPostgresDb({ connectionString: url, schema });
// BENCH_AUDIT=off: the same server without audit records, to measure what auditing costs.
const tessera = await createTessera(config, { db, audit: process.env.BENCH_AUDIT !== 'off' });
const app = await buildApp(tessera);
app.get('/bench/bare', async () => ({ ok: true }));
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : 0;

const names: string[] = [];
for (let i = 0; i < Number(users); i += 1) {
  const user = await tessera.users.create({ username: `bench-${i}`, password, permissions: ['orders:read'] });
  names.push(user.username);
}
// Access tokens of one session, and refresh chains (one session each) for the rotation load.
const first = await tessera.login({ username: names[0], password, ip: '127.0.0.1', userAgent: 'bench' });
const accessTokens: string[] = [];
const user = (await tessera.stores.users.findByUsername(names[0]!))!;
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
  const pair = await tessera.login({ username: names[i % names.length], password, ip: '127.0.0.1', userAgent: 'bench' });
  refreshTokens.push(pair.refresh_token);
}
writeFileSync(tokenFile, JSON.stringify({ accessTokens, refreshTokens, users: names, password }));
process.stdout.write(`ready ${port} ${tokenFile}\n`);

await Promise.race([once(process, 'SIGTERM'), once(process, 'SIGINT')]);
await app.close();
await tessera.close();
// Let --cpu-prof write its profile on a normal exit.
process.exit(0);
