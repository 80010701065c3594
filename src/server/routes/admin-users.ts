import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { AdminUser, UserAdmin } from '../../users/admin.js';
import { toPublicUser } from '../../users/user.js';
import { adminOf } from '../plugins/auth-context.js';
import { eventContext } from '../plugins/request-context.js';
import { errorResponses, NoContent } from '../schemas/common.js';
import {
  AdminUserCreateBody,
  AdminUserListQuery,
  AdminUserPage,
  AdminUserParams,
  AdminUserPatchBody,
  AdminUserView,
  RevokeAllResult,
} from '../schemas/admin-users.js';

/** The public view (users/user.ts) and what only an admin sees; also `tessera users list --json`. */
export function adminUserView(user: AdminUser) {
  return {
    ...toPublicUser(user),
    tenant: user.tenant,
    disabled: user.disabled,
    locked: user.lockedUntil !== null,
    locked_until: user.lockedUntil ? user.lockedUntil.toISOString() : null,
    created_at: user.createdAt.toISOString(),
    updated_at: user.updatedAt.toISOString(),
  };
}

export interface AdminUserRouteOptions {
  users: UserAdmin;
}

/** GET, POST /admin/users and GET, PATCH, DELETE /admin/users/:id, POST …/revoke-all, behind the admin gate. */
export async function adminUserRoutes(base: FastifyInstance, { users }: AdminUserRouteOptions): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  app.get('/users', { schema: { querystring: AdminUserListQuery, response: { 200: AdminUserPage, ...errorResponses } } }, async (request) => {
    const { q, role, disabled, locked, tenant, cursor, limit } = request.query;
    const page = await users.list({
      q,
      role,
      tenant,
      cursor,
      disabled: disabled === undefined ? undefined : disabled === 'true',
      locked: locked === undefined ? undefined : locked === 'true',
      limit: limit === undefined ? undefined : Number(limit),
    });
    return { users: page.users.map(adminUserView), next_cursor: page.nextCursor };
  });

  app.post('/users', { schema: { body: AdminUserCreateBody, response: { 201: AdminUserView, ...errorResponses } } }, async (request, reply) => {
    const { username, password, email, roles, permissions, tenant } = request.body;
    const user = await users.create({ username, password, email, roles, permissions, tenant }, adminOf(request).user.id, eventContext(request));
    return reply.code(201).send(adminUserView(user));
  });

  app.get('/users/:id', { schema: { params: AdminUserParams, response: { 200: AdminUserView, ...errorResponses } } }, async (request) =>
    adminUserView(await users.get(request.params.id)),
  );

  app.patch(
    '/users/:id',
    { schema: { params: AdminUserParams, body: AdminUserPatchBody, response: { 200: AdminUserView, ...errorResponses } } },
    async (request) => adminUserView(await users.update(request.params.id, request.body, adminOf(request).user.id, eventContext(request))),
  );

  app.delete('/users/:id', { schema: { params: AdminUserParams, response: { 204: NoContent, ...errorResponses } } }, async (request, reply) => {
    await users.delete(request.params.id, adminOf(request).user.id, eventContext(request));
    return reply.code(204).send(null);
  });

  app.post(
    '/users/:id/revoke-all',
    { schema: { params: AdminUserParams, response: { 200: RevokeAllResult, ...errorResponses } } },
    async (request) => ({ sessions_revoked: await users.revokeAll(request.params.id, adminOf(request).user.id, eventContext(request)) }),
  );
}
