// Baselines of `npm run bench`, each a bare node:http server in its own process. Prints `ready <port>`.
//   (no argument)            the least an HTTP answer costs in Node.js: a small JSON body.
//   verify-answer            what GET /auth/verify answers for a cached token (the same header set
//                            and a body of the same size, the request id made per request), written
//                            as the fast path writes it (one flat header list): the least that
//                            answer costs Node.js, the floor for a repeated token.
//   verify-rs256 <jwks-url>  the same answer after one raw node:crypto RS256 check of the bearer
//                            token's signature (the key from the JWKS, no parsing or claims): the
//                            floor for a token never seen before. `sync` after the URL checks on
//                            the event loop, otherwise on the thread pool, as Tessera does.
import { createServer, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { createPublicKey, randomUUID, verify, type KeyObject } from 'node:crypto';
import { securityHeaders } from '../src/server/plugins/security-headers.js';

const [mode, jwksUrl, where] = process.argv.slice(2);
const small = mode === undefined;
const body = small ? JSON.stringify({ ok: true }) : JSON.stringify({ claims: 'x'.repeat(323) });
const answerHeaders = [
  ...Object.entries(securityHeaders('https://auth.bench.example')).flat(),
  ...['x-user-id', randomUUID(), 'x-username', 'bench-0', 'x-roles', '', 'x-permissions', 'orders:read', 'x-session-id', randomUUID(), 'x-tenant-id', ''],
  ...['content-type', 'application/json; charset=utf-8', 'cache-control', 'no-store', 'pragma', 'no-cache'],
  ...['content-length', String(Buffer.byteLength(body)), 'x-request-id', ''],
];
const smallHeaders = { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) };

function sendAnswer(response: ServerResponse): void {
  answerHeaders[answerHeaders.length - 1] = randomUUID();
  response.writeHead(200, answerHeaders);
  response.end(body);
}

let key: KeyObject | undefined;
if (mode === 'verify-rs256') {
  const jwks = (await (await fetch(jwksUrl!)).json()) as { keys: Array<Record<string, string>> };
  key = createPublicKey({ key: jwks.keys.find((k) => k.alg === 'RS256')!, format: 'jwk' });
}

const server = createServer((request, response) => {
  if (small) {
    response.writeHead(200, smallHeaders);
    response.end(body);
  } else if (!key) {
    sendAnswer(response);
  } else {
    const token = (request.headers.authorization ?? '').slice(7);
    const dot = token.lastIndexOf('.');
    const input = Buffer.from(token.slice(0, dot));
    const signature = Buffer.from(token.slice(dot + 1), 'base64url');
    if (where === 'sync') {
      if (verify('sha256', input, key, signature)) sendAnswer(response);
      else response.writeHead(401).end();
    } else {
      verify('sha256', input, key, signature, (error, valid) => {
        if (!error && valid) sendAnswer(response);
        else response.writeHead(401).end();
      });
    }
  }
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const address = server.address();
process.stdout.write(`ready ${typeof address === 'object' && address ? address.port : 0}\n`);

await Promise.race([once(process, 'SIGTERM'), once(process, 'SIGINT')]);
server.closeAllConnections();
server.close();
process.exit(0);
