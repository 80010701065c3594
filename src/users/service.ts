import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { AuthError } from '../errors/auth-error.js';
import type { EventBus, EventContext } from '../events/bus.js';
import type { PasswordHasher } from '../passwords/hasher.js';
import type { PasswordPolicy } from '../passwords/policy.js';
import { networkOf } from '../protection/network.js';
import type { AuditQueue } from '../audit/store.js';
import type { RateLimiter } from '../store/hot/ports.js';
import type { Transactional, UnitOfWork } from '../store/unit-of-work.js';
import type { UserStore } from './store.js';
import type { User } from './user.js';
import { canonicalEmail, canonicalUsername, isValidEmail, isValidUsername } from './username.js';

export interface CreateUserInput {
  username: string;
  email?: string | null | undefined;
  password: string;
  roles?: string[];
  permissions?: string[];
  tenant?: string | null | undefined;
}

/** What creating a user touches: the user and its `user.created` record. */
interface UserServiceStores {
  users: UserStore;
  audit: AuditQueue;
}

export interface UserServiceOptions {
  stores: Transactional<UserServiceStores>;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  clock: Clock;
  signup: 'closed' | 'open';
  signupLimiter: RateLimiter;
  events: EventBus;
}

export interface UserService {
  /**
   * Creates an account (admin, CLI, bootstrap): canonical names, password policy, argon2id.
   * `by`: the admin who asked (POST /admin/users), recorded with `user.created`.
   */
  create(input: CreateUserInput, context?: EventContext, by?: string): Promise<User>;
  /**
   * Self-service sign-up: `create` without roles, refused unless TESSERA_SIGNUP=open, and limited
   * per client network, an IPv4 address or IPv6 /64 (TESSERA_RATE_LIMIT_SIGNUP).
   */
  register(input: Pick<CreateUserInput, 'username' | 'email' | 'password'>, context: EventContext & { ip: string }): Promise<User>;
  /** Creates `username` with role admin when there are no users yet; undefined otherwise. */
  bootstrapAdmin(username: string, password: string): Promise<User | undefined>;
}

/** Role and permission names: forwarded as comma-separated header values, so no commas, spaces or other surprises. */
const namePattern = /^[A-Za-z0-9_.:-]{1,64}$/;

/** 400 unless every name is 1 to 64 of A-Z a-z 0-9 _ . : - (roles, permissions). */
export function assertNames(names: readonly string[]): void {
  for (const name of names) {
    if (typeof name !== 'string' || !namePattern.test(name)) {
      throw new AuthError('invalid_request', { description: 'Role and permission names are 1 to 64 of A-Z a-z 0-9 _ . : -.' });
    }
  }
}

/** A tenant id travels in `X-Tenant-Id`: the same characters as a role name. */
export function assertTenant(tenant: string): void {
  if (!namePattern.test(tenant)) throw new AuthError('invalid_request', { description: 'A tenant is 1 to 64 of A-Z a-z 0-9 _ . : -.' });
}

export function createUserService(options: UserServiceOptions): UserService {
  const { stores, hasher, clock } = options;

  async function prepare(input: CreateUserInput) {
    const username = canonicalUsername(input.username);
    if (!isValidUsername(username)) {
      throw new AuthError('invalid_request', {
        description: 'The username must be 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit.',
      });
    }
    let email: string | null = null;
    if (input.email !== undefined && input.email !== null) {
      email = canonicalEmail(input.email);
      if (!isValidEmail(email)) throw new AuthError('invalid_request', { description: 'The e-mail address is not valid.' });
    }
    assertNames([...(input.roles ?? []), ...(input.permissions ?? [])]);
    const tenant = input.tenant ?? null;
    if (tenant !== null) assertTenant(tenant);
    await options.policy.assertAcceptable({ password: input.password, username, email });
    // Refuse a taken name before spending a hash on it; the unique index still decides races.
    if (await stores.users.findByUsername(username)) throw new AuthError('username_taken');
    if (email !== null && (await stores.users.findByEmail(email))) throw new AuthError('email_taken');
    return {
      id: randomUUID(),
      username,
      email,
      passwordHash: await hasher.hash(input.password),
      roles: [...new Set(input.roles ?? [])],
      permissions: [...new Set(input.permissions ?? [])],
      tenant,
      createdAt: new Date(clock.now()),
    };
  }

  /** Creates the user and its `user.created` record in one transaction. */
  async function insert(
    user: Awaited<ReturnType<typeof prepare>>,
    via: 'register' | 'admin' | 'bootstrap',
    context: EventContext | undefined,
    write: (tx: UserServiceStores & UnitOfWork) => Promise<User | undefined> = (tx) => tx.users.create(user),
    by?: string,
  ): Promise<User | undefined> {
    return stores.transaction(async (tx) => {
      const created = await write(tx);
      if (created) await options.events.emitIn(tx, 'user.created', { userId: created.id, roles: created.roles, via, ...(by === undefined ? {} : { by }) }, context);
      return created;
    });
  }

  return {
    async create(input, context, by) {
      return (await insert(await prepare(input), 'admin', context, undefined, by))!;
    },

    async register(input, context) {
      const ip = context.ip;
      if (options.signup !== 'open') throw new AuthError('signup_disabled');
      const limited = await options.signupLimiter.consume(networkOf(ip));
      if (!limited.allowed) {
        await options.events.emit('rate_limited', { limiter: 'signup' }, context);
        throw new AuthError('rate_limited', { headers: { 'retry-after': String(limited.retryAfterSeconds) }, detail: 'sign-up limit' });
      }
      return (await insert(await prepare({ ...input, roles: [], permissions: [] }), 'register', context))!;
    },

    async bootstrapAdmin(username, password) {
      if ((await stores.users.count()) > 0) return undefined;
      const user = await prepare({ username, password, roles: ['admin'] });
      return insert(user, 'bootstrap', undefined, (tx) => tx.users.createIfEmpty(user));
    },
  };
}
