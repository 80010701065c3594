import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AuthError, isAuthError } from '../../errors/auth-error.js';
import type { ApiKeyIdentity, ApiKeyService } from '../../api-keys/service.js';
import type { AccessVerifier } from '../../tokens/access-verifier.js';
import type { AccessTokenClaims } from '../../tokens/access-token.js';
import { identityHeaders } from '../../verify/identity-headers.js';
import { bearerToken, tokenOrigin } from '../plugins/auth-context.js';
import { errorResponses } from '../schemas/common.js';
import { ApiKeyClaimsSchema } from '../schemas/api-keys.js';
import { ClaimsSchema, VerifyBody, VerifyQuery } from '../schemas/tokens.js';
import { apiKeyClaims, apiKeyIdentityHeaders, authenticateApiKey, presentedApiKey } from './api-keys.js';

function missingPermissions(held: { permissions: readonly string[] }, required: readonly string[]): string[] {
  return required.filter((permission) => !held.permissions.includes(permission));
}

/** An API key's refusal on POST /auth/verify: the error with `valid: false`, its headers kept (Retry-After). */
function invalidVerdict(error: unknown): unknown {
  if (isAuthError(error)) {
    return new AuthError(error.code, { description: error.description, detail: error.detail ?? '', headers: error.headers, extra: { ...error.extra, valid: false } });
  }
  return error;
}

function insufficient(missing: string[], extra: Record<string, unknown> = {}): AuthError {
  return new AuthError('insufficient_permissions', {
    description: `The token lacks the permission${missing.length > 1 ? 's' : ''} ${missing.join(', ')}.`,
    extra,
  });
}

export interface ForwardAuthAnswer {
  headers: Record<string, string>;
  body: string;
  /** The same answer as one flat header list, with a last slot for the request id: the fast path's (verify-fast-path.ts), built on its first use. */
  headerList?: string[];
  /** The security headers `headerList` was built with. */
  headerListSource?: readonly string[];
}

/**
 * The forward-auth answer depends only on the claims, and the verifier hands back the same claims
 * object for every request with the same token: the headers and JSON are built once per token and
 * kept on the claims object itself, under a symbol of this module (invisible to JSON and to
 * Object.keys). Not a WeakMap: with 10 000 tokens cached, each a WeakMap entry, the collector's
 * ephemeron work cost more than the answer itself (docs/performance.md).
 */
const answerSlot = Symbol('forward-auth answer');
type ClaimsWithAnswer = AccessTokenClaims & { [answerSlot]?: ForwardAuthAnswer };
/**
 * Only the members the response schema names, in its order, as the schema serializer would: a
 * replacer list, which applies to the claims object's own keys (the claims hold no nested objects,
 * only lists of strings).
 */
const claimNames = Object.keys(ClaimsSchema.properties);

export function forwardAuthAnswer(claims: AccessTokenClaims): ForwardAuthAnswer {
  const held = claims as ClaimsWithAnswer;
  let answer = held[answerSlot];
  if (answer === undefined) {
    // Built once per distinct token, in place: no spread copies.
    const headers: Record<string, string> = identityHeaders(claims);
    headers['content-type'] = 'application/json; charset=utf-8';
    // What the onSend hook (request-context.ts) would add, set here with the rest in one call.
    headers['cache-control'] = 'no-store';
    headers.pragma = 'no-cache';
    answer = { headers, body: JSON.stringify(claims, claimNames) };
    held[answerSlot] = answer;
  }
  return answer;
}

const VerifiedUser = Type.Object({
  id: Type.String(),
  username: Type.Union([Type.String(), Type.Null()]),
  roles: Type.Array(Type.String()),
  permissions: Type.Array(Type.String()),
});

const VerifyResult = Type.Object({
  valid: Type.Literal(true),
  claims: ClaimsSchema,
  user: VerifiedUser,
});

/** An API key's verdict: no claims (a key is no token), the key's id and its owner. */
const ApiKeyVerifyResult = Type.Object({
  valid: Type.Literal(true),
  auth_method: Type.Literal('api_key'),
  api_key_id: Type.String(),
  user: VerifiedUser,
});

export interface VerifyRouteOptions {
  verifier: AccessVerifier;
  apiKeys: Pick<ApiKeyService, 'authenticate'>;
}

