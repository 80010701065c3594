import type { FastifyInstance } from 'fastify';
import type { KeyRing } from '../../keys/key-ring.js';
import { jwksMaxAgeSeconds } from '../../keys/schedule.js';

/** How long verifiers may cache the JWKS; a new key is published well before it signs (keys/schedule.ts). */
export { jwksMaxAgeSeconds };

export interface WellKnownRouteOptions {
  /** TESSERA_ISSUER. */
  issuer: string;
  keyRing: Pick<KeyRing, 'jwks' | 'algorithms'>;
}

export async function wellKnownRoutes(app: FastifyInstance, { issuer, keyRing }: WellKnownRouteOptions): Promise<void> {
  app.get('/.well-known/jwks.json', async (_request, reply) => {
    reply.header('cache-control', `public, max-age=${jwksMaxAgeSeconds}`);
    return keyRing.jwks();
  });

  /**
   * RFC 8414 metadata naming only what is served. Tessera has no authorization endpoint, no
   * RFC 6749 token endpoint (sign-in and refresh take JSON bodies of their own) and issues no ID
   * tokens, so `token_endpoint`, `grant_types_supported`, `response_types_supported` and the
   * OpenID fields are left out: a generic client that finds them would start flows that 404.
   */
  function metadata() {
    const base = issuer;
    return {
      issuer: base,
      jwks_uri: `${base}/.well-known/jwks.json`,
      revocation_endpoint: `${base}/auth/revoke`,
      // RFC 7009: holding the token is enough; client credentials are ignored.
      revocation_endpoint_auth_methods_supported: ['none'],
      introspection_endpoint: `${base}/auth/introspect`,
      access_token_signing_alg_values_supported: keyRing.algorithms(),
    };
  }

  for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
    app.get(path, async (_request, reply) => {
      reply.header('cache-control', `public, max-age=${jwksMaxAgeSeconds}`);
      return metadata();
    });
  }
}
