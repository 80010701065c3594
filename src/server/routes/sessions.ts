import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Authenticate } from '../../flows/authenticate.js';
import type { SessionService } from '../../sessions/service.js';
import { requireAuth } from '../plugins/auth-context.js';
import { errorResponses, NoContent } from '../schemas/common.js';
import { SessionParams, SessionView } from '../schemas/tokens.js';
import { sessionView } from './auth.js';
import { eventContext } from '../plugins/request-context.js';

export interface SessionRouteOptions {
  authenticate: Authenticate;
  sessions: Pick<SessionService, 'listActive' | 'endOwn'>;
}

/** The signed-in user's own sessions (devices). */
export async function sessionRoutes(base: FastifyInstance, { authenticate, sessions }: SessionRouteOptions): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/auth/sessions',
    { schema: { response: { 200: Type.Object({ sessions: Type.Array(SessionView) }), ...errorResponses } } },
    async (request) => {
      const { claims } = await requireAuth(request, authenticate);
      const active = await sessions.listActive(claims.sub);
      return {
        sessions: active.map((session) => ({ ...sessionView(session), current: session.id === claims.sid })),
      };
    },
  );

  app.delete(
    '/auth/sessions/:id',
    { schema: { params: SessionParams, response: { 204: NoContent, ...errorResponses } } },
    async (request, reply) => {
      const { claims } = await requireAuth(request, authenticate);
      await sessions.endOwn(claims.sub, request.params.id, eventContext(request));
      return reply.code(204).send(null);
    },
  );
}
