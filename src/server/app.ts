import cors from '@fastify/cors';
import { createServer, type Server } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Tessera } from '../app/create-tessera.js';
import { AuthError } from '../errors/auth-error.js';
import { createVerifyFastPath } from './verify-fast-path.js';
import { registerErrorHandling, sendError } from './plugins/errors.js';
import { registerRequestContext, requestIdFor } from './plugins/request-context.js';
import { registerSecurityHeaders, securityHeaders } from './plugins/security-headers.js';
import { AccessLog, requestLogger } from './logger.js';
import { registerClientAddress } from './plugins/client-address.js';
import { registerIpBlock } from './plugins/ip-block.js';
import { adminNetworkGate, rawDenyCheck, registerIpRules } from './plugins/ip-rules.js';
import { registerIpRateLimit } from './plugins/ip-rate-limit.js';
import { registerRequestMetrics } from './plugins/request-metrics.js';
import { guardAdminPrefix, registerAdminApi } from './plugins/auth-context.js';
import { adminEventRoutes, type EventStreamOptions } from './routes/admin-events.js';
import { adminAuditRoutes } from './routes/admin-audit.js';
import { adminIncidentRoutes } from './routes/admin-incidents.js';
import { adminIpRuleRoutes } from './routes/admin-ip-rules.js';
import { adminKeyRoutes } from './routes/admin-keys.js';
import { adminSessionRoutes } from './routes/admin-sessions.js';
import { adminStatsRoutes } from './routes/admin-stats.js';
import { adminUserRoutes } from './routes/admin-users.js';
import { adminUserImportRoutes } from './routes/admin-users-import.js';
import { adminApiKeyRoutes, apiKeyRoutes } from './routes/api-keys.js';
import { authRoutes } from './routes/auth.js';
import { healthRoutes } from './routes/health.js';
import { introspectRoutes } from './routes/introspect.js';
import { revocationRoutes, type RevocationStreamOptions } from './routes/revocations.js';
import { metricsRoutes } from './routes/metrics.js';
import { sessionRoutes } from './routes/sessions.js';
import { tokenRoutes } from './routes/tokens.js';
import { verifyRoutes } from './routes/verify.js';
import { wellKnownRoutes } from './routes/well-known.js';

/** Request bodies larger than this are refused with 413 before parsing. */
export const bodyLimitBytes = 64 * 1024;

export interface AppOptions {
  /** A pino logger; none disables request logging (tests). */
  logger?: Logger;
  /** Timings of GET /admin/events (tests shorten them). */
  eventStream?: EventStreamOptions;
  /** Timings and limits of GET /auth/revocations (tests shorten them). */
  revocationStream?: RevocationStreamOptions;
}

