import type { AuditQueue } from '../audit/store.js';
import type { Clock } from '../clock.js';
import { AuthError } from '../errors/auth-error.js';
import type { EventBus, EventContext } from '../events/bus.js';
import { decodeKeysetCursor, encodeKeysetCursor } from '../keyset-cursor.js';
import type { RevocationService } from '../revocation/service.js';
import type { RevocationStore } from '../revocation/revocation.js';
import type { RateLimiter } from '../store/hot/ports.js';
import type { Transactional } from '../store/unit-of-work.js';
import type { UserStore } from '../users/store.js';
import type { User } from '../users/user.js';
import {
  apiKeySecretMatches,
  generateApiKey,
  isApiKeyActive,
  isValidApiKeyName,
  maxApiKeyNameLength,
  parseApiKey,
  permissionPattern,
  type ApiKey,
} from './api-key.js';
import type { ApiKeyStore } from './store.js';

/** How an API-key verification ended (the metric's `outcome` label). */
export type ApiKeyOutcome = 'valid' | 'invalid' | 'revoked' | 'expired' | 'rate_limited';

/** Who a verified API key speaks for, as the verification endpoints answer it. */
export interface ApiKeyIdentity {
  keyId: string;
  /** The key's permissions that its owner still holds. */
  permissions: string[];
  user: Pick<User, 'id' | 'username' | 'roles' | 'tenant'>;
}

export interface NewApiKeyInput {
  name: unknown;
  permissions: unknown;
  /** RFC 3339 date-time with an offset, in the future; null or absent: no expiry. */
  expiresAt?: unknown;
  /**
   * The password hash the owner's password was confirmed against (flows/confirm-password.ts):
   * checked again under the owner's row lock, so a key is never minted with a password a reset
   * or change replaced meanwhile (the reset revokes the keys it can see, not one made after).
   */
  confirmedPasswordHash?: string;
}

export interface ApiKeyPage {
  keys: ApiKey[];
  nextCursor: string | null;
}

export interface ApiKeyService {
  /**
   * Makes a key for `userId` (its stored permissions, read under the user's row lock, bound the
   * key's). Answers the secret once; recorded as `api_key.created` in the same transaction.
   * 400 `invalid_request` for a bad name, permission or expiry; 409 `conflict` past the cap.
   */
  create(userId: string, input: NewApiKeyInput, context?: EventContext): Promise<{ key: string; apiKey: ApiKey }>;
  /** The user's keys that are not revoked, newest first. */
  listOwn(userId: string): Promise<ApiKey[]>;
  /** Revokes one of the user's own keys; 404 `not_found` for an unknown, revoked or another user's. */
  revokeOwn(userId: string, keyId: string, context?: EventContext): Promise<void>;
  /** Every user's active keys (admin), newest first; `limit` 1 to 200 (default 50). */
  listAll(query: { userId?: string | undefined; cursor?: string | undefined; limit?: number | undefined }): Promise<ApiKeyPage>;
  /** An admin (`by`) revokes anyone's key; 404 `not_found` for an unknown or revoked one. */
  revokeAny(keyId: string, by: string, context?: EventContext): Promise<void>;
  /**
   * Revokes every key of a user, each recorded as `api_key.revoked`, with `by` for an admin's
   * revoke-all or `reason: password_reset`: both end what a thief could have minted. Returns how
   * many were revoked.
   */
  revokeAllOf(userId: string, cause: { by: string } | 'password_reset', context?: EventContext): Promise<number>;
  /**
   * Checks a presented key: its shape, its secret (constant time), revocation, expiry, its owner
   * (present, enabled), then its rate limit. 401 `invalid_token` for every refusal; 429
   * `rate_limited` with Retry-After over the limit. A deleted key presented with its right secret
   * is recorded as `api_key.used_after_revocation`.
   */
  authenticate(presented: string, ip: string | null, context?: EventContext, endpoint?: string): Promise<ApiKeyIdentity>;
  /**
   * Whether a key verified before still stands (not revoked or expired, its owner present and
   * enabled), for a long-lived use such as a revocation stream: the identity, or undefined. No
   * secret, no rate limit, no last-use write, no event; read as `authenticate` reads.
   */
  recheck(keyId: string): Promise<ApiKeyIdentity | undefined>;
}