/** The headers of an API key's forward-auth answer (a token's are built once per token, below). */
function apiKeyAnswerHeaders(identity: ApiKeyIdentity): Record<string, string> {
  return { ...apiKeyIdentityHeaders(identity), 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', pragma: 'no-cache' };
}

/** Verification for other services: forward-auth and a JSON verdict (introspection: introspect.ts). */
export async function verifyRoutes(base: FastifyInstance, { verifier, apiKeys }: VerifyRouteOptions): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  const required = (permissions: string | undefined): string[] => (permissions === undefined ? [] : permissions.split(',').map((p) => p.trim()).filter(Boolean));
  const answerKey = (reply: FastifyReply, identity: ApiKeyIdentity, permissions: string | undefined): void => {
    const missing = missingPermissions(identity, required(permissions));
    if (missing.length > 0) throw insufficient(missing);
    reply.headers(apiKeyAnswerHeaders(identity)).send(JSON.stringify(apiKeyClaims(identity)) as never);
  };

  const answer = (reply: FastifyReply, claims: AccessTokenClaims, permissions: string | undefined): void => {
    if (permissions !== undefined) {
      const missing = missingPermissions(claims, required(permissions));
      if (missing.length > 0) throw insufficient(missing);
    }
    const { headers, body } = forwardAuthAnswer(claims);
    // The claims were validated field by field when the token was verified (access-token.ts).
    // A string with a JSON content type is sent as it is, not serialized again.
    reply.headers(headers).send(body as never);
  };
  // Forward-auth (nginx auth_request, Traefik ForwardAuth, Caddy forward_auth): the token only
  // from the Authorization header, never a query string.
  app.get(
    '/auth/verify',
    { schema: { querystring: VerifyQuery, response: { 200: Type.Union([ClaimsSchema, ApiKeyClaimsSchema]), ...errorResponses } } },
    // Not an async handler: a token verified before is answered without a promise (the usual
    // case behind a proxy, which sends the same token with every request of a client). Fastify
    // sends what a synchronous handler throws as it sends what a promise rejects with.
    (request, reply) => {
      const permissions = request.query.permissions;
      const key = presentedApiKey(request);
      if (key !== undefined) return authenticateApiKey(request, apiKeys, key).then((identity) => answerKey(reply, identity, permissions));
      const token = bearerToken(request);
      const cached = verifier.verifyCached(token);
      if (cached !== undefined) return answer(reply, cached, permissions);
      return verifier.verify(token, tokenOrigin(request)).then((claims) => answer(reply, claims, permissions));
    },
  );

  app.post(
    '/auth/verify',
    {
      schema: {
        body: Type.Union([VerifyBody, Type.Null()]),
        response: { 200: Type.Union([VerifyResult, ApiKeyVerifyResult]), ...errorResponses },
      },
    },
    async (request, reply) => {
      const body = request.body ?? {};
      let key: string | undefined;
      try {
        key = presentedApiKey(request);
        if (key !== undefined && body.token !== undefined) throw new AuthError('invalid_request', { description: 'Send a token or an API key, not both.' });
      } catch (error) {
        throw invalidVerdict(error);
      }
      if (key !== undefined) {
        const identity = await authenticateApiKey(request, apiKeys, key).catch((error: unknown) => {
          throw invalidVerdict(error);
        });
        const missing = missingPermissions(identity, body.required_permissions ?? []);
        if (missing.length > 0) throw insufficient(missing, { valid: false });
        reply.headers(apiKeyIdentityHeaders(identity));
        return {
          valid: true as const,
          auth_method: 'api_key' as const,
          api_key_id: identity.keyId,
          user: { id: identity.user.id, username: identity.user.username, roles: identity.user.roles, permissions: identity.permissions },
        };
      }
      if (body.token === undefined) {
        throw new AuthError('invalid_token', { description: 'A token or an API key is required.', extra: { valid: false } });
      }
      let claims: AccessTokenClaims;
      try {
        claims = await verifier.verify(body.token, tokenOrigin(request));
      } catch (error) {
        if (isAuthError(error)) {
          throw new AuthError(error.code, { description: error.description, detail: error.detail ?? '', extra: { valid: false } });
        }
        throw error;
      }
      const missing = missingPermissions(claims, body.required_permissions ?? []);
      if (missing.length > 0) throw insufficient(missing, { valid: false });
      return {
        valid: true as const,
        claims,
        user: { id: claims.sub, username: claims.username ?? null, roles: claims.roles, permissions: claims.permissions },
      };
    },
  );
}
