import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { KeyRotation, KeyView as Key } from '../../keys/rotation.js';
import { adminOf } from '../plugins/auth-context.js';
import { eventContext } from '../plugins/request-context.js';
import { errorResponses } from '../schemas/common.js';

const iso = (date: Date | null) => (date ? date.toISOString() : null);
const DateTime = Type.String();

/** Only the schedule: the response schema names no key material, so none can leave. */
export const KeyView = Type.Object({
  kid: Type.String(),
  alg: Type.String(),
  state: Type.Union([Type.Literal('next'), Type.Literal('active'), Type.Literal('retired')]),
  created_at: DateTime,
  activates_at: DateTime,
  retires_at: Type.Union([DateTime, Type.Null()]),
  published_until: Type.Union([DateTime, Type.Null()]),
});

function keyView(key: Key) {
  return {
    kid: key.kid,
    alg: key.alg,
    state: key.state,
    created_at: key.createdAt.toISOString(),
    activates_at: key.activatesAt.toISOString(),
    retires_at: iso(key.retiresAt),
    published_until: iso(key.publishedUntil),
  };
}

export interface AdminKeyRouteOptions {
  keys: Pick<KeyRotation, 'list' | 'rotate'>;
}

/** GET /admin/keys and POST /admin/keys/rotate (publish before sign), behind the admin gate. */
export async function adminKeyRoutes(base: FastifyInstance, { keys }: AdminKeyRouteOptions): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  app.get('/keys', { schema: { response: { 200: Type.Object({ keys: Type.Array(KeyView) }), ...errorResponses } } }, async () => ({
    keys: (await keys.list()).map(keyView),
  }));

  app.post(
    '/keys/rotate',
    { schema: { response: { 201: KeyView, ...errorResponses } } },
    async (request, reply) => {
      const key = await keys.rotate(adminOf(request).user.id, eventContext(request));
      return reply.code(201).send(keyView(key));
    },
  );
}
