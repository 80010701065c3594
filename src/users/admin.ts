import type { ApiKeyService } from '../api-keys/service.js';
import type { AuditQueue } from '../audit/store.js';
import type { Clock } from '../clock.js';
import { AuthError } from '../errors/auth-error.js';
import type { EventBus, EventContext } from '../events/bus.js';
import type { LoginProtection } from '../protection/login-protection.js';
import type { RevocationService, SessionEndingStores } from '../revocation/service.js';
import type { Transactional, UnitOfWork } from '../store/unit-of-work.js';
import { decodeUserCursor, encodeUserCursor } from './cursor.js';
import { assertNames, assertTenant, type CreateUserInput, type UserService } from './service.js';
import type { UserChanges, UserCursor, UserListQuery, UserStore } from './store.js';
import type { User } from './user.js';
import { canonicalEmail, canonicalUsername, isValidEmail } from './username.js';

/** A page request of GET /admin/users. */
export interface UserListRequest {
  /** Prefix of the username or of the e-mail. */
  q?: string | undefined;
  role?: string | undefined;
  disabled?: boolean | undefined;
  /**
   * Only users whose sign-in the lockout refuses now (true), or only the others (false). Hot
   * state, not SQL: the listing scans forward at most `lockedScanBudget` users per page, so a page
   * may hold fewer than `limit` users and still have a next cursor.
   */
  locked?: boolean | undefined;
  tenant?: string | undefined;
  cursor?: string | undefined;
  /** 1 to 200; 50 by default. */
  limit?: number | undefined;
}

/** What PATCH /admin/users/:id may change. */
export interface UserPatch {
  roles?: string[] | undefined;
  permissions?: string[] | undefined;
  email?: string | null | undefined;
  disabled?: boolean | undefined;
  unlock?: boolean | undefined;
}

/** A user as administration shows it: with its lock state, read from hot state when asked. */
export interface AdminUser extends User {
  /** Until when the lockout refuses sign-in naming the user (LoginProtection.lockedUntil); null when it does not. */
  lockedUntil: Date | null;
}

/** User administration (the admin API, the CLI): every change is recorded with the actor's id (`by`). */
export interface UserAdmin {
  list(request: UserListRequest): Promise<{ users: AdminUser[]; nextCursor: string | null }>;
  create(input: CreateUserInput, by: string, context?: EventContext): Promise<AdminUser>;
  /** 404 `not_found` for an unknown (or malformed) id. */
  get(id: string): Promise<AdminUser>;
  /**
   * Changes roles, permissions, e-mail and `disabled`, and unlocks. 409 `last_admin` when it would
   * leave no enabled admin; disabling revokes every session and token of the user on every instance.
   */
  update(id: string, patch: UserPatch, by: string, context?: EventContext): Promise<AdminUser>;
  /** Revokes every session and token of the user, then deletes it; 409 `last_admin` for the last admin. */
  delete(id: string, by: string, context?: EventContext): Promise<void>;
  /** Revokes every session and token of the user; returns how many sessions ended. */
  revokeAll(id: string, by: string, context?: EventContext): Promise<number>;
}

export interface UserAdminOptions {
  /** The users, and what disabling a user writes in the same transaction (revocation/service.ts). */
  stores: Transactional<SessionEndingStores & { users: UserStore; audit: AuditQueue }>;
  users: Pick<UserService, 'create'>;
  revocations: Pick<RevocationService, 'disableUserIn' | 'enableUserIn' | 'announce' | 'announceEnabled' | 'revokeAllForUser'>;
  protection: Pick<LoginProtection, 'unlock' | 'lockedUntil'>;
  /** Revoke-all ends the user's API keys too. */
  apiKeys: Pick<ApiKeyService, 'revokeAllOf'>;
  events: EventBus;
  clock: Clock;
}

export const defaultPageSize = 50;
export const maxPageSize = 200;
/** Users one page of a `locked` listing examines at most before answering with what it found. */
export const lockedScanBudget = 1000;

const notFound = () => new AuthError('not_found', { description: 'No such user.' });

