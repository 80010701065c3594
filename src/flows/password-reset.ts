import { createHmac, hkdfSync, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ApiKeyService } from '../api-keys/service.js';
import type { AuditQueue } from '../audit/store.js';
import type { Clock } from '../clock.js';
import { AuthError } from '../errors/auth-error.js';
import type { EventBus, EventContext } from '../events/bus.js';
import type { Sealer } from '../keys/sealer.js';
import type { OutboxMessage, OutboxStore, PasswordResetMail, PasswordResetRequest } from '../outbox/outbox.js';
import type { MailTransport } from '../outbox/transports.js';
import type { PasswordHasher } from '../passwords/hasher.js';
import type { PasswordPolicy } from '../passwords/policy.js';
import type { ResetTokenStore } from '../passwords/reset-token-store.js';
import type { LoginProtection } from '../protection/login-protection.js';
import { networkOf } from '../protection/network.js';
import type { RevocationService } from '../revocation/service.js';
import type { RateLimiter } from '../store/hot/ports.js';
import type { Transactional } from '../store/unit-of-work.js';
import type { UserStore } from '../users/store.js';
import { generateOpaqueToken, parseOpaqueToken, tokenSecretMatches } from '../tokens/opaque-token.js';
import { canonicalEmail, canonicalUsername } from '../users/username.js';
import { passwordHistorySize } from './change-password.js';

/** A reset token is good for 30 minutes, once (SPEC §3). */
export const resetTokenTtlMs = 30 * 60_000;

export interface PasswordResetOptions {
  /** The outbox here is the one inside a transaction: a reset mail joins the one that mints its token. */
  stores: Transactional<{ users: UserStore; resetTokens: ResetTokenStore; outbox: Pick<OutboxStore, 'enqueue'>; audit: AuditQueue }>;
  outbox: OutboxStore;
  transport: MailTransport;
  /** Seals outbox bodies (purpose "outbox"). */
  sealer: Sealer;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  protection: LoginProtection;
  revocations: RevocationService;
  /** A reset ends the user's API keys too: whoever knew the old password could have minted some. */
  apiKeys: Pick<ApiKeyService, 'revokeAllOf'>;
  events: EventBus;
  clock: Clock;
  limiters: {
    /** `TESSERA_RATE_LIMIT_RESET`: requests per account name and requesting network. */
    account: RateLimiter;
    /** `TESSERA_RATE_LIMIT_RESET_NETWORK`: requests per network, whatever the accounts. */
    network: RateLimiter;
    /**
     * `TESSERA_RATE_LIMIT_RESET_MAIL`: mails per account, applied by the worker: one bucket shared
     * by every network, and one of its own for each network the account signed in from.
     */
    mails: RateLimiter;
  };
  /** `TESSERA_SECRET`: the quota keys are HMAC-ed under a key of their own purpose derived from it. */
  secret: string;
  logger?: Logger;
}

export interface PasswordReset {
  /**
   * `POST /auth/password-reset`: the same 202 whether the account exists or not. Before answering,
   * every request (known account or not) is written to the durable outbox, the same work either
   * way, so neither the answer nor its timing says anything, and a crash after the 202 loses
   * nothing: the worker then looks the account up, mints the token and queues the mail.
   */
  request(input: { username?: string | undefined; email?: string | undefined }, context: EventContext): Promise<void>;
  /** `POST /auth/password-reset/confirm`: 400 `invalid_token` for unknown, expired, used or foreign tokens. */
  confirm(input: { token: string; newPassword: string }, context: EventContext): Promise<void>;
  /** Delivers what is due in the outbox (also run on a timer and after each request). */
  deliver(): Promise<number>;
  /** Resolves when the background work started by `request` calls has finished (tests, shutdown). */
  settled(): Promise<void>;
}

export type ResetQuotaKeys = (account: { username: string } | { email: string }, ip: string | null | undefined) => { account: string; network: string };

/**
 * The keys of the reset quota. Per account as typed (which field and its canonical form: the same
 * whether or not an account has that name, and never the user id, so a 429 tells nothing) and per
 * requesting network (IPv4 address, IPv6 /64): requests from one network use up only that
 * network's quota for the account, never the real user's. The second key caps one network across
 * all accounts. HMAC-ed under a key of its own purpose, so hot state holds no name, and none can be
 * recovered from it by hashing a dictionary of names.
 */
