import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { EventContext } from '../../events/bus.js';

/** An inbound x-request-id is kept only if it is short and plain; anything else is replaced. */
export const saneRequestId = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdFor(request: IncomingMessage): string {
  const inbound = request.headers['x-request-id'];
  return typeof inbound === 'string' && saneRequestId.test(inbound) ? inbound : randomUUID();
}

/**
 * `Cache-Control: no-store` on every response unless the route chose a cache policy (tokens and
 * user data must never be cached, RFC 6749 §5.1). The request id and the security headers are set
 * when the request arrives (security-headers.ts). A callback hook: no promise per request.
 */
export function registerRequestContext(app: FastifyInstance): void {
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (!reply.hasHeader('cache-control')) {
      reply.header('cache-control', 'no-store');
      reply.header('pragma', 'no-cache');
    }
    done(null, payload);
  });
}

/** Longest User-Agent kept (sessions, audit records). */
const maxUserAgentLength = 512;

/** The client's User-Agent without control characters, at most 512 characters; null when absent. */
export function userAgentOf(request: FastifyRequest): string | null {
  const value = request.headers['user-agent'];
  if (typeof value !== 'string' || value === '') return null;
  return value.replace(/[\u0000-\u001f\u007f-\u009f]/g, '').slice(0, maxUserAgentLength);
}

/** Who caused an event: the client IP (through TESSERA_TRUST_PROXY), its User-Agent, the request id. */
export function eventContext(request: FastifyRequest): EventContext & { ip: string } {
  return { ip: request.clientIp, userAgent: userAgentOf(request), requestId: request.id };
}
