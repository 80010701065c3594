import type { FastifyRequest } from 'fastify';
import type { TokenOrigin } from '../../auth/access-verifier.js';
import type { AuthContext, Authenticate } from '../../flows/authenticate.js';
import type { EventBus } from '../../events/bus.js';
import { AuthError } from '../../errors/auth-error.js';
import { realm } from './errors.js';
import { eventContext } from './request-context.js';

/** RFC 6750 §2.1 b64token. */
const b64token = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * The bearer token of a request, from the Authorization header only (never a query string or
 * body). No header, or another scheme: a 401 without an error code (RFC 6750 §3.1).
 */
export function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer +(\S+) *$/i.exec(header) : null;
  if (!match) {
    if (typeof header === 'string' && /^Bearer(\s|$)/i.test(header)) {
      throw new AuthError('invalid_token', { description: 'The Authorization header is malformed.' });
    }
    throw new AuthError('invalid_token', {
      description: 'A bearer access token is required.',
      headers: { 'www-authenticate': `Bearer realm="${realm}"` },
    });
  }
  const token = match[1]!;
  if (!b64token.test(token)) throw new AuthError('invalid_token', { description: 'The bearer token is malformed.' });
  return token;
}

/** Who presented a token, for the records of refused ones. */
export function tokenOrigin(request: FastifyRequest): TokenOrigin {
  return {
    context: eventContext(request),
    endpoint: request.routeOptions.url ?? 'unknown',
  };
}

/** Authenticates the request's bearer token; every failure is 401 invalid_token. */
export async function requireAuth(request: FastifyRequest, authenticate: Authenticate): Promise<AuthContext> {
  return authenticate(bearerToken(request), tokenOrigin(request));
}

/**
 * The admin API's gate: a valid bearer token of a user whose stored roles (not the token's, so a
 * demotion applies at once) include `admin`; anyone else gets 403 `forbidden`, recorded.
 */
export async function requireAdmin(request: FastifyRequest, deps: { authenticate: Authenticate; events: EventBus }): Promise<AuthContext> {
  const auth = await requireAuth(request, deps.authenticate);
  if (!auth.user.roles.includes('admin')) {
    await deps.events.emit(
      'access.denied',
      { reason: 'forbidden', userId: auth.user.id, endpoint: request.routeOptions.url ?? 'unknown' },
      eventContext(request),
    );
    throw new AuthError('forbidden', { description: 'This needs the admin role.' });
  }
  return auth;
}
