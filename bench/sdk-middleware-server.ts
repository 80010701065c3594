// A server of `npm run bench` (part `sdk`, bench/sdk.ts), in its own process: one framework with
// one JSON route, GET /bench/bare, bare or behind tesseraAuth. Prints `ready <port>`.
//   express|fastify|hono  the framework (Hono through @hono/node-server)
//   bare                  the route alone: what the framework itself costs
//   auth                  the same route behind the framework's tesseraAuth (tessera/verify/<framework>),
//                         requiring one permission, with a static-key verifier made from the JSON
//                         in BENCH_SDK_VERIFIER ({ issuer, audience, keys }, public keys only);
//                         the route answers 500 unless the middleware handed it the claims, so a
//                         middleware that let the request through unverified fails the run
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono, type Context } from 'hono';
import { createVerifier } from '../src/verify/sdk/index.js';
import { tesseraAuth as expressAuth } from '../src/verify/sdk/middleware/express.js';
import { tesseraAuth as fastifyAuth } from '../src/verify/sdk/middleware/fastify.js';
import { tesseraAuth as honoAuth, type TesseraAuthVariables } from '../src/verify/sdk/middleware/hono.js';

const [framework, variant] = process.argv.slice(2);
if (!['express', 'fastify', 'hono'].includes(framework ?? '') || !['bare', 'auth'].includes(variant ?? '')) {
  throw new Error('usage: sdk-middleware-server.ts express|fastify|hono bare|auth');
}
const answer = { ok: true };
const auth = variant === 'auth';
const authOptions = auth ? { verifier: createVerifier(JSON.parse(process.env.BENCH_SDK_VERIFIER ?? 'null')), permissions: ['orders:read'] } : undefined;
const unauthenticated = new Error('the route was reached without claims');

/** Starts the server; returns its port and how to stop it. */
async function start(): Promise<{ port: number; close(): Promise<void> }> {
  switch (framework) {
    case 'express': {
      const app = express();
      const handler: express.RequestHandler = (request, response) => {
        if (auth && !(request as { auth?: unknown }).auth) throw unauthenticated;
        response.json(answer);
      };
      if (authOptions) app.get('/bench/bare', expressAuth(authOptions), handler);
      else app.get('/bench/bare', handler);
      const server = app.listen(0, '127.0.0.1');
      await once(server, 'listening');
      return {
        port: (server.address() as AddressInfo).port,
        close: async () => {
          server.closeAllConnections();
          server.close();
        },
      };
    }
    case 'fastify': {
      const app = Fastify({ logger: false });
      app.get('/bench/bare', authOptions ? { onRequest: fastifyAuth(authOptions) } : {}, async (request) => {
        if (auth && !request.auth) throw unauthenticated;
        return answer;
      });
      await app.listen({ port: 0, host: '127.0.0.1' });
      return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
    }
    default: {
      const app = new Hono<{ Variables: TesseraAuthVariables }>();
      const handler = (c: Context<{ Variables: TesseraAuthVariables }>) => {
        if (auth && !c.get('auth')) throw unauthenticated;
        return c.json(answer);
      };
      if (authOptions) app.get('/bench/bare', honoAuth(authOptions), handler);
      else app.get('/bench/bare', handler);
      const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
      await once(server, 'listening');
      return {
        port: (server.address() as AddressInfo).port,
        close: async () => {
          server.close();
        },
      };
    }
  }
}

const server = await start();
process.stdout.write(`ready ${server.port}\n`);

await Promise.race([once(process, 'SIGTERM'), once(process, 'SIGINT')]);
await server.close();
process.exit(0);
