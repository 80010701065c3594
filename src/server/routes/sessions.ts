import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AuthError } from '../../errors/auth-error.js';
import type { Tessera } from '../../app/create-tessera.js';
import { isSessionActive } from '../../sessions/session.js';
import { bearerToken, tokenOrigin } from '../plugins/auth-context.js';
import { errorResponses, NoContent } from '../schemas/common.js';
import { SessionParams, SessionView } from '../schemas/tokens.js';
import { sessionView } from './auth.js';
import { eventContext } from '../plugins/request-context.js';

/** The signed-in user's own sessions (devices). */
export async function sessionRoutes(base: FastifyInstance, { tessera }: { tessera: Tessera }): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/auth/sessions',
    { schema: { response: { 200: Type.Object({ sessions: Type.Array(SessionView) }), ...errorResponses } } },
    async (request) => {
      const { claims } = await tessera.authenticate(bearerToken(request), tokenOrigin(request));
      const now = tessera.clock.now();
      const sessions = await tessera.stores.sessions.listActiveByUser(claims.sub, new Date(now), new Date(now - tessera.config.refreshTtlMs));
      return {
        sessions: sessions.map((session) => ({ ...sessionView(session), current: session.id === claims.sid })),
      };
    },
  );

  app.delete(
    '/auth/sessions/:id',
    { schema: { params: SessionParams, response: { 204: NoContent, ...errorResponses } } },
    async (request, reply) => {
      const { claims } = await tessera.authenticate(bearerToken(request), tokenOrigin(request));
      const session = await tessera.stores.sessions.findById(request.params.id);
      // Another user's session is answered exactly like a missing one.
      if (!session || session.userId !== claims.sub || !isSessionActive(session, tessera.clock.now(), tessera.config.refreshTtlMs)) {
        throw new AuthError('not_found', { description: 'No such session.' });
      }
      await tessera.revocations.revokeSession(session.id, 'ended_by_user', eventContext(request));
      return reply.code(204).send(null);
    },
  );
}