export interface ApiKeyServiceOptions {
  stores: Transactional<{ apiKeys: ApiKeyStore; users: Pick<UserStore, 'findById' | 'lockById'>; audit: AuditQueue; revocations: RevocationStore }>;
  events: EventBus;
  clock: Clock;
  /** TESSERA_API_KEY_RATE_LIMIT, per key. */
  limiter: RateLimiter;
  /**
   * The revocation state every instance shares: a disabled owner, and a key revoked on any
   * instance, are refused at once; a revocation here is recorded and announced through it.
   */
  revocations: Pick<RevocationService, 'check' | 'isApiKeyRevoked' | 'revokeApiKeyIn' | 'announce'>;
  /** Counts each verification (metrics). */
  observe?: (outcome: ApiKeyOutcome) => void;
  /** A failed last-used write: logged, never failing the request. */
  onError?: (error: unknown) => void;
}

/**
 * How long an instance trusts what it read of a key and its owner. Deleted, expired and
 * disabled-owner keys are refused on every instance within this (docs/adr/010-api-keys.md).
 */
export const apiKeyCacheTtlMs = 1000;

/** Last use is written at most this often per key, not on every request. */
export const apiKeyTouchIntervalMs = 60_000;

/** Active keys one user may hold. */
export const maxApiKeysPerUser = 50;

/** Keys one instance keeps in its cache; the oldest entry goes first. */
const maxCachedKeys = 10_000;

const maxPermissions = 100;

/** RFC 3339 date-time, with its offset: a bare date or a local time is ambiguous. */
const dateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

/** Date.parse rolls impossible dates over (2027-02-30 is 2027-03-02; T24:00 the next day): refused instead. */
function existingDateTime(text: string): boolean {
  const [year, month, day, hour, minute, second] = [0, 5, 8, 11, 14, 17].map((at, i) => Number(text.slice(at, at + (i === 0 ? 4 : 2))));
  const daysInMonth = new Date(Date.UTC(year!, month!, 0)).getUTCDate();
  return month! >= 1 && month! <= 12 && day! >= 1 && day! <= daysInMonth && hour! <= 23 && minute! <= 59 && (text[16] !== ':' || second! <= 59);
}

const invalid = (description: string) => new AuthError('invalid_request', { description });
const refused = (detail: string) => new AuthError('invalid_token', { description: 'The API key is invalid, expired or revoked.', detail });
const notFound = () => new AuthError('not_found', { description: 'No such API key.' });

interface CachedKey {
  key: ApiKey;
  owner: User | undefined;
  until: number;
}

