import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../../metrics/metrics.js';
import { otherLabel, unmatchedRoute } from '../../metrics/labels.js';

/**
 * Times every answered request into `tessera_http_request_duration_seconds`. The route label is
 * the template of a route registered after this hook (`/auth/sessions/:id`), `unmatched` when no
 * route matched, never the path that was requested. Register it before any route.
 */
export function registerRequestMetrics(app: FastifyInstance, metrics: Metrics): void {
  const routes = new Set<string>();
  app.addHook('onRoute', (route) => {
    routes.add(route.url);
  });
  // A callback hook: no promise per request.
  app.addHook('onResponse', (request, reply, done) => {
    const url = request.routeOptions.url;
    const route = url === undefined ? unmatchedRoute : routes.has(url) ? url : otherLabel;
    metrics.observeRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
}
