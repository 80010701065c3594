import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AuthError } from '../../errors/auth-error.js';
import type { EventBus } from '../../events/bus.js';
import { proxyTrust, resolveClientAddress, type TrustProxySetting } from '../../protection/client-address.js';
import type { IpRules } from '../../protection/ip-rules.js';
import { eventContext } from './request-context.js';

/** Routes a deny rule never refuses: a load balancer must still see the instance up. */
const healthRoutes = new Set(['/healthz', '/readyz']);

type RuleCheck = Pick<IpRules, 'hasDenyRules' | 'isDenied' | 'adminAllowed'>;

/**
 * 403 `ip_blocked` for every route (health checks excepted) from a network a deny rule holds: an
 * onRequest hook on the root, so the 404 answer is refused too. The check is in-process.
 */
export function registerIpRules(app: FastifyInstance, deps: { ipRules: RuleCheck; events: EventBus }): void {
  // A callback hook: every request passes it, and without a matching rule it costs no promise.
  app.addHook('onRequest', (request, _reply, done) => {
    if (!deps.ipRules.hasDenyRules || !deps.ipRules.isDenied(request.clientIp)) return done();
    if (request.routeOptions.url !== undefined && healthRoutes.has(request.routeOptions.url)) return done();
    const refusal = new AuthError('ip_blocked', { description: 'Requests from this network are refused.' });
    deps.events.emit('access.denied', { reason: 'ip_blocked', endpoint: request.routeOptions.url ?? 'unknown' }, eventContext(request)).then(
      () => done(refusal),
      (error: unknown) => done(error as Error),
    );
  });
}

/**
 * For the verification fast path, which answers before Fastify: true when the request's client
 * (under the same TESSERA_TRUST_PROXY resolver as `request.clientIp`) is denied, so it falls
 * through to Fastify, which refuses it. Without deny rules: one property read.
 */
export function rawDenyCheck(ipRules: RuleCheck, trustProxy: TrustProxySetting): (request: IncomingMessage) => boolean {
  const trust = proxyTrust(trustProxy);
  // Without a trusted proxy the header object (built by Node on first use) is never needed.
  const forwardedFor = (request: IncomingMessage) => (trust.kind === 'none' ? undefined : request.headers['x-forwarded-for']);
  return (request) => ipRules.hasDenyRules && ipRules.isDenied(resolveClientAddress(request.socket.remoteAddress, forwardedFor(request), trust));
}

/**
 * The admin API's network gate, run before its token check: with a non-empty allow list, an
 * address outside it gets 403 `forbidden` (recorded) whoever it is.
 */
export function adminNetworkGate(deps: { ipRules: RuleCheck; events: EventBus }): (request: FastifyRequest) => Promise<void> {
  return async (request) => {
    if (deps.ipRules.adminAllowed(request.clientIp)) return;
    await deps.events.emit('access.denied', { reason: 'forbidden', endpoint: request.routeOptions.url ?? 'unknown' }, eventContext(request));
    throw new AuthError('forbidden', { description: 'The admin API is not open to this network.' });
  };
}
