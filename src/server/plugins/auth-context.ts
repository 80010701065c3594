import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TokenOrigin } from '../../tokens/access-verifier.js';
import type { AuthContext, Authenticate } from '../../flows/authenticate.js';
import type { EventBus } from '../../events/bus.js';
import { AuthError } from '../../errors/auth-error.js';
import { realm } from './errors.js';
import { eventContext } from './request-context.js';

/** RFC 6750 §2.1 b64token. */
export const b64token = /^[A-Za-z0-9\-._~+/]+=*$/;

/** `Authorization: Bearer <token>` (the scheme case-insensitive, RFC 7235 §2.1). */
export const bearerPattern = /^Bearer +(\S+) *$/i;

/**
 * The bearer token of a request, from the Authorization header only (never a query string or
 * body). No header, or another scheme: a 401 without an error code (RFC 6750 §3.1).
 */
export function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? bearerPattern.exec(header) : null;
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

/**
 * Who presented a token, for the records of refused ones. Read only when a token is refused, so
 * its members are getters: an accepted token (the verification hot path) never resolves them.
 */
class RequestTokenOrigin implements TokenOrigin {
  readonly #request: FastifyRequest;
  constructor(request: FastifyRequest) {
    this.#request = request;
  }
  get context() {
    return eventContext(this.#request);
  }
  get endpoint() {
    return this.#request.routeOptions.url ?? 'unknown';
  }
}

export function tokenOrigin(request: FastifyRequest): TokenOrigin {
  return new RequestTokenOrigin(request);
}

/** Authenticates the request's bearer token; every failure is 401 invalid_token. */
export async function requireAuth(request: FastifyRequest, authenticate: Authenticate): Promise<AuthContext> {
  return authenticate(bearerToken(request), tokenOrigin(request));
}

export interface AdminGateDeps {
  authenticate: Authenticate;
  events: EventBus;
  /** Runs before the token check: refuses addresses outside the admin allow list (plugins/ip-rules.ts). */
  network?: (request: FastifyRequest) => Promise<void>;
}

/**
 * The admin API's gate: a valid bearer token of a user whose stored roles (not the token's, so a
 * demotion applies at once) include `admin`; anyone else gets 403 `forbidden`, recorded.
 */
export async function requireAdmin(request: FastifyRequest, deps: AdminGateDeps): Promise<AuthContext> {
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

/** Who passed the admin gate, per request (set by the gate's hook, read by the admin routes). */
const admins = new WeakMap<FastifyRequest, AuthContext>();

/** The admin calling a route of the admin API; the gate has already refused everyone else. */
export function adminOf(request: FastifyRequest): AuthContext {
  const admin = admins.get(request);
  // Only reachable by a route outside the gate's scope, which guardAdminPrefix refuses at start-up.
  if (!admin) throw new Error(`${request.routeOptions.url ?? 'this route'} is not behind the admin gate`);
  return admin;
}

/** Marks the admin scope; its child plugins inherit it. */
const gatedScope = 'tesseraAdminGate';

const isAdminPath = (url: string) => url === '/admin' || url.startsWith('/admin/');

/**
 * Refuses at start-up any route under `/admin` that is not registered inside `registerAdminApi`,
 * so no admin route can miss the gate. Call before registering routes.
 */
export function guardAdminPrefix(app: FastifyInstance): void {
  app.addHook('onRoute', function (route) {
    if (isAdminPath(route.url) && !this.hasDecorator(gatedScope)) {
      throw new Error(`${String(route.method)} ${route.url} must be registered through registerAdminApi (the admin gate)`);
    }
  });
}

/**
 * The admin API: `routes` are registered in one encapsulated scope under `/admin` whose
 * `onRequest` hook runs `requireAdmin` before anything else of the route (schema validation
 * included), so a route added here cannot forget the check.
 */
export async function registerAdminApi(app: FastifyInstance, deps: AdminGateDeps, routes: (admin: FastifyInstance) => Promise<void>): Promise<void> {
  await app.register(
    async (admin) => {
      admin.decorate(gatedScope, true);
      admin.addHook('onRequest', async (request) => {
        await deps.network?.(request);
        admins.set(request, await requireAdmin(request, deps));
      });
      await routes(admin);
    },
    { prefix: '/admin' },
  );
}
