import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

/**
 * An API key: a long-lived credential a user makes for a program (POST /auth/api-keys). The
 * program presents `tsk_<id>_<secret>`: the id (a uuid) finds the row without touching the
 * secret, the secret (32 random bytes, base64url) is checked against the stored hash.
 */
export interface ApiKey {
  /** A uuid; the public part of the key (`tsk_<id>_…`). */
  id: string;
  userId: string;
  name: string;
  /** A subset of the owner's permissions when it was made. */
  permissions: string[];
  /** SHA-256 of the secret, base64url; never leaves the server. */
  secretHash: string;
  createdAt: Date;
  /** Null: until revoked. */
  expiresAt: Date | null;
  /** Written at most once a minute per key. */
  lastUsedAt: Date | null;
  lastUsedIp: string | null;
  /** Set when it was deleted: the row stays, so a later use is told from a key that never existed. */
  revokedAt: Date | null;
  /** Who revoked it (the owner's or an admin's id). */
  revokedBy: string | null;
}

/** The key as it is made: the presented form is shown once and never stored. */
export interface IssuedApiKey {
  key: string;
  id: string;
  secretHash: string;
}

export interface ApiKeyParts {
  id: string;
  secret: string;
}

export const apiKeyPrefix = 'tsk_';

/** `tsk_` + uuid (lower-case, as we issue it) + `_` + 43 base64url characters (32 bytes). */
const apiKeyShape = /^tsk_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

/** The length of every key we issue; anything else is refused before a regular expression runs. */
export const apiKeyLength = apiKeyPrefix.length + 36 + 1 + 43;

export function generateApiKey(): IssuedApiKey {
  const id = randomUUID();
  const secret = randomBytes(32).toString('base64url');
  return { key: `${apiKeyPrefix}${id}_${secret}`, id, secretHash: hashApiKeySecret(secret) };
}

/**
 * Splits a presented key; undefined for anything but the exact form we issue: wrong prefix,
 * upper-case id, truncated or padded secret, a secret whose last character carries bits 32 bytes
 * cannot hold (a second spelling of the same bytes), surrounding blanks.
 */
export function parseApiKey(presented: unknown): ApiKeyParts | undefined {
  if (typeof presented !== 'string' || presented.length !== apiKeyLength) return undefined;
  const match = apiKeyShape.exec(presented);
  if (!match) return undefined;
  const secret = match[2]!;
  if (Buffer.from(secret, 'base64url').toString('base64url') !== secret) return undefined;
  return { id: match[1]!, secret };
}

/**
 * SHA-256, not a slow password hash: the secret is 256 uniformly random bits, so there is no
 * dictionary to attack and a fast hash is as strong as a slow one (a slow one would only make
 * every verification cost milliseconds). Not keyed with TESSERA_SECRET, so changing that secret
 * does not invalidate every key; a database dump still yields no usable key.
 */
export function hashApiKeySecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

/** Constant-time comparison of a presented secret with the stored hash. */
export function apiKeySecretMatches(secret: string, storedHash: string): boolean {
  const presented = Buffer.from(hashApiKeySecret(secret));
  const stored = Buffer.from(storedHash);
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

/** Whether the key still opens: not revoked and not expired at `now`. */
export function isApiKeyActive(key: Pick<ApiKey, 'revokedAt' | 'expiresAt'>, now: number): boolean {
  return key.revokedAt === null && (key.expiresAt === null || key.expiresAt.getTime() > now);
}

/** A permission name (the same rule as the users' permissions, users/service.ts). */
export const permissionPattern = /^[A-Za-z0-9_.:-]{1,64}$/;

/** The longest name a key keeps. */
export const maxApiKeyNameLength = 100;

/**
 * A name is for people reading a list: letters, digits, spaces and common punctuation. No
 * control characters, no markup (`<`, `>`, `&`, quotes), no bidi overrides or other format
 * characters that would make one name look like another.
 */
const namePattern = /^[\p{L}\p{N}\p{M} _.,:;()\[\]\/#@+=-]+$/u;

export function isValidApiKeyName(name: string): boolean {
  return name.length >= 1 && name.length <= maxApiKeyNameLength && name.trim() === name && namePattern.test(name);
}
