import type { FastifyInstance } from 'fastify';

/**
 * The security headers of a JSON API: nothing may be framed, loaded or executed from its answers.
 * The set and values @fastify/helmet sent with our options, written out once: they never depend on
 * the request, so nothing is rebuilt per request (helmet ran eleven middlewares for each one).
 */
const staticHeaders = {
  'content-security-policy': "default-src 'none';frame-ancestors 'none'",
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'DENY',
  'x-permitted-cross-domain-policies': 'none',
  // The XSS auditor of old browsers is itself exploitable: turned off, as OWASP advises.
  'x-xss-protection': '0',
} as const;

export type SecurityHeaders = Readonly<Record<string, string>>;

/** The headers for an issuer: HSTS (one year, subdomains) only when it is served over https. */
export function securityHeaders(issuer: string): SecurityHeaders {
  return Object.freeze({
    ...staticHeaders,
    ...(issuer.startsWith('https:') ? { 'strict-transport-security': 'max-age=31536000; includeSubDomains' } : {}),
  });
}

/**
 * Sets the security headers and the request id on every answer, first thing in the request, so
 * an answer refused by a later hook carries them too. A callback hook: no promise per request.
 */
export function registerSecurityHeaders(app: FastifyInstance, headers: SecurityHeaders): void {
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(headers);
    reply.header('x-request-id', request.id);
    done();
  });
}
