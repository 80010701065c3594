import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Authenticate } from '../../flows/authenticate.js';
import type { Refresh } from '../../flows/refresh.js';
import type { RevokeToken } from '../../flows/revoke-token.js';
import type { RevocationService } from '../../revocation/service.js';
import { requireAuth } from '../plugins/auth-context.js';
import { acceptFormBodies } from '../plugins/form-body.js';
import { TokenResponseSchema } from '../schemas/auth.js';
import { EmptyObject, errorResponses, NoContent } from '../schemas/common.js';
import { LogoutBody, RefreshBody, RevokeBody } from '../schemas/tokens.js';
import { eventContext, userAgentOf } from '../plugins/request-context.js';

export interface TokenRouteOptions {
  refresh: Refresh;
  authenticate: Authenticate;
  revocations: Pick<RevocationService, 'revokeSession' | 'revokeAllForUser'>;
  revokeToken: RevokeToken;
}

/** Refresh, sign-out and RFC 7009 revocation. */
export async function tokenRoutes(base: FastifyInstance, { refresh, authenticate, revocations, revokeToken }: TokenRouteOptions): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  app.post(
    '/auth/refresh',
    { schema: { body: RefreshBody, response: { 200: TokenResponseSchema, ...errorResponses } } },
    async (request) =>
      refresh({
        refreshToken: request.body.refresh_token,
        ip: request.clientIp,
        userAgent: userAgentOf(request),
        context: eventContext(request),
      }),
  );

  app.post('/auth/logout', { schema: { body: LogoutBody, response: { 204: NoContent, ...errorResponses } } }, async (request, reply) => {
    const { claims } = await requireAuth(request, authenticate);
    const context = eventContext(request);
    if (request.body?.all_devices === true) await revocations.revokeAllForUser(claims.sub, 'logout_all', context);
    else await revocations.revokeSession(claims.sid, 'logout', context);
    return reply.code(204).send(null);
  });

  app.post('/auth/logout-all', { schema: { response: { 204: NoContent, ...errorResponses } } }, async (request, reply) => {
    const { claims } = await requireAuth(request, authenticate);
    await revocations.revokeAllForUser(claims.sub, 'logout_all', eventContext(request));
    return reply.code(204).send(null);
  });

  await app.register(async (scope) => {
    acceptFormBodies(scope);
    scope.withTypeProvider<TypeBoxTypeProvider>().post(
      '/auth/revoke',
      { schema: { body: RevokeBody, response: { 200: EmptyObject, ...errorResponses } } },
      async (request, reply) => {
        // RFC 7009: holding the token is enough to revoke it; a Bearer caller may only revoke its own.
        // Only a Bearer header identifies a caller; OAuth client credentials (Basic) are ignored.
        const authorization = request.headers.authorization;
        const caller = typeof authorization === 'string' && /^bearer(\s|$)/i.test(authorization) ? await requireAuth(request, authenticate) : undefined;
        await revokeToken({
          token: request.body.token,
          hint: request.body.token_type_hint,
          callerId: caller?.user.id,
          context: eventContext(request),
        });
        // RFC 7009 §2.2: unknown and invalid tokens get the same 200.
        return reply.code(200).send({});
      },
    );
  });
}