/** Builds the HTTP API over a Tessera. Routes only translate HTTP to service calls and back. */
export async function buildApp(tessera: Tessera, options: AppOptions = {}): Promise<FastifyInstance> {
  const { config } = tessera;
  const headers = securityHeaders(config.issuer);
  // GET /auth/verify for a token verified before is answered ahead of Fastify's router (ADR 009);
  // not with TESSERA_ACCESS_LOG=all, which wants a line for each.
  let httpServer: Server | undefined;
  const fastVerify =
    config.accessLog === 'all'
      ? undefined
      : createVerifyFastPath({
          verifier: tessera.verifier,
          metrics: tessera.metrics,
          securityHeaders: headers,
          cors: config.corsOrigins.length > 0,
          open: () => httpServer?.listening === true,
          denied: rawDenyCheck(tessera.ipRules, config.trustProxy),
        });
  const app = Fastify({
    serverFactory: (handler, serverOptions) => {
      const server = createServer((request, response) => {
        // The fast path hands every request it does not answer to Fastify (and every request
        // once closing has begun: its `open` option).
        if (fastVerify) fastVerify(request, response, handler);
        else handler(request, response);
      });
      httpServer = server;
      // What Fastify sets on a server it makes itself: with serverFactory it hands its (validated,
      // defaulted) options here instead of applying them.
      const timeouts = serverOptions as unknown as { keepAliveTimeout: number; requestTimeout: number; connectionTimeout: number };
      server.keepAliveTimeout = timeouts.keepAliveTimeout;
      server.requestTimeout = timeouts.requestTimeout;
      server.setTimeout(timeouts.connectionTimeout);
      return server;
    },
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    genReqId: requestIdFor,
    // One access-log line per request, as TESSERA_ACCESS_LOG says (logger.ts).
    logController: new AccessLog(config.accessLog),
    childLoggerFactory: requestLogger,
    bodyLimit: bodyLimitBytes,
    // TESSERA_TRUST_PROXY is applied by our own resolver (request.clientIp), never by Fastify's.
    trustProxy: false,
    // Slow-loris bound: a request must arrive whole within this time.
    requestTimeout: 30_000,
    routerOptions: { maxParamLength: 200 },
    // Errors raised before routing (an undecodable URL): same shape and headers as every other.
    frameworkErrors: (error, request, reply) => {
      reply.headers({ ...headers, 'x-request-id': request.id });
      sendError(reply, new AuthError('invalid_request', { description: 'The request URL is malformed.', cause: error }));
    },
    ajv: {
      customOptions: {
        // Unknown fields are an error, never silently dropped; types are never coerced.
        removeAdditional: false,
        coerceTypes: false,
        useDefaults: true,
        allErrors: false,
      },
    },
  }) as unknown as FastifyInstance;

  // JSON only: every other media type (text/plain included) is 415.
  app.removeContentTypeParser('text/plain');
  registerErrorHandling(app);
  registerClientAddress(app, config.trustProxy);
  // The first onRequest hook: every answer, a refused one too, carries the headers.
  registerSecurityHeaders(app, headers);
  registerRequestContext(app);
  // Before any route: it learns the route templates as they are registered.
  registerRequestMetrics(app, tessera.metrics);

  if (config.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: [...config.corsOrigins],
      methods: ['GET', 'POST', 'PATCH', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'x-request-id', 'x-api-key'],
      exposedHeaders: ['x-request-id', 'retry-after', 'www-authenticate'],
      maxAge: 600,
      // A malformed preflight falls through to the JSON 404/400 answers instead of plain text.
      strictPreflight: false,
    });
  }

  // Deny rules refuse every route (health checks excepted), ahead of the limits.
  registerIpRules(app, { ipRules: tessera.ipRules, events: tessera.events });
  registerIpRateLimit(app, { limiter: tessera.ipRateLimiter, events: tessera.events });
  registerIpBlock(app, { ipBlocks: tessera.ipBlocks, events: tessera.events, onError: (error) => options.logger?.warn({ err: error }, 'IP block check failed') });
  // Each route plugin gets only the services it calls; none gets the Tessera or a store.
  guardAdminPrefix(app);
  const { authenticate, events } = tessera;
  await app.register(healthRoutes, { ready: () => tessera.ready() });
  await app.register(metricsRoutes, { metrics: tessera.metrics, metricsToken: config.metricsToken });
  await app.register(wellKnownRoutes, { issuer: config.issuer, keyRing: tessera.keyRing });
  await app.register(authRoutes, {
    login: tessera.login,
    users: tessera.users,
    authenticate,
    changePassword: tessera.changePassword,
    passwordReset: tessera.passwordReset,
  });
  await app.register(tokenRoutes, { refresh: tessera.refresh, authenticate, revocations: tessera.revocations, revokeToken: tessera.revokeToken });
  await app.register(sessionRoutes, { authenticate, sessions: tessera.sessions });
  await app.register(apiKeyRoutes, { authenticate, apiKeys: tessera.apiKeys, confirmPassword: tessera.confirmPassword });
  await app.register(verifyRoutes, { verifier: tessera.verifier, apiKeys: tessera.apiKeys });
  await app.register(introspectRoutes, { authenticate, events, introspect: tessera.introspect, apiKeys: tessera.apiKeys });
  await app.register(revocationRoutes, {
    authenticate,
    events,
    apiKeys: tessera.apiKeys,
    feed: tessera.revocationFeed,
    revocations: tessera.revocations,
    ...(options.revocationStream ? { stream: options.revocationStream } : {}),
  });
  // Every route under /admin, behind one gate (plugins/auth-context.ts).
  await registerAdminApi(app, { authenticate, events, network: adminNetworkGate({ ipRules: tessera.ipRules, events }) }, async (admin) => {
    await admin.register(adminIncidentRoutes, { incidents: tessera.incidents });
    await admin.register(adminIpRuleRoutes, { ipRules: tessera.ipRules });
    await admin.register(adminKeyRoutes, { keys: tessera.keyRotation });
    await admin.register(adminSessionRoutes, { sessions: tessera.sessions });
    await admin.register(adminStatsRoutes, { stats: tessera.stats });
    await admin.register(adminUserRoutes, { users: tessera.userAdmin });
    await admin.register(adminUserImportRoutes, { userImport: tessera.userImport });
    await admin.register(adminApiKeyRoutes, { apiKeys: tessera.apiKeys });
    await admin.register(adminAuditRoutes, { audit: tessera.auditReader, verification: tessera.auditVerification, clock: tessera.clock });
    await admin.register(adminEventRoutes, {
      audit: tessera.auditReader,
      events,
      authenticate,
      ...(options.eventStream ? { stream: options.eventStream } : {}),
    });
  });
  return app;
}
