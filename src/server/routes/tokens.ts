import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AuthError } from '../../errors/auth-error.js';
import type { Tessera } from '../../app/create-tessera.js';
import { parseOpaqueToken, tokenSecretMatches } from '../../tokens/opaque-token.js';
import { bearerToken, tokenOrigin } from '../plugins/auth-context.js';
import { acceptFormBodies } from '../plugins/form-body.js';
import { TokenResponseSchema } from '../schemas/auth.js';
import { EmptyObject, errorResponses, NoContent } from '../schemas/common.js';
import { LogoutBody, RefreshBody, RevokeBody } from '../schemas/tokens.js';
import { eventContext, userAgentOf } from '../plugins/request-context.js';

/** Refresh, sign-out and RFC 7009 revocation. */
export async function tokenRoutes(base: FastifyInstance, { tessera }: { tessera: Tessera }): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  app.post(
    '/auth/refresh',
    { schema: { body: RefreshBody, response: { 200: TokenResponseSchema, ...errorResponses } } },
    async (request) =>
      tessera.refresh({
        refreshToken: request.body.refresh_token,
        ip: request.clientIp,
        userAgent: userAgentOf(request),
        context: eventContext(request),
      }),
  );

  app.post('/auth/logout', { schema: { body: LogoutBody, response: { 204: NoContent, ...errorResponses } } }, async (request, reply) => {
    const { claims } = await tessera.authenticate(bearerToken(request), tokenOrigin(request));
    const context = eventContext(request);
    if (request.body?.all_devices === true) await tessera.revocations.revokeAllForUser(claims.sub, 'logout_all', context);
    else await tessera.revocations.revokeSession(claims.sid, 'logout', context);
    return reply.code(204).send(null);
  });

  app.post('/auth/logout-all', { schema: { response: { 204: NoContent, ...errorResponses } } }, async (request, reply) => {
    const { claims } = await tessera.authenticate(bearerToken(request), tokenOrigin(request));
    await tessera.revocations.revokeAllForUser(claims.sub, 'logout_all', eventContext(request));
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
        const caller =
          typeof authorization === 'string' && /^bearer(\s|$)/i.test(authorization)
            ? (await tessera.authenticate(bearerToken(request), tokenOrigin(request))).claims
            : undefined;
        const context = eventContext(request);
        const { token, token_type_hint: hint } = request.body;
        const order = hint === 'access_token' ? (['access', 'refresh'] as const) : (['refresh', 'access'] as const);
        for (const kind of order) {
          const owner = kind === 'refresh' ? await refreshOwner(tessera, token) : await accessOwner(tessera, token);
          if (!owner) continue;
          if (caller && caller.sub !== owner.userId) throw new AuthError('not_token_owner');
          if (owner.kind === 'refresh') {
            await tessera.revocations.revokeRefreshToken(owner, context);
          } else {
            await tessera.revocations.revokeAccessToken(owner.claims, context);
          }
          break;
        }
        // RFC 7009 §2.2: unknown and invalid tokens get the same 200.
        return reply.code(200).send({});
      },
    );
  });
}

async function refreshOwner(tessera: Tessera, token: string) {
  const parts = parseOpaqueToken(token);
  if (!parts) return undefined;
  const record = await tessera.stores.refreshTokens.findById(parts.id);
  if (!record || !tokenSecretMatches(parts.secret, record.secretHash)) return undefined;
  return { kind: 'refresh' as const, userId: record.userId, sessionId: record.sessionId };
}

async function accessOwner(tessera: Tessera, token: string) {
  try {
    const claims = await tessera.tokens.verify(token);
    return { kind: 'access' as const, userId: claims.sub, claims };
  } catch {
    return undefined;
  }
}
