import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

/*
 * A small signer of Tessera-shaped access tokens for the middleware tests: an RS256 key the
 * verifier trusts, tokens signed with it, and forgeries (another key, alg none, HS256 keyed
 * with the public key).
 */

export const issuer = 'https://auth.example';
export const audience = 'orders';
export const kid = 'test-key-1';

const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

export interface TestSigner {
  /** The JWKS document to give `createVerifier({ keys })`. */
  jwks: { keys: object[] };
  publicKeyPem: string;
  claims(overrides?: Record<string, unknown>): Record<string, unknown>;
  sign(claims: Record<string, unknown>, header?: Record<string, unknown>, key?: KeyObject): string;
  unsigned(claims: Record<string, unknown>): string;
  hs256WithPublicKey(claims: Record<string, unknown>): string;
}

export function createTestSigner(nowMs: number): TestSigner {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicKeyPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const header = { alg: 'RS256', typ: 'at+jwt', kid };
  const iat = Math.floor(nowMs / 1000);
  return {
    jwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }] },
    publicKeyPem,
    claims: (overrides = {}) => ({
      iss: issuer, aud: audience, sub: 'user-1', client_id: 'tessera', iat, nbf: iat, exp: iat + 900,
      jti: 'jti-1', sid: 'sid-1', roles: ['member'], permissions: ['orders:read'], amr: ['pwd'], ...overrides,
    }),
    sign: (claims, overrides = {}, key = privateKey) => {
      const input = `${part({ ...header, ...overrides })}.${part(claims)}`;
      return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
    },
    unsigned: (claims) => `${part({ alg: 'none', typ: 'at+jwt', kid })}.${part(claims)}.`,
    hs256WithPublicKey: (claims) => {
      const input = `${part({ ...header, alg: 'HS256' })}.${part(claims)}`;
      return `${input}.${createHmac('sha256', publicKeyPem).update(input).digest('base64url')}`;
    },
  };
}