export function resetQuotaKeys(secret: string): ResetQuotaKeys {
  const digest = quotaDigest(secret);
  return (account, ip) => {
    const network = networkOf(ip ?? 'unknown');
    const name = 'username' in account ? `username:${canonicalUsername(account.username)}` : `email:${canonicalEmail(account.email)}`;
    return { account: digest(`reset:${name}\n${network}`), network: digest(`reset-network:${network}`) };
  };
}

/**
 * The key of the reset-mail cap of an account: the bucket strangers share, or, for a network the
 * account signed in from, that network's own, so strangers using up the shared bucket never stop
 * the owner's reset from home. HMAC-ed like the quota keys: hot state holds no user id.
 */
export function resetMailCapKey(secret: string): (userId: string, knownNetwork: string | undefined) => string {
  const digest = quotaDigest(secret);
  return (userId, knownNetwork) => digest(knownNetwork === undefined ? `reset-mail:${userId}` : `reset-mail:${userId}\n${knownNetwork}`);
}

function quotaDigest(secret: string): (subject: string) => string {
  const key = Buffer.from(hkdfSync('sha256', secret, 'tessera', 'tessera/reset-quota-keys/v1', 32));
  return (subject) => createHmac('sha256', key).update(subject).digest('base64url');
}

/** Retries: 10 s, 20 s, 40 s … up to an hour apart, 12 attempts in all. */
function retryAt(now: number, attempts: number): Date | null {
  if (attempts >= 12) return null;
  return new Date(now + Math.min(3_600_000, 10_000 * 2 ** (attempts - 1)));
}

