import type { FastifyInstance } from 'fastify';
import type { Tessera } from '../../service.js';

/** How long verifiers may cache the JWKS; a new key is published well before it signs. */
export const jwksMaxAgeSeconds = 300;

export async function wellKnownRoutes(app: FastifyInstance, { tessera }: { tessera: Tessera }): Promise<void> {
  const { config, keyRing } = tessera;

  app.get('/.well-known/jwks.json', async (_request, reply) => {
    reply.header('cache-control', `public, max-age=${jwksMaxAgeSeconds}`);
    return keyRing.jwks();
  });

  app.get('/.well-known/openid-configuration', async (_request, reply) => {
    reply.header('cache-control', `public, max-age=${jwksMaxAgeSeconds}`);
    const base = config.issuer;
    return {
      issuer: base,
      jwks_uri: `${base}/.well-known/jwks.json`,
      token_endpoint: `${base}/auth/login`,
      revocation_endpoint: `${base}/auth/revoke`,
      introspection_endpoint: `${base}/auth/introspect`,
      userinfo_endpoint: `${base}/auth/me`,
      grant_types_supported: ['password', 'refresh_token'],
      response_types_supported: ['token'],
      subject_types_supported: ['public'],
      token_endpoint_auth_methods_supported: ['none'],
      id_token_signing_alg_values_supported: keyRing.algorithms(),
      access_token_signing_alg_values_supported: keyRing.algorithms(),
      claims_supported: ['iss', 'aud', 'sub', 'iat', 'nbf', 'exp', 'jti', 'sid', 'client_id', 'roles', 'permissions', 'amr', 'username', 'tenant'],
    };
  });
}