const isEnabledAdmin = (user: User) => !user.disabled && user.roles.includes('admin');
const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((name) => b.includes(name));

type AdminTx = { users: UserStore; audit: AuditQueue } & UnitOfWork;

export function createUserAdmin(options: UserAdminOptions): UserAdmin {
  const { stores, events, clock, revocations, protection } = options;

  /** The lock state of each user, read at once (at most a page: `maxPageSize`). */
  async function withLocks(users: User[]): Promise<AdminUser[]> {
    const until = await Promise.all(users.map((user) => protection.lockedUntil(user)));
    return users.map((user, i) => ({ ...user, lockedUntil: until[i] === undefined ? null : new Date(until[i]!) }));
  }

  /**
   * Locks the user (and, when the change can take an admin away, every enabled admin first, in
   * id order) and refuses to take away the last enabled admin. The locks hold until the caller's
   * transaction ends, so two admins demoting each other at once cannot both succeed.
   */
  async function lockGuarded(tx: AdminTx, id: string, demotes: boolean): Promise<User> {
    const admins = demotes ? await tx.users.lockActiveAdmins() : [];
    const user = await tx.users.lockById(id);
    if (!user) throw notFound();
    if (demotes && isEnabledAdmin(user) && admins.filter((admin) => admin !== user.id).length === 0) {
      throw new AuthError('last_admin', { description: 'This is the last enabled admin: promote another user first.' });
    }
    return user;
  }

  async function get(id: string): Promise<AdminUser> {
    const user = await stores.users.findById(id);
    if (!user) throw notFound();
    return (await withLocks([user]))[0]!;
  }

  /**
   * A page of a `locked` listing: the lock state lives in hot state, not SQL, so users are read in
   * (created, id) order a batch at a time and kept when they match, until the page is full or
   * `lockedScanBudget` users were examined; the cursor then points past the last one examined.
   */
  async function scanLocked(query: Omit<UserListQuery, 'after' | 'limit'>, after: UserCursor | undefined, limit: number, locked: boolean) {
    const page: AdminUser[] = [];
    let examined = 0;
    let cursor = after;
    for (;;) {
      const take = Math.min(maxPageSize, lockedScanBudget - examined);
      // One more than examined tells whether anything follows the batch.
      const found = await stores.users.list({ ...query, ...(cursor ? { after: cursor } : {}), limit: take + 1 });
      const batch = await withLocks(found.slice(0, take));
      for (const [i, user] of batch.entries()) {
        examined += 1;
        if ((user.lockedUntil !== null) === locked) page.push(user);
        if (page.length === limit) {
          const more = i < batch.length - 1 || found.length > take;
          return { users: page, nextCursor: more ? encodeUserCursor(user) : null };
        }
      }
      if (found.length <= take) return { users: page, nextCursor: null };
      const last = batch[batch.length - 1]!;
      if (examined >= lockedScanBudget) return { users: page, nextCursor: encodeUserCursor(last) };
      cursor = { createdAt: last.createdAt, id: last.id };
    }
  }

  return {
    async list(request) {
      const limit = request.limit ?? defaultPageSize;
      if (!Number.isInteger(limit) || limit < 1 || limit > maxPageSize) {
        throw new AuthError('invalid_request', { description: `limit must be 1 to ${maxPageSize}.` });
      }
      if (request.role !== undefined) assertNames([request.role]);
      if (request.tenant !== undefined) assertTenant(request.tenant);
      const after = request.cursor === undefined ? undefined : decodeUserCursor(request.cursor);
      const q = request.q;
      const query = {
        ...(q === undefined || q === '' ? {} : { usernamePrefix: canonicalUsername(q), emailPrefix: canonicalEmail(q) }),
        ...(request.role === undefined ? {} : { role: request.role }),
        ...(request.disabled === undefined ? {} : { disabled: request.disabled }),
        ...(request.tenant === undefined ? {} : { tenant: request.tenant }),
      };
      if (request.locked !== undefined) return scanLocked(query, after, limit, request.locked);
      const found = await stores.users.list({ ...query, ...(after ? { after } : {}), limit: limit + 1 });
      const users = await withLocks(found.slice(0, limit));
      return { users, nextCursor: found.length > limit ? encodeUserCursor(users[users.length - 1]!) : null };
    },

    create: async (input, by, context) => (await withLocks([await options.users.create(input, context, by)]))[0]!,

    get,

    async update(id, patch, by, context) {
      if (patch.roles !== undefined) assertNames(patch.roles);
      if (patch.permissions !== undefined) assertNames(patch.permissions);
      let email: string | null | undefined = patch.email;
      if (typeof email === 'string') {
        email = canonicalEmail(email);
        if (!isValidEmail(email)) throw new AuthError('invalid_request', { description: 'The e-mail address is not valid.' });
      }
      const demotes = (patch.roles !== undefined && !patch.roles.includes('admin')) || patch.disabled === true;
      const at = new Date(clock.now());
      const { enabled, disabled } = await stores.transaction(async (tx) => {
        const user = await lockGuarded(tx, id, demotes);
        const changes: UserChanges = {};
        const roles = patch.roles === undefined ? undefined : [...new Set(patch.roles)];
        const permissions = patch.permissions === undefined ? undefined : [...new Set(patch.permissions)];
        if (roles && !sameSet(roles, user.roles)) changes.roles = roles;
        if (permissions && !sameSet(permissions, user.permissions)) changes.permissions = permissions;
        if (email !== undefined && email !== user.email) changes.email = email;
        const names = [...Object.keys(changes), ...(patch.unlock ? ['unlock'] : [])];
        if (Object.keys(changes).length > 0) await tx.users.update(id, changes, at);
        if (names.length > 0) {
          await events.emitIn(
            tx,
            'user.updated',
            {
              userId: id,
              by,
              changes: names,
              ...(changes.roles ? { roles: changes.roles, previousRoles: user.roles } : {}),
              ...(changes.permissions ? { permissions: changes.permissions, previousPermissions: user.permissions } : {}),
            },
            context,
          );
        }
        if (patch.disabled === undefined || patch.disabled === user.disabled) return { enabled: false, disabled: undefined };
        await events.emitIn(tx, patch.disabled ? 'user.disabled' : 'user.enabled', { userId: id, by }, context);
        // Either way under the admin locks, so the last-admin check, the flag and the revocations
        // are one change, and a concurrent disable cannot be undone by this enable's follow-up.
        if (!patch.disabled) return { enabled: await revocations.enableUserIn(tx, id, at.getTime()), disabled: undefined };
        return { enabled: false, disabled: await revocations.disableUserIn(tx, id, at.getTime(), context) };
      });
      // The fan-out to every instance (revocation/service.ts); enabling lifts the refusal of new tokens.
      if (disabled) await revocations.announce(disabled);
      if (enabled) await revocations.announceEnabled(id);
      if (patch.unlock) await protection.unlock(id, context);
      return get(id);
    },

    async delete(id, by, context) {
      // Disabled first, under the admin locks: from then on it counts as no admin, and signs in nowhere.
      // One transaction under the admin locks: disabled (every session ended, every token refused;
      // the revocations outlive the row) and deleted together, then told to every instance.
      const pending = await stores.transaction(async (tx) => {
        const user = await lockGuarded(tx, id, true);
        if (!user.disabled) await events.emitIn(tx, 'user.disabled', { userId: id, by }, context);
        const revoked = await revocations.disableUserIn(tx, id, clock.now(), context);
        if (await tx.users.delete(id)) await events.emitIn(tx, 'user.deleted', { userId: id, by }, context);
        return revoked;
      });
      if (pending) await revocations.announce(pending);
    },

    async revokeAll(id, by, context) {
      await get(id);
      const sessions = await revocations.revokeAllForUser(id, 'admin', context);
      await options.apiKeys.revokeAllOf(id, { by }, context);
      await events.emit('user.signed_out', { userId: id, by, sessions }, context);
      return sessions;
    },
  };
}
