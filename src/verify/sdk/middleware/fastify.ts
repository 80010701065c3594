import type { FastifyReply, FastifyRequest } from 'fastify';
import { createAuthenticator, nodeAuthorization, type Claims, type TesseraAuthOptions } from './http.js';

/**
 * `tessera/verify/fastify`: an `onRequest` (or `preHandler`) hook that verifies the request's
 * bearer token and puts its claims on `request.auth`, or answers 400/401/403/503 itself
 * (docs/sdk.md). Fastify is imported for types only.
 */

export type { Claims, TesseraAuthOptions } from './http.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified token's claims, set by tesseraAuth; undefined for an optional one and no Authorization header. */
    auth?: Claims | undefined;
  }
}

export function tesseraAuth(options: TesseraAuthOptions): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const authenticator = createAuthenticator(options);
  return async (request, reply) => {
    const outcome = await authenticator.authenticate(nodeAuthorization(request.raw.rawHeaders, request.headers.authorization));
    if (outcome.ok) {
      request.auth = outcome.claims;
      return;
    }
    // An async hook that sends must return the reply, so Fastify stops the request here.
    await reply.code(outcome.refusal.status).headers(outcome.refusal.headers).send(outcome.refusal.body);
  };
}
