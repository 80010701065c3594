// Baseline of `npm run bench`: the least an HTTP answer costs in Node.js, a bare node:http server
// in its own process answering every request with a small JSON body. Prints `ready <port>`.
import { createServer } from 'node:http';
import { once } from 'node:events';

const body = JSON.stringify({ ok: true });
const server = createServer((_request, response) => {
  response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
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
