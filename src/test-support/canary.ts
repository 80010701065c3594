import { createServer, type Server } from 'node:http';
import type { JsonWebKey } from 'node:crypto';
import type { AddressInfo } from 'node:net';

/**
 * A loopback server that records every request and serves an attacker's JWKS: tokens name it in
 * jku/x5u, and Tessera must never call it.
 */
export interface Canary {
  url: string;
  requests: string[];
  server: Server;
  jwks: { keys: JsonWebKey[] };
}

export function startCanary(): Promise<Canary> {
  const canary: Canary = { url: '', requests: [], server: createServer(), jwks: { keys: [] } };
  canary.server.on('request', (request, response) => {
    canary.requests.push(`${request.method} ${request.url}`);
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify(canary.jwks));
  });
  return new Promise((resolve) => {
    canary.server.listen(0, '127.0.0.1', () => {
      canary.url = `http://127.0.0.1:${(canary.server.address() as AddressInfo).port}`;
      resolve(canary);
    });
  });
}
