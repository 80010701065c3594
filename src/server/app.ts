import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Tessera } from '../app/create-tessera.js';
import { AuthError } from '../errors/auth-error.js';
import { registerErrorHandling, sendError } from './plugins/errors.js';
import { baselineSecurityHeaders, registerRequestContext, requestIdFor } from './plugins/request-context.js';
import { registerClientAddress } from './plugins/client-address.js';
import { registerIpBlock } from './plugins/ip-block.js';
import { registerIpRateLimit } from './plugins/ip-rate-limit.js';
import { registerRequestMetrics } from './plugins/request-metrics.js';
import { adminEventRoutes, type EventStreamOptions } from './routes/admin-events.js';
import { adminAuditRoutes } from './routes/admin-audit.js';
import { adminIncidentRoutes } from './routes/admin-incidents.js';
import { adminStatsRoutes } from './routes/admin-stats.js';
import { authRoutes } from './routes/auth.js';
import { healthRoutes } from './routes/health.js';
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
}

/** Builds the HTTP API over a Tessera. Routes only translate HTTP to service calls and back. */
export async function buildApp(tessera: Tessera, options: AppOptions = {}): Promise<FastifyInstance> {
  const { config } = tessera;
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    genReqId: requestIdFor,
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    bodyLimit: bodyLimitBytes,
    // TESSERA_TRUST_PROXY is applied by our own resolver (request.clientIp), never by Fastify's.
    trustProxy: false,
    // Slow-loris bound: a request must arrive whole within this time.
    requestTimeout: 30_000,
    routerOptions: { maxParamLength: 200 },
    // Errors raised before routing (an undecodable URL): same shape and headers as every other.
    frameworkErrors: (error, request, reply) => {
      reply.headers({ ...baselineSecurityHeaders, 'x-request-id': request.id });
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
  registerRequestContext(app);
  // Before any route: it learns the route templates as they are registered.
  registerRequestMetrics(app, tessera.metrics);

  await app.register(helmet, {
    // A JSON API: nothing may be framed, loaded or executed from its responses.
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    hsts: config.issuer.startsWith('https:') ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    crossOriginResourcePolicy: { policy: 'same-origin' },
  });
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

  registerIpRateLimit(app, { hotState: tessera.hotState, events: tessera.events, config });
  registerIpBlock(app, { ipBlocks: tessera.ipBlocks, events: tessera.events, onError: (error) => options.logger?.warn({ err: error }, 'IP block check failed') });
  await app.register(healthRoutes, { tessera });
  await app.register(metricsRoutes, { tessera });
  await app.register(wellKnownRoutes, { tessera });
  await app.register(authRoutes, { tessera });
  await app.register(tokenRoutes, { tessera });
  await app.register(sessionRoutes, { tessera });
  await app.register(verifyRoutes, { tessera });
  await app.register(adminIncidentRoutes, { tessera });
  await app.register(adminStatsRoutes, { tessera });
  await app.register(adminAuditRoutes, { tessera });
  await app.register(adminEventRoutes, { tessera, ...(options.eventStream ? { stream: options.eventStream } : {}) });
  return app;
}
