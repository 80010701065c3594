import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Introspect } from '../../flows/introspect.js';
import { requireAdmin, type AdminGateDeps } from '../plugins/auth-context.js';
import { acceptFormBodies } from '../plugins/form-body.js';
import { errorResponses } from '../schemas/common.js';
import { RevokeBody } from '../schemas/tokens.js';

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
}

/** POST /auth/introspect (RFC 7662), JSON or form bodies. */
export async function introspectRoutes(base: FastifyInstance, { introspect, ...gate }: IntrospectRouteOptions): Promise<void> {
  await base.register(async (scope) => {
    acceptFormBodies(scope);
    scope.withTypeProvider<TypeBoxTypeProvider>().post(
      '/auth/introspect',
      { schema: { body: RevokeBody, response: { 200: IntrospectionResult, ...errorResponses } } },
      async (request) => {
        // RFC 7662 §2.1: the caller must be authorised; for now an admin by its stored roles, as on
        // every admin route, so a demotion applies at once and not when the token expires.
        await requireAdmin(request, gate);
        return introspect({ token: request.body.token, hint: request.body.token_type_hint });
      },
    );
  });
}
