// Baseline of `npm run bench`: the least an HTTP answer costs in Node.js, a bare node:http server
// in its own process answering every request with a small JSON body. With the argument
// `verify-answer` it sends instead what GET /auth/verify answers for a cached token (the same
// header set and an answer of the same size, the request id made per request), to show what
// that answer alone costs Node.js. Prints `ready <port>`.
import { createServer } from 'node:http';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { securityHeaders } from '../src/server/plugins/security-headers.js';

const verifyAnswer = process.argv[2] === 'verify-answer';
const body = verifyAnswer ? JSON.stringify({ claims: 'x'.repeat(323) }) : JSON.stringify({ ok: true });
const headers = verifyAnswer
  ? {
      ...securityHeaders('https://auth.bench.example'),
      'x-user-id': randomUUID(),
      'x-username': 'bench-0',
      'x-roles': '',
      'x-permissions': 'orders:read',
      'x-session-id': randomUUID(),
      'x-tenant-id': '',
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      pragma: 'no-cache',
      'content-length': String(Buffer.byteLength(body)),
    }
  : { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) };
const server = createServer((_request, response) => {
  // An object, as Fastify hands its headers to writeHead.
  response.writeHead(200, verifyAnswer ? { ...headers, 'x-request-id': randomUUID() } : headers);
  response.end(body);
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const address = server.address();
process.stdout.write(`ready ${typeof address === 'object' && address ? address.port : 0}\n`);

await Promise.race([once(process, 'SIGTERM'), once(process, 'SIGINT')]);
server.closeAllConnections();
server.close();
process.exit(0);
