import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AuthError } from '../../errors/auth-error.js';
import type { Metrics } from '../../metrics/metrics.js';
import { ErrorResponse } from '../schemas/common.js';

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

/** The bearer token of an `Authorization: Bearer <token>` header, else undefined. */
function bearerOf(request: FastifyRequest): string | undefined {
  const match = /^Bearer +(\S+) *$/i.exec(request.headers.authorization ?? '');
  return match?.[1];
}

/**
 * GET /metrics: Prometheus text format. With `TESSERA_METRICS_TOKEN` set, only for
 * `Authorization: Bearer <token>`; without it, open to anyone who can reach the port.
 */
export interface MetricsRouteOptions {
  metrics: Pick<Metrics, 'expose' | 'contentType'>;
  /** TESSERA_METRICS_TOKEN; undefined leaves the route open. */
  metricsToken: string | undefined;
}

export async function metricsRoutes(app: FastifyInstance, { metrics, metricsToken }: MetricsRouteOptions): Promise<void> {
  // Digests have one length whatever was sent, so the comparison takes the same time.
  const expected = metricsToken === undefined ? undefined : sha256(metricsToken);

  app.get(
    '/metrics',
    { schema: { response: { 200: { content: { 'text/plain': { schema: Type.String() } } }, 401: ErrorResponse } } },
    async (request, reply) => {
      if (expected) {
        const presented = bearerOf(request);
        if (presented === undefined || !timingSafeEqual(sha256(presented), expected)) {
          throw new AuthError('invalid_token', { description: 'A valid metrics token is required.', detail: 'metrics token' });
        }
      }
      const text = await metrics.expose();
      return reply.header('content-type', metrics.contentType).header('cache-control', 'no-store').send(text);
    },
  );
}