export function createApiKeyService(options: ApiKeyServiceOptions): ApiKeyService {
  const { stores, events, clock } = options;
  const cache = new Map<string, CachedKey>();
  const loading = new Map<string, Promise<CachedKey | undefined>>();
  /** Revocations made by this instance: a read that saw one happen meanwhile is not cached. */
  let revokedHere = 0;
  const observe = (outcome: ApiKeyOutcome) => {
    try {
      options.observe?.(outcome);
    } catch {
      // A metrics failure loses one sample, never the answer.
    }
  };

  function parseName(name: unknown): string {
    if (typeof name !== 'string' || !isValidApiKeyName(name)) {
      throw invalid(`name must be 1 to ${maxApiKeyNameLength} letters, digits, spaces or _ . , : ; ( ) [ ] / # @ + = -, without blanks around it.`);
    }
    return name;
  }

  function parsePermissions(permissions: unknown, owner: User): string[] {
    if (!Array.isArray(permissions) || permissions.length > maxPermissions || !permissions.every((p): p is string => typeof p === 'string' && permissionPattern.test(p))) {
      throw invalid(`permissions must be a list of at most ${maxPermissions} names of 1 to 64 of A-Z a-z 0-9 _ . : -.`);
    }
    const missing = permissions.filter((permission) => !owner.permissions.includes(permission));
    if (missing.length > 0) throw invalid('An API key can only hold permissions its owner has.');
    return [...new Set(permissions)];
  }

  function parseExpiry(expiresAt: unknown, now: number): Date | null {
    if (expiresAt === undefined || expiresAt === null) return null;
    const at = typeof expiresAt === 'string' && dateTime.test(expiresAt) && existingDateTime(expiresAt) ? Date.parse(expiresAt) : NaN;
    if (!Number.isFinite(at) || at > Date.parse('9999-12-31T23:59:59.999Z')) throw invalid('expires_at must be an RFC 3339 date-time with an offset.');
    if (at <= now) throw invalid('expires_at must be in the future.');
    return new Date(at);
  }

  function remember(entry: CachedKey): void {
    if (cache.size >= maxCachedKeys) cache.delete(cache.keys().next().value!);
    cache.set(entry.key.id, entry);
  }

  /** The key and its owner as stored, read at most once per `apiKeyCacheTtlMs` per key. */
  function load(id: string, now: number): Promise<CachedKey | undefined> {
    const cached = cache.get(id);
    // A revocation heard from another instance voids what was read before it.
    if (cached && cached.until > now && (cached.key.revokedAt !== null || !options.revocations.isApiKeyRevoked(id))) return Promise.resolve(cached);
    // One read at a time per key: when a busy key's entry expires, the requests in flight share it.
    let pending = loading.get(id);
    if (!pending) {
      pending = read(id, now).finally(() => loading.delete(id));
      loading.set(id, pending);
    }
    return pending;
  }

  async function read(id: string, now: number): Promise<CachedKey | undefined> {
    const startedAt = revokedHere;
    cache.delete(id);
    const key = await stores.apiKeys.findById(id);
    // Unknown ids are not remembered: an attacker could fill the cache with them.
    if (!key) return undefined;
    const owner = key.revokedAt === null ? await stores.users.findById(key.userId) : undefined;
    const entry = { key, owner, until: now + apiKeyCacheTtlMs };
    // A revocation on this instance while the rows were read: answer with them once, keep nothing.
    if (revokedHere === startedAt) remember(entry);
    return entry;
  }

  /** `owner`: only that user's key, revoked by them; else an admin's revocation of anyone's (`by` recorded). */
  async function revoke(keyId: string, by: string, owner: string | undefined, context: EventContext | undefined, reason?: 'password_reset'): Promise<void> {
    const at = new Date(clock.now());
    const revoked = await stores.transaction(async (tx) => {
      const key = await tx.apiKeys.revoke(keyId, at, by, owner);
      if (!key) return undefined;
      await events.emitIn(tx, 'api_key.revoked', { userId: key.userId, keyId: key.id, ...(owner === undefined ? { by } : {}), ...(reason ? { reason } : {}) }, context);
      return { key, pending: await options.revocations.revokeApiKeyIn(tx, key.id, at.getTime()) };
    });
    if (!revoked) throw notFound();
    // This instance at once (a read in flight keeps nothing); the others as soon as the fan-out
    // reaches them, and within apiKeyCacheTtlMs should it not.
    revokedHere += 1;
    cache.delete(revoked.key.id);
    await options.revocations.announce(revoked.pending);
  }

  /** What a key read as `entry` is worth now: its expiry against the clock, its owner's state. */
  function standingOf(entry: CachedKey, now: number): 'valid' | 'revoked' | 'expired' {
    const { key, owner } = entry;
    if (key.revokedAt !== null) return 'revoked';
    if (key.expiresAt !== null && key.expiresAt.getTime() <= now) return 'expired';
    // A disable fans out to every instance at once (revocation/); the stored flag, read at most
    // apiKeyCacheTtlMs ago, covers a fan-out message that was lost.
    const disabled = owner !== undefined && options.revocations.check({ jti: '', sid: '', sub: owner.id, iat: Number.POSITIVE_INFINITY }) === 'user_disabled';
    if (!owner || owner.disabled || disabled) return 'revoked';
    return 'valid';
  }

  function identityOf(key: ApiKey, owner: User): ApiKeyIdentity {
    return {
      keyId: key.id,
      permissions: key.permissions.filter((permission) => owner.permissions.includes(permission)),
      // No roles: a key grants its permissions and nothing more. With its owner's roles, any key
      // of an admin (even one holding no permission) would pass a proxy that admits by role.
      user: { id: owner.id, username: owner.username, roles: [], tenant: owner.tenant },
    };
  }

  async function touch(entry: CachedKey, ip: string | null, now: number): Promise<void> {
    const last = entry.key.lastUsedAt?.getTime();
    if (last !== undefined && last > now - apiKeyTouchIntervalMs) return;
    // Set before the write: concurrent requests on this instance write once.
    entry.key = { ...entry.key, lastUsedAt: new Date(now), lastUsedIp: ip };
    try {
      await stores.apiKeys.touch(entry.key.id, new Date(now), ip, new Date(now - apiKeyTouchIntervalMs));
    } catch (error) {
      options.onError?.(error);
    }
  }

  return {
    async create(userId, input, context) {
      const now = clock.now();
      const name = parseName(input.name);
      const expiresAt = parseExpiry(input.expiresAt, now);
      const issued = generateApiKey();
      const apiKey = await stores.transaction(async (tx) => {
        // The owner's row lock orders concurrent creations (the cap) and a concurrent change of its permissions.
        const owner = await tx.users.lockById(userId);
        if (!owner || owner.disabled) throw new AuthError('invalid_token', { detail: 'user missing or disabled' });
        if (input.confirmedPasswordHash !== undefined && owner.passwordHash !== input.confirmedPasswordHash) {
          throw new AuthError('invalid_credentials', { description: 'The password changed meanwhile; confirm the current one.', detail: 'password changed since confirmed' });
        }
        const permissions = parsePermissions(input.permissions, owner);
        const active = (await tx.apiKeys.listByUser(userId)).filter((key) => isApiKeyActive(key, now));
        if (active.length >= maxApiKeysPerUser) throw new AuthError('conflict', { description: `A user may hold at most ${maxApiKeysPerUser} API keys.` });
        const key: ApiKey = {
          id: issued.id,
          userId,
          name,
          permissions,
          secretHash: issued.secretHash,
          createdAt: new Date(now),
          expiresAt,
          lastUsedAt: null,
          lastUsedIp: null,
          revokedAt: null,
          revokedBy: null,
        };
        await tx.apiKeys.insert(key);
        // Never the name (typed by a client) nor anything of the secret.
        await events.emitIn(tx, 'api_key.created', { userId, keyId: key.id, permissions, expiresAt: expiresAt?.getTime() ?? null }, context);
        return key;
      });
      return { key: issued.key, apiKey };
    },

    listOwn: (userId) => stores.apiKeys.listByUser(userId),

    revokeOwn: (userId, keyId, context) => revoke(keyId, userId, userId, context),

    async listAll({ userId, cursor, limit = 50 }) {
      if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw invalid('limit must be 1 to 200.');
      const after = cursor === undefined ? undefined : decodeKeysetCursor(cursor);
      const found = await stores.apiKeys.list({
        ...(userId === undefined ? {} : { userId }),
        ...(after ? { after: { createdAt: after.at, id: after.id } } : {}),
        limit: limit + 1,
      });
      const keys = found.slice(0, limit);
      const last = keys[keys.length - 1];
      return { keys, nextCursor: found.length > limit && last ? encodeKeysetCursor(last.createdAt, last.id) : null };
    },

    revokeAny: (keyId, by, context) => revoke(keyId, by, undefined, context),

    async revokeAllOf(userId, cause, context) {
      let revoked = 0;
      for (const key of await stores.apiKeys.listByUser(userId)) {
        // One at a time, each with its record; a key revoked meanwhile elsewhere is no error.
        const done = cause === 'password_reset' ? revoke(key.id, userId, userId, context, 'password_reset') : revoke(key.id, cause.by, undefined, context);
        await done.then(
          () => (revoked += 1),
          (error: unknown) => {
            if (!(error instanceof AuthError && error.code === 'not_found')) throw error;
          },
        );
      }
      return revoked;
    },

    async authenticate(presented, ip, context, endpoint = 'unknown') {
      const now = clock.now();
      const parts = parseApiKey(presented);
      if (!parts) {
        observe('invalid');
        throw refused('malformed API key');
      }
      const entry = await load(parts.id, now);
      // Someone else's id with another secret is refused as an unknown key.
      if (!entry || !apiKeySecretMatches(parts.secret, entry.key.secretHash)) {
        observe('invalid');
        // A well-formed key nobody issued is a guess, as a token with a bad signature is a
        // forgery: the same event, so detection's forged-tokens rule sees a run of them.
        await events.emit('token.rejected', { reason: 'api_key_invalid', endpoint }, context);
        throw refused('unknown API key or wrong secret');
      }
      const { key } = entry;
      const standing = standingOf(entry, now);
      if (standing !== 'valid') {
        observe(standing);
        // Recorded only with the right secret: an id alone (it is in logs) cannot fill the audit log.
        if (key.revokedAt !== null) await events.emit('api_key.used_after_revocation', { userId: key.userId, keyId: key.id }, context);
        throw refused(standing === 'expired' ? 'expired API key' : key.revokedAt !== null ? 'revoked API key' : 'owner missing or disabled');
      }
      const owner = entry.owner!;
      const limit = await options.limiter.consume(key.id);
      if (!limit.allowed) {
        observe('rate_limited');
        await events.emit('rate_limited', { limiter: 'api-key' }, context);
        throw new AuthError('rate_limited', { headers: { 'retry-after': String(Math.max(1, limit.retryAfterSeconds)) } });
      }
      await touch(entry, ip, now);
      observe('valid');
      return identityOf(key, owner);
    },

    async recheck(keyId) {
      const now = clock.now();
      const entry = await load(keyId, now);
      if (!entry || standingOf(entry, now) !== 'valid') return undefined;
      return identityOf(entry.key, entry.owner!);
    },
  };
}
