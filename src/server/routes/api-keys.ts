import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { ApiKey } from '../../api-keys/api-key.js';
import type { ApiKeyIdentity, ApiKeyService } from '../../api-keys/service.js';
import { AuthError } from '../../errors/auth-error.js';
import type { Authenticate } from '../../flows/authenticate.js';
import type { ConfirmPassword } from '../../flows/confirm-password.js';
import { identityHeaders } from '../../verify/identity-headers.js';
import { adminOf, requireAuth } from '../plugins/auth-context.js';
import { eventContext } from '../plugins/request-context.js';
import { errorResponses, NoContent } from '../schemas/common.js';
import { AdminApiKeyListQuery, AdminApiKeyView, ApiKeyCreateBody, ApiKeyCreated, ApiKeyParams, ApiKeyView } from '../schemas/api-keys.js';

/** `Authorization: ApiKey <key>` (the scheme case-insensitive, RFC 7235 §2.1). */
const apiKeyScheme = /^ApiKey +(\S+) *$/i;

/**
 * The API key a request presents, in `X-API-Key` or `Authorization: ApiKey …`; undefined when it
 * presents none (a bearer token, or nothing). A key together with any Authorization header is
 * 400 `invalid_request`: which of two credentials speaks for the request is never guessed.
 */
export function presentedApiKey(request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key'];
  const authorization = request.headers.authorization;
  if (header !== undefined) {
    if (authorization !== undefined) throw new AuthError('invalid_request', { description: 'Send an API key or an Authorization header, not both.' });
    // A repeated header arrives joined (and then never parses as a key).
    return Array.isArray(header) ? header.join(', ') : header;
  }
  if (typeof authorization !== 'string') return undefined;
  const match = apiKeyScheme.exec(authorization);
  if (match) return match[1]!;
  // The scheme without a well-formed key: still an API key, refused as malformed (401).
  return /^ApiKey(\s|$)/i.test(authorization) ? '' : undefined;
}

/** Verifies the request's API key: the identity, or 401 `invalid_token` / 429 `rate_limited`. */
export function authenticateApiKey(request: FastifyRequest, apiKeys: Pick<ApiKeyService, 'authenticate'>, key: string): Promise<ApiKeyIdentity> {
  return apiKeys.authenticate(key, request.clientIp, eventContext(request), request.routeOptions.url ?? 'unknown');
}

/** The identity headers of a key, as a token's (no session: X-Session-Id is empty), plus X-Auth-Method. */
export function apiKeyIdentityHeaders(identity: ApiKeyIdentity): Record<string, string> {
  return {
    ...identityHeaders({
      sub: identity.user.id,
      username: identity.user.username,
      roles: identity.user.roles,
      permissions: identity.permissions,
      sid: '',
      ...(identity.user.tenant === null ? {} : { tenant: identity.user.tenant }),
    }),
    'x-auth-method': 'api_key',
  };
}

/** The JSON body GET /auth/verify answers for a key (ApiKeyClaimsSchema). */
export function apiKeyClaims(identity: ApiKeyIdentity) {
  return {
    sub: identity.user.id,
    username: identity.user.username,
    roles: identity.user.roles,
    permissions: identity.permissions,
    ...(identity.user.tenant === null ? {} : { tenant: identity.user.tenant }),
    api_key_id: identity.keyId,
    auth_method: 'api_key' as const,
  };
}

const iso = (date: Date | null) => (date ? date.toISOString() : null);

function keyView(key: ApiKey) {
  return {
    id: key.id,
    name: key.name,
    permissions: key.permissions,
    created_at: key.createdAt.toISOString(),
    expires_at: iso(key.expiresAt),
    last_used_at: iso(key.lastUsedAt),
    last_used_ip: key.lastUsedIp,
  };
}

export interface ApiKeyRouteOptions {
  authenticate: Authenticate;
  apiKeys: Pick<ApiKeyService, 'create' | 'listOwn' | 'revokeOwn'>;
  confirmPassword: ConfirmPassword;
}

/** POST, GET /auth/api-keys and DELETE /auth/api-keys/:id: the signed-in user's own keys (Bearer only). */
export async function apiKeyRoutes(base: FastifyInstance, { authenticate, apiKeys, confirmPassword }: ApiKeyRouteOptions): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  app.post(
    '/auth/api-keys',
    { schema: { body: ApiKeyCreateBody, response: { 201: ApiKeyCreated, ...errorResponses } } },
    async (request, reply) => {
      const { user, claims } = await requireAuth(request, authenticate);
      const { name, permissions, expires_at: expiresAt, current_password: currentPassword } = request.body;
      // A key outlives the session that made it (and a sign-out everywhere): a stolen access
      // token alone must not mint one, as it must not change the password.
      const confirmed = await confirmPassword({ userId: user.id, sessionId: claims.sid, password: currentPassword, context: eventContext(request) });
      const created = await apiKeys.create(user.id, { name, permissions, expiresAt, confirmedPasswordHash: confirmed.passwordHash }, eventContext(request));
      return reply.code(201).send({ ...keyView(created.apiKey), api_key: created.key });
    },
  );

  app.get(
    '/auth/api-keys',
    { schema: { response: { 200: Type.Object({ api_keys: Type.Array(ApiKeyView) }), ...errorResponses } } },
    async (request) => {
      const { user } = await requireAuth(request, authenticate);
      return { api_keys: (await apiKeys.listOwn(user.id)).map(keyView) };
    },
  );

  app.delete(
    '/auth/api-keys/:id',
    { schema: { params: ApiKeyParams, response: { 204: NoContent, ...errorResponses } } },
    async (request, reply) => {
      const { user } = await requireAuth(request, authenticate);
      await apiKeys.revokeOwn(user.id, request.params.id, eventContext(request));
      return reply.code(204).send(null);
    },
  );
}

export interface AdminApiKeyRouteOptions {
  apiKeys: Pick<ApiKeyService, 'listAll' | 'revokeAny'>;
}

/** GET /admin/api-keys (every user's active keys) and DELETE /admin/api-keys/:id, behind the admin gate. */
export async function adminApiKeyRoutes(base: FastifyInstance, { apiKeys }: AdminApiKeyRouteOptions): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/api-keys',
    {
      schema: {
        querystring: AdminApiKeyListQuery,
        response: { 200: Type.Object({ api_keys: Type.Array(AdminApiKeyView), next_cursor: Type.Union([Type.String(), Type.Null()]) }), ...errorResponses },
      },
    },
    async (request) => {
      const { user, cursor, limit } = request.query;
      const page = await apiKeys.listAll({ userId: user?.toLowerCase(), cursor, limit: limit === undefined ? undefined : Number(limit) });
      return { api_keys: page.keys.map((key) => ({ ...keyView(key), user_id: key.userId })), next_cursor: page.nextCursor };
    },
  );

  app.delete(
    '/api-keys/:id',
    { schema: { params: ApiKeyParams, response: { 204: NoContent, ...errorResponses } } },
    async (request, reply) => {
      await apiKeys.revokeAny(request.params.id, adminOf(request).user.id, eventContext(request));
      return reply.code(204).send(null);
    },
  );
}
