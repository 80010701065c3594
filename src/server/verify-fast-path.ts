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
  verifier: Pick<AccessVerifier, 'verifyCached' | 'verify'>;
  metrics: Pick<Metrics, 'requestObserver'>;
  securityHeaders: SecurityHeaders;
  /** With CORS configured, every request goes through Fastify (the CORS plugin adds Vary and its headers even without an Origin). */
  cors: boolean;
  /**
   * Whether the server still takes requests. Once closing has begun, Fastify answers (503 and
   * Connection: close), so kept-alive proxy connections end and shutdown completes: checked
   * when a request arrives and again before a new token's answer is written.
   */
  open: () => boolean;
  /** True for a client a deny rule holds: Fastify answers it (403 ip_blocked). Cheap without rules. */
  denied?: (request: IncomingMessage) => boolean;
}

/** What the server hands a request the fast path does not answer: Fastify's own handler. */
export type Fallback = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * `GET /auth/verify` with a valid bearer token, answered before Fastify's router (ADR 009): the
 * same status, headers and body as the route, from a header list built once per token. A token
 * verified before is answered at once; a new one once its signature (on the thread pool) and
 * claims hold. Anything else (another URL or method, a query string, no or a malformed bearer
 * token, a refused or revoked token, an Origin under CORS, an X-API-Key header) goes to `fallback`, Fastify, which
 * answers it as always, refusals with their headers, records and events.
 */
export function createVerifyFastPath(options: VerifyFastPathOptions): (request: IncomingMessage, response: ServerResponse, fallback: Fallback) => void {
  const security = Object.entries(options.securityHeaders).flat();
  const observe = options.metrics.requestObserver('GET', '/auth/verify', 200);

  /** The route's answer as one header list: security headers, the answer's, its length, a request-id slot. */
  function block(claims: AccessTokenClaims): { headers: string[]; body: string } {
    const answer = forwardAuthAnswer(claims);
    // The list is kept with the answer, for the security headers it was built with.
    if (answer.headerList === undefined || answer.headerListSource !== security) {
      const list = security.slice();
      for (const name in answer.headers) list.push(name, answer.headers[name]!);
      list.push('content-length', String(Buffer.byteLength(answer.body)), 'x-request-id', '');
      answer.headerList = list;
      answer.headerListSource = security;
    }
    return { headers: answer.headerList, body: answer.body };
  }

  /** Writes the answer; false when it could not and Fastify must (nothing was sent), true otherwise. */
  function send(response: ServerResponse, claims: AccessTokenClaims, requestId: string | undefined, started: number): boolean {
    try {
      const { headers, body } = block(claims);
      // The list ends with a slot for the request id, filled in place: nothing awaits between
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
    // to the end of the write: a little longer for the same answer). The answer is sent: nothing
    // here may make the caller hand the request to Fastify as well.
    try {
      observe((performance.now() - started) / 1000);
    } catch {
      // A metrics failure loses one sample, never the answer.
    }
    return true;
  }

  /** Whether the fast path took the request (answered it, or will once the token is verified). */
  function taken(request: IncomingMessage, response: ServerResponse, fallback: Fallback): boolean {
    if (options.cors || request.method !== 'GET' || request.url !== '/auth/verify' || !options.open()) return false;
    if (options.denied?.(request)) return false;
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
      } else if (name.length === 9 && name.toLowerCase() === 'x-api-key') {
        // An API key (with a bearer token too: the route refuses the pair with 400).
        return false;
      }
    }
    if (authorization === undefined) return false;
    let claims: AccessTokenClaims | undefined;
    // The usual form, "Bearer <token>", is looked up as it is, without the patterns: only a
    // compact JWS is ever verified and cached, and its characters are all b64token ones.
    if (authorization.charCodeAt(6) === 32 && authorization.slice(0, 6).toLowerCase() === 'bearer') {
      try {
        claims = options.verifier.verifyCached(authorization.slice(7));
      } catch {
        // Revoked: Fastify's route refuses it, with the error's headers and records.
        return false;
      }
      if (claims !== undefined) return send(response, claims, requestId, started);
    }
    const match = bearerPattern.exec(authorization);
    if (!match || !b64token.test(match[1]!)) return false;
    const token = match[1]!;
    try {
      claims = options.verifier.verifyCached(token);
    } catch {
      return false;
    }
    if (claims !== undefined) return send(response, claims, requestId, started);
    // A new token. Without an origin the verifier raises no event: a refusal goes to the route,
    // which reports it where it was presented, from the refusal the verifier kept for it (one
    // signature check per token either way).
    options.verifier.verify(token).then(
      (verified) => {
        if (!options.open() || !send(response, verified, requestId, started)) fallback(request, response);
      },
      () => fallback(request, response),
    )
      // Fastify's handler does not throw; if it ever did, the connection ends rather than the
      // rejection going unhandled (which would stop the process).
      .catch(() => response.destroy());
    return true;
  }

  return (request, response, fallback) => {
    if (!taken(request, response, fallback)) fallback(request, response);
  };
}
