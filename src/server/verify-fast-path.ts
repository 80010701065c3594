import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Metrics } from '../metrics/metrics.js';
import type { AccessVerifier } from '../tokens/access-verifier.js';
import type { AccessTokenClaims } from '../tokens/access-token.js';
import { bearerPattern, b64token } from './plugins/auth-context.js';
import type { SecurityHeaders } from './plugins/security-headers.js';
import { saneRequestId } from './plugins/request-context.js';
import { forwardAuthAnswer } from './routes/verify.js';

export interface VerifyFastPathOptions {
  verifier: Pick<AccessVerifier, 'verifyCached'>;
  metrics: Pick<Metrics, 'requestObserver'>;
  securityHeaders: SecurityHeaders;
  /** With CORS configured, every request goes through Fastify (the CORS plugin adds Vary and its headers even without an Origin). */
  cors: boolean;
}

/**
 * `GET /auth/verify` for a token verified before, answered before Fastify's router (ADR 009): the
 * same status, headers and body as the route, from a header block built once per token. Anything
 * else (another URL or method, a query string, no or a malformed bearer token, a token not in the
 * cache or revoked, an Origin under CORS) returns false and goes to Fastify, which answers it as
 * always, refusals included.
 */
export function createVerifyFastPath(options: VerifyFastPathOptions): (request: IncomingMessage, response: ServerResponse) => boolean {
  const blocks = new WeakMap<AccessTokenClaims, { headers: string[]; body: string }>();
  const security = Object.entries(options.securityHeaders).flat();
  const observe = options.metrics.requestObserver('GET', '/auth/verify', 200);

  function block(claims: AccessTokenClaims) {
    let found = blocks.get(claims);
    if (!found) {
      const answer = forwardAuthAnswer(claims);
      const headers = [...security, ...Object.entries(answer.headers).flat(), 'content-length', String(Buffer.byteLength(answer.body)), 'x-request-id', ''];
      found = { headers, body: answer.body };
      blocks.set(claims, found);
    }
    return found;
  }

  return (request, response) => {
    if (options.cors || request.method !== 'GET' || request.url !== '/auth/verify') return false;
    const started = performance.now();
    // The raw header list, not `request.headers`, which Node builds into an object on first use.
    let authorization: string | undefined;
    let requestId: string | undefined;
    const raw = request.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      if (name.length === 13 && name.toLowerCase() === 'authorization') {
        // A repeated Authorization header: Fastify's route answers it (Node keeps the first).
        if (authorization !== undefined) return false;
        authorization = raw[i + 1]!;
      } else if (name.length === 12 && name.toLowerCase() === 'x-request-id') {
        if (requestId !== undefined) return false;
        requestId = raw[i + 1]!;
      }
    }
    if (authorization === undefined) return false;
    const match = bearerPattern.exec(authorization);
    if (!match || !b64token.test(match[1]!)) return false;
    let claims: AccessTokenClaims | undefined;
    try {
      claims = options.verifier.verifyCached(match[1]!);
    } catch {
      // Revoked: Fastify's route refuses it, with the error's headers and records.
      return false;
    }
    if (claims === undefined) return false;
    try {
      const { headers, body } = block(claims);
      // The block ends with a slot for the request id, filled in place: nothing awaits between
      // filling it and writeHead, which serializes the headers before it returns.
      headers[headers.length - 1] = requestId !== undefined && saneRequestId.test(requestId) ? requestId : randomUUID();
      response.writeHead(200, headers);
      response.end(body);
    } catch {
      // Outside Fastify nothing would catch it: the route answers instead (a 500 if it fails too).
      if (response.headersSent) response.destroy();
      return response.headersSent;
    }
    // Timed from the handler's start to the answer handed to the socket (the route's time runs
    // to the end of the write: a little longer for the same answer).
    observe((performance.now() - started) / 1000);
    return true;
  };
}
