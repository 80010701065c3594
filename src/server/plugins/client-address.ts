import type { FastifyInstance, FastifyRequest } from 'fastify';
import { proxyTrust, resolveClientAddress, type TrustProxySetting } from '../../protection/client-address.js';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The client's address under TESSERA_TRUST_PROXY, in canonical spelling: what sessions,
     * events, logs and every per-IP limit use. Never `request.ip`: Fastify's own proxy trust is
     * off, so that is always the socket's address.
     */
    readonly clientIp: string;
  }
}

/**
 * Decorates every request with `clientIp`, resolved once, on first use: a getter rather than an
 * onRequest hook because Fastify logs "incoming request" before any hook has run.
 */
export function registerClientAddress(app: FastifyInstance, setting: TrustProxySetting): void {
  const trust = proxyTrust(setting);
  const resolved = new WeakMap<FastifyRequest, string>();
  app.decorateRequest('clientIp', {
    getter(this: FastifyRequest): string {
      let ip = resolved.get(this);
      if (ip === undefined) {
        ip = resolveClientAddress(this.raw.socket?.remoteAddress, this.headers['x-forwarded-for'], trust);
        resolved.set(this, ip);
      }
      return ip;
    },
  });
}
