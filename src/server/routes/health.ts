import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { AuthError } from '../../errors/auth-error.js';
import { NotReadyError } from '../../app/storage.js';
import { ErrorResponse } from '../schemas/common.js';

const readinessTimeoutMs = 2000;

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface HealthRouteOptions {
  /** Resolves when every backing store answers; rejects with NotReadyError naming the first that does not. */
  ready: () => Promise<void>;
}

export async function healthRoutes(app: FastifyInstance, { ready }: HealthRouteOptions): Promise<void> {
  const Status = Type.Object({ status: Type.String() });

  app.get('/healthz', { schema: { response: { 200: Status } } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { response: { 200: Status, 503: ErrorResponse } } }, async (request) => {
    try {
      await withTimeout(ready(), readinessTimeoutMs);
    } catch (error) {
      const component = error instanceof NotReadyError ? error.component : 'database';
      request.log.warn({ err: error }, `not ready: ${component} unreachable`);
      throw new AuthError('service_unavailable', {
        description: component === 'redis' ? 'Redis is not reachable.' : 'The database is not reachable.',
      });
    }
    return { status: 'ready' };
  });
}
