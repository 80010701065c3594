import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config/config.js';
import { AuthError } from '../../errors/auth-error.js';
import type { EventBus } from '../../events/bus.js';
import { networkOf } from '../../protection/network.js';
import type { HotState } from '../../store/hot/hot-state.js';
import { eventContext } from './request-context.js';

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
export function registerIpRateLimit(
  app: FastifyInstance,
  deps: { hotState: HotState; events: EventBus; config: Pick<Config, 'ipRateLimit'> },
): void {
  const { points, windowMs } = deps.config.ipRateLimit;
  const limiter = deps.hotState.rateLimiter('ip', points, windowMs / 1000);
  app.addHook('onRequest', async (request) => {
    const path = request.url.split('?')[0] ?? '';
    if (exempt.has(path)) return;
    const result = await limiter.consume(networkOf(request.clientIp));
    if (!result.allowed) {
      await deps.events.emit('rate_limited', { limiter: 'ip' }, eventContext(request));
      throw new AuthError('rate_limited', { headers: { 'retry-after': String(result.retryAfterSeconds) }, detail: 'per-IP limit' });
    }
  });
}