export function createPasswordReset(options: PasswordResetOptions): PasswordReset {
  const { stores, outbox, sealer, clock, events, logger } = options;
  const background = new Set<Promise<unknown>>();
  const quotaKeys = resetQuotaKeys(options.secret);
  const mailCapKey = resetMailCapKey(options.secret);

  function inBackground(work: Promise<unknown>): void {
    const tracked = work.catch((error: unknown) => logger?.error({ err: error }, 'password reset failed')).finally(() => background.delete(tracked));
    background.add(tracked);
  }

  /** Acts on a stored request: an enabled account gets a token and a queued mail; others nothing. */
  async function actOn(request: PasswordResetRequest): Promise<void> {
    const user =
      request.username !== undefined
        ? await stores.users.findByUsername(canonicalUsername(request.username))
        : await stores.users.findByEmail(canonicalEmail(request.email ?? ''));
    if (!user || user.disabled) return;
    // The request quotas count per name and network, and networks are plentiful (an IPv6 /48 holds
    // 65,536 /64s): this caps the mails one account receives. Applied here, after the 202, so the
    // answer stays the same for every name; a dropped mail is only logged. A network the account
    // signed in from gets a cap of its own, so strangers cannot use up the owner's resets.
    const ip = request.ip ?? null;
    const homeNetwork = ip !== null && (await options.protection.isKnownNetwork(user.id, ip)) ? networkOf(ip) : undefined;
    const cap = await options.limiters.mails.consume(mailCapKey(user.id, homeNetwork));
    if (!cap.allowed) {
      logger?.warn({ userId: user.id, ...(request.requestId ? { requestId: request.requestId } : {}) }, 'password reset mail suppressed');
      return;
    }
    const now = clock.now();
    const token = generateOpaqueToken();
    const expiresAt = new Date(now + resetTokenTtlMs);
    const mail: PasswordResetMail = { to: user.email, username: user.username, token: token.token, expiresAt: expiresAt.toISOString() };
    const id = randomUUID();
    // One transaction: a token is never left without its mail (the request is retried whole).
    await stores.transaction(async (tx) => {
      await tx.resetTokens.insert({ id: token.id, userId: user.id, secretHash: token.secretHash, createdAt: new Date(now), expiresAt });
      await tx.outbox.enqueue({ id, kind: 'password_reset', sealed: sealer.seal(JSON.stringify(mail), id), createdAt: new Date(now) });
      const context = { ip: request.ip ?? null, ...(request.requestId ? { requestId: request.requestId } : {}) };
      await events.emitIn(tx, 'password.reset_requested', { userId: user.id }, context);
    });
  }

  const invalid = () => new AuthError('invalid_token', { status: 400, description: 'The reset token is invalid, expired or already used.' });

  const service: PasswordReset = {
    async request(input, context) {
      const keys = quotaKeys(input.username !== undefined ? { username: input.username } : { email: input.email ?? '' }, context.ip);
      for (const [limiter, key] of [
        [options.limiters.account, keys.account],
        [options.limiters.network, keys.network],
      ] as const) {
        const limited = await limiter.consume(key);
        if (!limited.allowed) {
          await events.emit('rate_limited', { limiter: 'reset' }, context);
          throw new AuthError('rate_limited', { headers: { 'retry-after': String(limited.retryAfterSeconds) }, detail: 'reset limit' });
        }
      }
      const id = randomUUID();
      const stored: PasswordResetRequest = {
        ...(input.username !== undefined ? { username: input.username } : { email: input.email ?? '' }),
        ip: context.ip ?? null,
        ...(context.requestId ? { requestId: context.requestId } : {}),
      };
      await outbox.enqueue({ id, kind: 'password_reset_request', sealed: sealer.seal(JSON.stringify(stored), id), createdAt: new Date(clock.now()) });
      inBackground(service.deliver());
    },

    async confirm({ token, newPassword }, context) {
      const parts = parseOpaqueToken(token);
      if (!parts) throw invalid();
      const record = await stores.resetTokens.findById(parts.id);
      const now = clock.now();
      if (!record || !tokenSecretMatches(parts.secret, record.secretHash) || record.usedAt || record.expiresAt.getTime() <= now) throw invalid();
      const user = await stores.users.findById(record.userId);
      if (!user || user.disabled) throw invalid();
      const previousHashes = await stores.users.recentPasswordHashes(user.id, passwordHistorySize);
      await options.policy.assertAcceptable({ password: newPassword, username: user.username, email: user.email, previousHashes });
      const hash = await options.hasher.hash(newPassword);
      // One transaction: a reset that does not commit leaves its token usable. The user's row is
      // written first, so concurrent resets of one user queue there (lock order: user, then tokens).
      await stores.transaction(async (tx) => {
        await tx.users.changePassword(user.id, hash, new Date(now), passwordHistorySize - 1);
        // Single use: of concurrent confirmations exactly one consumes the token; the others roll back.
        if (!(await tx.resetTokens.consume(record.id, new Date(now)))) throw invalid();
        await tx.resetTokens.endUnusedForUser(user.id);
        await events.emitIn(tx, 'password.reset', { userId: user.id }, context);
      });
      await options.revocations.revokeAllForUser(user.id, 'password_reset', context);
      // The password has changed, and the reset is answered so; a key left by a failure here is
      // logged for the operator (the reset link is used up: the user cannot retry it).
      await options.apiKeys.revokeAllOf(user.id, 'password_reset', context).catch((error: unknown) => {
        logger?.error({ err: error, userId: user.id }, 'password reset: the API keys of the user could not all be revoked; revoke them with DELETE /admin/api-keys/:id');
      });
      // The password has changed: answer so. Lifting the locks needs hot state; if it is down, the
      // user's old locks run out on their own (or an admin lifts them).
      await options.protection.unlock(user.id, context).catch((error: unknown) => {
        logger?.warn({ err: error, userId: user.id }, 'password reset: the locks of the user could not be lifted');
      });
    },

    async deliver() {
      let handled = 0;
      // Requests become mails in the first pass; the mails go out in the next.
      for (let pass = 0; pass < 2; pass += 1) {
        handled += await outbox.deliverDue(
          new Date(clock.now()),
          20,
          async (message: OutboxMessage) => {
            const body = sealer.open(message.sealed, message.id);
            if (message.kind === 'password_reset_request') await actOn(JSON.parse(body) as PasswordResetRequest);
            else await options.transport(JSON.parse(body) as PasswordResetMail, { id: message.id });
          },
          (attempts) => retryAt(clock.now(), attempts),
        );
      }
      return handled;
    },

    async settled() {
      while (background.size > 0) await Promise.all([...background]);
    },
  };
  return service;
}
