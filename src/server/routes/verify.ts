import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AuthError, isAuthError } from '../../errors/auth-error.js';
import type { Tessera } from '../../app/create-tessera.js';
import { isSessionActive } from '../../sessions/session.js';
import type { AccessTokenClaims } from '../../tokens/access-token.js';
import { parseOpaqueToken, tokenSecretMatches } from '../../tokens/opaque-token.js';
import { bearerToken, tokenOrigin } from '../plugins/auth-context.js';
import { acceptFormBodies } from '../plugins/form-body.js';
import { errorResponses } from '../schemas/common.js';
import { ClaimsSchema, RevokeBody, VerifyBody, VerifyQuery } from '../schemas/tokens.js';

function missingPermissions(claims: AccessTokenClaims, required: readonly string[]): string[] {
  return required.filter((permission) => !claims.permissions.includes(permission));
}

function insufficient(missing: string[], extra: Record<string, unknown> = {}): AuthError {
  return new AuthError('insufficient_permissions', {
    description: `The token lacks the permission${missing.length > 1 ? 's' : ''} ${missing.join(', ')}.`,
    extra,
  });
}

/**
 * A header value: printable ASCII as it is; anything else (a Cyrillic username, a control
 * character) percent-encoded, so a header can never be refused by Node or split by a proxy.
 */
export function headerValue(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

interface ForwardAuthAnswer {
  headers: Record<string, string>;
  body: string;
}

/**
 * The forward-auth answer depends only on the claims, and the verifier hands back the same claims
 * object for every request with the same token: build the headers and JSON once per token.
 */
const answers = new WeakMap<AccessTokenClaims, ForwardAuthAnswer>();
const claimNames = Object.keys(ClaimsSchema.properties);
/** Only the members the response schema names, as the schema serializer would. */
const serializeClaims = (claims: AccessTokenClaims) =>
  JSON.stringify(Object.fromEntries(claimNames.filter((name) => name in claims).map((name) => [name, claims[name as keyof AccessTokenClaims]])));

function forwardAuthAnswer(claims: AccessTokenClaims): ForwardAuthAnswer {
  let answer = answers.get(claims);
  if (!answer) {
    answer = {
      headers: {
        'x-user-id': headerValue(claims.sub),
        'x-username': headerValue(claims.username ?? ''),
        'x-roles': headerValue(claims.roles.join(',')),
        'x-permissions': headerValue(claims.permissions.join(',')),
        'x-session-id': headerValue(claims.sid),
        'x-tenant-id': headerValue(claims.tenant ?? ''),
        'content-type': 'application/json; charset=utf-8',
      },
      body: serializeClaims(claims),
    };
    answers.set(claims, answer);
  }
  return answer;
}

const VerifyResult = Type.Object({
  valid: Type.Literal(true),
  claims: ClaimsSchema,
  user: Type.Object({
    id: Type.String(),
    username: Type.Union([Type.String(), Type.Null()]),
    roles: Type.Array(Type.String()),
    permissions: Type.Array(Type.String()),
  }),
});

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

/** Verification for other services: forward-auth, a JSON verdict, and RFC 7662 introspection. */
export async function verifyRoutes(base: FastifyInstance, { tessera }: { tessera: Tessera }): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  // Forward-auth (nginx auth_request, Traefik ForwardAuth, Caddy forward_auth): the token only
  // from the Authorization header, never a query string.
  app.get(
    '/auth/verify',
    { schema: { querystring: VerifyQuery, response: { 200: ClaimsSchema, ...errorResponses } } },
    async (request, reply) => {
      const claims = await tessera.verifier.verify(bearerToken(request), tokenOrigin(request));
      const required = (request.query.permissions ?? '').split(',').map((p) => p.trim()).filter(Boolean);
      const missing = missingPermissions(claims, required);
      if (missing.length > 0) throw insufficient(missing);
      const answer = forwardAuthAnswer(claims);
      // The claims were validated field by field when the token was verified (access-token.ts).
      // A string with a JSON content type is sent as it is, not serialized again.
      return reply.headers(answer.headers).send(answer.body as never);
    },
  );

  app.post(
    '/auth/verify',
    {
      schema: {
        body: VerifyBody,
        response: { 200: VerifyResult, ...errorResponses },
      },
    },
    async (request) => {
      let claims: AccessTokenClaims;
      try {
        claims = await tessera.verifier.verify(request.body.token, tokenOrigin(request));
      } catch (error) {
        if (isAuthError(error)) {
          throw new AuthError(error.code, { description: error.description, detail: error.detail ?? '', extra: { valid: false } });
        }
        throw error;
      }
      const missing = missingPermissions(claims, request.body.required_permissions ?? []);
      if (missing.length > 0) throw insufficient(missing, { valid: false });
      return {
        valid: true as const,
        claims,
        user: { id: claims.sub, username: claims.username ?? null, roles: claims.roles, permissions: claims.permissions },
      };
    },
  );

  await app.register(async (scope) => {
    acceptFormBodies(scope);
    scope.withTypeProvider<TypeBoxTypeProvider>().post(
      '/auth/introspect',
      { schema: { body: RevokeBody, response: { 200: IntrospectionResult, ...errorResponses } } },
      async (request) => {
        // RFC 7662 §2.1: the caller must be authorised; for now an admin's access token.
        const caller = await tessera.verifier.verify(bearerToken(request), tokenOrigin(request));
        if (!caller.roles.includes('admin')) throw new AuthError('forbidden', { description: 'Introspection requires the admin role.' });
        const { token, token_type_hint: hint } = request.body;
        const order = hint === 'refresh_token' ? (['refresh', 'access'] as const) : (['access', 'refresh'] as const);
        for (const kind of order) {
          const result = kind === 'access' ? await introspectAccess(tessera, token) : await introspectRefresh(tessera, token);
          if (result) return result;
        }
        return { active: false };
      },
    );
  });
}

async function introspectAccess(tessera: Tessera, token: string) {
  let claims: AccessTokenClaims;
  try {
    claims = await tessera.verifier.verify(token);
  } catch {
    return undefined;
  }
  return {
    active: true,
    token_type: 'access_token',
    sub: claims.sub,
    exp: claims.exp,
    iat: claims.iat,
    nbf: claims.nbf,
    jti: claims.jti,
    sid: claims.sid,
    iss: claims.iss,
    aud: claims.aud,
    client_id: claims.client_id,
    ...(claims.username === undefined ? {} : { username: claims.username }),
    roles: claims.roles,
    permissions: claims.permissions,
  };
}

async function introspectRefresh(tessera: Tessera, token: string) {
  const parts = parseOpaqueToken(token);
  if (!parts) return undefined;
  const record = await tessera.stores.refreshTokens.findById(parts.id);
  const now = tessera.clock.now();
  if (!record || !tokenSecretMatches(parts.secret, record.secretHash)) return undefined;
  if (record.revokedAt || record.consumedAt || record.expiresAt.getTime() <= now) return undefined;
  const session = await tessera.stores.sessions.findById(record.sessionId);
  if (!session || !isSessionActive(session, now)) return undefined;
  const user = await tessera.stores.users.findById(record.userId);
  if (!user || user.disabled) return undefined;
  return {
    active: true,
    token_type: 'refresh_token',
    sub: record.userId,
    sid: record.sessionId,
    jti: record.id,
    username: user.username,
    roles: user.roles,
    permissions: user.permissions,
    iat: Math.floor(record.createdAt.getTime() / 1000),
    exp: Math.floor(record.expiresAt.getTime() / 1000),
    client_id: 'tessera',
  };
}
