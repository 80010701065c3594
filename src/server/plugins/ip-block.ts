import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AuthError } from '../../errors/auth-error.js';
import type { EventBus } from '../../events/bus.js';
import type { IpBlocks } from '../../protection/ip-blocks.js';
import { eventContext } from './request-context.js';

/**
 * Where a blocked address is refused: the routes that take a password, a name or a reset
 * token. Refresh, sign-out and every bearer-authenticated route stay open, so a block never
 * locks an account owner out of sessions they already have.
 */
const guarded = new Set(['/auth/login', '/auth/register', '/auth/password-reset', '/auth/password-reset/confirm', '/auth/mfa/verify']);

/** 403 `ip_blocked` with Retry-After for addresses a detection rule blocked. */
export function registerIpBlock(app: FastifyInstance, deps: { ipBlocks: IpBlocks; events: EventBus; onError?: (error: unknown) => void }): void {
  const check = async (request: FastifyRequest) => {
    let remainingMs: number | undefined;
    try {
      remainingMs = await deps.ipBlocks.remainingMs(request.clientIp);
    } catch (error) {
      // Blocks are a second line behind limits and lockout: an unreachable hot state fails open.
      deps.onError?.(error);
      return;
    }
    if (remainingMs === undefined) return;
    await deps.events.emit(
      'access.denied',
      { reason: 'ip_blocked', endpoint: request.routeOptions.url ?? 'unknown' },
      eventContext(request),
    );
    throw new AuthError('ip_blocked', { headers: { 'retry-after': String(Math.max(1, Math.ceil(remainingMs / 1000))) } });
  };
  // Only the guarded routes carry the hook (added as each is registered): verification and every
  // other route never run it.
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!methods.includes('POST') || !guarded.has(route.url)) return;
    const own = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
    route.onRequest = [...own, check];
  });
}
