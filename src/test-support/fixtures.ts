import { randomBytes, randomUUID } from 'node:crypto';
import type { SigningAlg } from '../config/schema.js';
import type { Db } from '../store/sql/db.js';
import type { SigningKeyRecord } from '../keys/signing-key.js';
import type { NewSession } from '../sessions/session.js';
import type { NewRefreshToken } from '../sessions/refresh-token-store.js';
import type { NewUser } from '../users/user.js';

/** A fixed instant for store tests: whole milliseconds, far from any real clock. */
export const t0 = new Date(Date.UTC(2030, 0, 1, 12, 0, 0, 123));

/** `t0` plus `ms` milliseconds. */
export function at(ms: number): Date {
  return new Date(t0.getTime() + ms);
}

export const minute = 60_000;
export const hour = 60 * minute;
export const day = 24 * hour;

/** A name no other test in the same database uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export function newUser(overrides: Partial<NewUser> = {}): NewUser {
  const username = overrides.username ?? uniqueName('user');
  return {
    id: randomUUID(),
    username,
    email: `${username}@example.test`,
    passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA',
    roles: [],
    permissions: [],
    tenant: null,
    createdAt: t0,
    ...overrides,
  };
}

export function newSession(userId: string, overrides: Partial<NewSession> = {}): NewSession {
  return {
    id: randomUUID(),
    userId,
    deviceName: null,
    deviceFingerprint: null,
    ip: null,
    userAgent: null,
    amr: ['pwd'],
    createdAt: t0,
    expiresAt: at(30 * day),
    ...overrides,
  };
}

export function newRefreshToken(sessionId: string, userId: string, overrides: Partial<NewRefreshToken> = {}): NewRefreshToken {
  return {
    id: randomBytes(16).toString('base64url'),
    sessionId,
    userId,
    secretHash: randomBytes(32).toString('base64url'),
    createdAt: t0,
    expiresAt: at(30 * day),
    ...overrides,
  };
}

/**
 * A signing-key row for store tests. The key material is fake (the store neither parses nor
 * decrypts it); tests of the KeyRing use real keys.
 */
export function signingKeyRecord(overrides: Partial<SigningKeyRecord> = {}): SigningKeyRecord {
  const kid = overrides.kid ?? randomBytes(32).toString('base64url');
  const alg: SigningAlg = overrides.alg ?? 'ES256';
  return {
    kid,
    alg,
    publicJwk: { kty: 'EC', kid, alg, use: 'sig', crv: 'P-256', x: randomBytes(32).toString('base64url'), y: randomBytes(32).toString('base64url') },
    privateKeySealed: `v1.${randomBytes(12).toString('base64url')}.${randomBytes(48).toString('base64url')}`,
    status: 'active',
    createdAt: t0,
    activatedAt: t0,
    retiredAt: null,
    publishUntil: null,
    ...overrides,
  };
}

/** Settles every promise and returns the fulfilled values and the rejection reasons. */
export async function settle<T>(promises: Promise<T>[]): Promise<{ values: T[]; errors: unknown[] }> {
  const results = await Promise.allSettled(promises);
  return {
    values: results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : [])),
    errors: results.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : [])),
  };
}

/**
 * Opens `connections` pooled connections at once, so that concurrent calls that follow really
 * overlap instead of being staggered by connection set-up (PGlite has one connection: nothing to do).
 */
export async function warmUp(db: Db, connections = 8): Promise<void> {
  if (db.kind !== 'postgres') return;
  await Promise.all(Array.from({ length: connections }, () => db.query('SELECT pg_sleep(0.02)')));
}
