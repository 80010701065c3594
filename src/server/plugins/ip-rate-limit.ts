import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AuthError } from '../../errors/auth-error.js';
import type { EventBus } from '../../events/bus.js';
import { networkOf } from '../../protection/network.js';
import { eventContext } from './request-context.js';

/** The per-network limiter (TESSERA_RATE_LIMIT_IP), as the composition root makes it. */
export interface IpRateLimiter {
  consume(network: string): Promise<{ allowed: boolean; retryAfterSeconds: number }>;
}

/**
 * Routes other services and probes call at high rates, exempt from the overall per-IP limit:
 * health, readiness, metrics, keys, discovery and verification. (Forged-token detection will watch them.)
 */
const exempt = new Set([
  '/healthz',
  '/readyz',
  '/metrics',
  '/.well-known/jwks.json',
  '/.well-known/openid-configuration',
  '/auth/verify',
  '/auth/introspect',
]);

/**
 * `TESSERA_RATE_LIMIT_IP` on every other route, per client network (an IPv4 address, an IPv6 /64):
 * 429 `rate_limited` with Retry-After.
 */
export function registerIpRateLimit(app: FastifyInstance, deps: { limiter: IpRateLimiter; events: EventBus }): void {
  const { limiter } = deps;
  const limit = async (request: FastifyRequest) => {
    const result = await limiter.consume(networkOf(request.clientIp));
    if (!result.allowed) {
      await deps.events.emit('rate_limited', { limiter: 'ip' }, eventContext(request));
      throw new AuthError('rate_limited', { headers: { 'retry-after': String(result.retryAfterSeconds) }, detail: 'per-IP limit' });
    }
  };
  // A global hook rather than a route's own, so it runs before the admin gate of /admin/* and
  // also limits requests that match no route. A callback hook: an exempt route (the verification
  // hot path) costs a Set lookup, not a promise.
  app.addHook('onRequest', (request, _reply, done) => {
    const query = request.url.indexOf('?');
    if (exempt.has(query === -1 ? request.url : request.url.slice(0, query))) {
      done();
      return;
    }
    limit(request).then(() => done(), done);
  });
}
