import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { ApiKeyService } from '../../api-keys/service.js';
import { AuthError } from '../../errors/auth-error.js';
import type { Introspect } from '../../flows/introspect.js';
import { requireAdmin, type AdminGateDeps } from '../plugins/auth-context.js';
import { eventContext } from '../plugins/request-context.js';
import { acceptFormBodies } from '../plugins/form-body.js';
import { errorResponses } from '../schemas/common.js';
import { RevokeBody } from '../schemas/tokens.js';
import { authenticateApiKey, presentedApiKey } from './api-keys.js';

/** The permission an API key needs to introspect tokens (SPEC §3). */
export const introspectPermission = 'tokens:introspect';

const IntrospectionResult = Type.Object(
  {
    active: Type.Boolean(),
    token_type: Type.Optional(Type.String()),
    sub: Type.Optional(Type.String()),
    exp: Type.Optional(Type.Number()),
    iat: Type.Optional(Type.Number()),
    nbf: Type.Optional(Type.Number()),
    jti: Type.Optional(Type.String()),
    sid: Type.Optional(Type.String()),
    iss: Type.Optional(Type.String()),
    aud: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
    client_id: Type.Optional(Type.String()),
    username: Type.Optional(Type.String()),
    roles: Type.Optional(Type.Array(Type.String())),
    permissions: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);

export interface IntrospectRouteOptions extends AdminGateDeps {
  introspect: Introspect;
  apiKeys: Pick<ApiKeyService, 'authenticate' | 'recheck'>;
}

/** Who a token reader is: the API key's id, or none for an admin's bearer token. */
export interface TokenReader {
  userId: string;
  apiKeyId: string | undefined;
}

/**
 * The callers that may read token state (RFC 7662 §2.1 for introspection, and the revocation
 * stream): an API key holding `tokens:introspect`, else 403; or an admin by its stored roles, as
 * on every admin route, so a demotion applies at once and not when the token expires.
 */
export async function authoriseTokenReader(
  request: FastifyRequest,
  { apiKeys, ...gate }: Omit<IntrospectRouteOptions, 'introspect'>,
  endpoint: string,
): Promise<TokenReader> {
  const key = presentedApiKey(request);
  if (key === undefined) {
    const admin = await requireAdmin(request, gate);
    return { userId: admin.user.id, apiKeyId: undefined };
  }
  const identity = await authenticateApiKey(request, apiKeys, key);
  if (!identity.permissions.includes(introspectPermission)) {
    await gate.events.emit('access.denied', { reason: 'insufficient_permissions', userId: identity.user.id, endpoint }, eventContext(request));
    throw new AuthError('insufficient_permissions', { description: `The API key lacks the permission ${introspectPermission}.` });
  }
  return { userId: identity.user.id, apiKeyId: identity.keyId };
}

/** POST /auth/introspect (RFC 7662), JSON or form bodies. */
export async function introspectRoutes(base: FastifyInstance, { introspect, ...callers }: IntrospectRouteOptions): Promise<void> {
  await base.register(async (scope) => {
    acceptFormBodies(scope);
    scope.withTypeProvider<TypeBoxTypeProvider>().post(
      '/auth/introspect',
      { schema: { body: RevokeBody, response: { 200: IntrospectionResult, ...errorResponses } } },
      async (request) => {
        await authoriseTokenReader(request, callers, '/auth/introspect');
        return introspect({ token: request.body.token, hint: request.body.token_type_hint });
      },
    );
  });
}
