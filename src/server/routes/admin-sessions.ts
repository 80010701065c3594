import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { SessionService } from '../../sessions/service.js';
import type { SessionListing } from '../../sessions/store.js';
import { adminOf } from '../plugins/auth-context.js';
import { eventContext } from '../plugins/request-context.js';
import { errorResponses, NoContent } from '../schemas/common.js';
import { SessionParams } from '../schemas/tokens.js';
import { sessionView } from './auth.js';

const NullableText = Type.Union([Type.String(), Type.Null()]);

/** A session as the admin API shows it: never a refresh token, its hash or the device fingerprint. */
const AdminSessionView = Type.Object({
  id: Type.String(),
  user_id: Type.String(),
  username: Type.String(),
  device_name: NullableText,
  ip: NullableText,
  user_agent: NullableText,
  created_at: Type.String(),
  last_active_at: Type.String(),
  expires_at: Type.String(),
});

const AdminSessionListQuery = Type.Object(
  {
    user_id: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' })),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })),
    cursor: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,200}$' })),
  },
  { additionalProperties: false },
);

function adminSessionView({ session, username }: SessionListing) {
  return { ...sessionView(session), user_id: session.userId, username };
}

export interface AdminSessionRouteOptions {
  sessions: Pick<SessionService, 'listAll' | 'terminate'>;
}

/** GET /admin/sessions (every user's active sessions) and DELETE /admin/sessions/:id, behind the admin gate. */
export async function adminSessionRoutes(base: FastifyInstance, { sessions }: AdminSessionRouteOptions): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/sessions',
    {
      schema: {
        querystring: AdminSessionListQuery,
        response: { 200: Type.Object({ sessions: Type.Array(AdminSessionView), next_cursor: NullableText }), ...errorResponses },
      },
    },
    async (request) => {
      const { user_id: userId, cursor, limit } = request.query;
      const page = await sessions.listAll({ userId, cursor, limit: limit === undefined ? undefined : Number(limit) });
      return { sessions: page.sessions.map(adminSessionView), next_cursor: page.nextCursor };
    },
  );

  app.delete(
    '/sessions/:id',
    { schema: { params: SessionParams, response: { 204: NoContent, ...errorResponses } } },
    async (request, reply) => {
      await sessions.terminate(request.params.id, adminOf(request).user.id, eventContext(request));
      return reply.code(204).send(null);
    },
  );
}
