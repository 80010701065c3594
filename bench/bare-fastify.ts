// Baseline of `npm run bench`: a bare Fastify server (no logger, no plugins) in its own process,
// one JSON route, so the framework's own cost can be told from Tessera's. Prints `ready <port>`.
import { once } from 'node:events';
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.get('/bench/bare', async () => ({ ok: true }));
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
process.stdout.write(`ready ${typeof address === 'object' && address ? address.port : 0}\n`);

await Promise.race([once(process, 'SIGTERM'), once(process, 'SIGINT')]);
await app.close();
process.exit(0);
