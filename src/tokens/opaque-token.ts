import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Opaque tokens (refresh and reset tokens) are `<id>.<secret>`: a 128-bit lookup id and a 256-bit secret, base64url.
 * The id finds the row without touching the secret; only SHA-256(secret) is stored, which is
 * enough for a uniformly random 256-bit value (no dictionary to attack).
 */
export interface OpaqueTokenParts {
  id: string;
  secret: string;
}

const idPattern = /^[A-Za-z0-9_-]{22}$/;
const secretPattern = /^[A-Za-z0-9_-]{43}$/;

export function generateOpaqueToken(): OpaqueTokenParts & { token: string; secretHash: string } {
  const id = randomBytes(16).toString('base64url');
  const secret = randomBytes(32).toString('base64url');
  return { id, secret, token: `${id}.${secret}`, secretHash: hashTokenSecret(secret) };
}

/** Splits a presented token; undefined for anything not of the exact shape. */
export function parseOpaqueToken(token: unknown): OpaqueTokenParts | undefined {
  if (typeof token !== 'string' || token.length !== 66) return undefined;
  const [id, secret, ...rest] = token.split('.');
  if (rest.length > 0 || !id || !secret || !idPattern.test(id) || !secretPattern.test(secret)) return undefined;
  return { id, secret };
}

export function hashTokenSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

/** Constant-time comparison of a presented secret with the stored hash. */
export function tokenSecretMatches(secret: string, storedHash: string): boolean {
  const presented = Buffer.from(hashTokenSecret(secret));
  const stored = Buffer.from(storedHash);
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}
