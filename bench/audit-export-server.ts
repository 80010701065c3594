// The server side of bench/audit-export-memory.ts: a real Tessera over PostgreSQL in its own
// process, so its memory is measured apart from the client's. It sends `{port, token}` over IPC,
// then answers `reset` (collect garbage, take a baseline, reset the peak) and `report` (baseline
// and peak since the reset) messages.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseConfig } from '../src/config/load.js';
import { buildApp } from '../src/server/app.js';
import { createTessera } from '../src/app/create-tessera.js';
import { openPostgresDb } from '../src/store/sql/postgres-db.js';

const [url, schema] = process.argv.slice(2) as [string, string];
const password = 'bench password 0123456789';

interface Sample {
  rss: number;
  heapUsed: number;
  external: number;
}

const config = parseConfig({
  TESSERA_SECRET: 'bench-secret-bench-secret-bench-secret-0123',
  TESSERA_ISSUER: 'https://auth.bench.example',
  TESSERA_RATE_LIMIT_IP: '999999/1m',
  TESSERA_LOG_LEVEL: 'silent',
});
const db = openPostgresDb({ connectionString: url, schema });
const tessera = await createTessera(config, { db });
const app = await buildApp(tessera);
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : 0;
await tessera.users.create({ username: 'bench-admin', password, roles: ['admin'] });
const { access_token: token } = await tessera.login({ username: 'bench-admin', password, ip: '127.0.0.1', userAgent: 'bench' });

const sample = (): Sample => {
  const usage = process.memoryUsage();
  return { rss: usage.rss, heapUsed: usage.heapUsed, external: usage.external };
};
/** Linux: the kernel's own peak RSS, resettable by writing 5 to clear_refs. */
const kernelPeak = (): number | undefined => {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
};
let baseline = sample();
let peak = sample();
const sampler = setInterval(() => {
  const now = sample();
  peak = { rss: Math.max(peak.rss, now.rss), heapUsed: Math.max(peak.heapUsed, now.heapUsed), external: Math.max(peak.external, now.external) };
}, 5);

process.on('message', (message: { type: 'reset' | 'report' | 'stop' }) => {
  if (message.type === 'reset') {
    globalThis.gc?.();
    try {
      writeFileSync('/proc/self/clear_refs', '5');
    } catch {
      // not Linux: the sampled peak only
    }
    baseline = sample();
    peak = { ...baseline };
    process.send!({ type: 'baseline', baseline });
  } else if (message.type === 'report') {
    process.send!({ type: 'report', baseline, peak, kernelPeakRss: kernelPeak() });
  } else {
    clearInterval(sampler);
    void app
      .close()
      .then(() => tessera.close())
      .then(() => process.exit(0));
  }
});
process.send!({ type: 'ready', port, token });
