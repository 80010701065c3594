import type { Clock } from '../clock.js';
import { AuthError } from '../errors/auth-error.js';
import type { EventBus, EventContext } from '../events/bus.js';
import type { Sealer } from '../keys/sealer.js';
import type { RevocationService, PendingRevocations, RevocationTransaction, SessionEndingStores } from '../revocation/service.js';
import type { RateLimiter } from '../store/hot/ports.js';
import type { Transactional } from '../store/unit-of-work.js';
import type { AccessTokens } from '../tokens/access-token.js';
import { generateOpaqueToken, type OpaqueTokenParts } from '../tokens/opaque-token.js';
import { checkRefreshTokenParts, parseRefreshToken, refreshTokenStateDetail } from '../sessions/refresh-token-check.js';
import type { RefreshTokenRecord } from '../sessions/refresh-token-store.js';
import { issueTokenResponse, type TokenResponse } from './token-response.js';
import { canonicalIp } from '../protection/ip-address.js';
import type { Session } from '../sessions/session.js';

export interface RefreshInput {
  refreshToken: unknown;
  ip: string | null;
  userAgent: string | null;
  context?: EventContext;
}

/**
 * Rows written before client addresses were canonicalised hold `::ffff:a.b.c.d` or another
 * spelling of the same address; strict binding must not end those sessions on the upgrade.
 * Null or unparseable values compare as text.
 */
function sameAddress(a: string | null, b: string | null): boolean {
  if (a === b) return true;
  if (a === null || b === null) return false;
  const canonicalA = canonicalIp(a);
  return canonicalA !== undefined && canonicalA === canonicalIp(b);
}

export interface RefreshOptions {
  /** A rotation locks the token, and may end its session (reuse, binding). */
  stores: Transactional<SessionEndingStores>;
  tokens: AccessTokens;
  revocations: RevocationService;
  events: EventBus;
  clock: Clock;
  /** Seals the successor pair kept for the reuse grace window (purpose "refresh-grace"). */
  sealer: Sealer;
  limiter: RateLimiter;
  refreshTtlMs: number;
  reuseGraceMs: number;
  binding: 'lax' | 'strict';
}

export type Refresh = (input: RefreshInput) => Promise<TokenResponse>;

type Outcome =
  | { kind: 'rotated'; response: TokenResponse; session: Session; contextChanged: { ip: boolean; userAgent: boolean } }
  | { kind: 'replayed'; response: TokenResponse; session: Session; contextChanged: { ip: boolean; userAgent: boolean } }
  | { kind: 'reused'; session: Session; pending: PendingRevocations }
  | { kind: 'ended_by_binding'; session: Session; pending: PendingRevocations; contextChanged: { ip: boolean; userAgent: boolean } }
  | { kind: 'refused'; detail: string }
  | { kind: 'limited'; error: AuthError };

function invalidGrant(detail: string): AuthError {
  return new AuthError('invalid_grant', { detail });
}

/**
 * Refresh-token rotation (SPEC §2) in one transaction that locks the token row:
 * every use mints a new pair and consumes the old token. Presenting a consumed token within the
 * grace window, while its successor is unused, returns the byte-identical successor pair again;
 * any other reuse ends the whole session and raises `refresh_token.reused`.
 * Of any number of concurrent refreshes of one token exactly one rotates.
 */
export function createRefresh(options: RefreshOptions): Refresh {
  const { stores, tokens, revocations, events, clock, sealer } = options;

  async function withinRateLimit(sessionId: string): Promise<AuthError | undefined> {
    const result = await options.limiter.consume(sessionId);
    if (result.allowed) return undefined;
    return new AuthError('rate_limited', { headers: { 'retry-after': String(result.retryAfterSeconds) }, detail: 'refresh rate limit' });
  }

  function replayable(record: RefreshTokenRecord, successor: RefreshTokenRecord | undefined, now: number): boolean {
    return (
      record.consumedAt !== null &&
      now - record.consumedAt.getTime() <= options.reuseGraceMs &&
      record.successorSealed !== null &&
      successor !== undefined &&
      successor.consumedAt === null &&
      successor.revokedAt === null
    );
  }

  async function recordContextChange(
    tx: RevocationTransaction,
    session: Session,
    changed: { ip: boolean; userAgent: boolean },
    ended: boolean,
    context: EventContext | undefined,
  ): Promise<void> {
    if (!changed.ip && !changed.userAgent) return;
    await events.emitIn(
      tx,
      'session.context_changed',
      { userId: session.userId, sessionId: session.id, ipChanged: changed.ip, userAgentChanged: changed.userAgent, ended },
      context,
    );
  }

  async function rotate(tx: RevocationTransaction, parts: OpaqueTokenParts, input: RefreshInput, now: number): Promise<Outcome> {
    const check = await checkRefreshTokenParts(parts, (id) => tx.refreshTokens.lockForRotation(id), now);
    // A wrong secret for a real id is a guess, not a reuse: refuse without touching the session.
    if (!check.found) return { kind: 'refused', detail: check.detail };
    const { family: { token: record, session, user }, state } = check;
    if (state === 'session_ended' || state === 'revoked') return { kind: 'refused', detail: refreshTokenStateDetail[state] };

    // Binding applies to grace replays too: a copied token presented elsewhere is no retry.
    const contextChanged = { ip: !sameAddress(input.ip, session.ip), userAgent: input.userAgent !== session.userAgent };
    if (options.binding === 'strict' && (contextChanged.ip || contextChanged.userAgent)) {
      await recordContextChange(tx, session, contextChanged, true, input.context);
      return {
        kind: 'ended_by_binding',
        session,
        contextChanged,
        pending: await revocations.revokeSessionIn(tx, session, 'session_binding', now, input.context),
      };
    }

    if (state === 'consumed') {
      const successor = record.successorId ? await tx.refreshTokens.findById(record.successorId) : undefined;
      if (replayable(record, successor, now)) {
        await recordContextChange(tx, session, contextChanged, false, input.context);
        return {
          kind: 'replayed',
          session,
          contextChanged,
          response: JSON.parse(sealer.open(record.successorSealed!, record.id)) as TokenResponse,
        };
      }
      // Recorded first: the reuse is what ends the session.
      await events.emitIn(tx, 'refresh_token.reused', { userId: session.userId, sessionId: session.id }, input.context);
      return { kind: 'reused', session, pending: await revocations.revokeSessionIn(tx, session, 'refresh_token_reused', now, input.context) };
    }
    if (state !== 'usable') return { kind: 'refused', detail: refreshTokenStateDetail[state] };

    // Only minting counts against the limit: grace replays and reuse detection never wait on it.
    const limited = await withinRateLimit(session.id);
    if (limited) return { kind: 'limited', error: limited };

    const generated = generateOpaqueToken();
    const successor = {
      id: generated.id,
      sessionId: session.id,
      userId: user.id,
      secretHash: generated.secretHash,
      createdAt: new Date(now),
      expiresAt: new Date(Math.min(now + options.refreshTtlMs, session.expiresAt.getTime())),
    };
    const response = await issueTokenResponse(tokens, clock, user, {
      session,
      refreshToken: generated.token,
      refreshExpiresAt: successor.expiresAt,
    });
    await tx.refreshTokens.rotate(record.id, successor, sealer.seal(JSON.stringify(response), record.id), {
      ip: input.ip,
      userAgent: input.userAgent,
    });
    await events.emitIn(tx, 'refresh_token.rotated', { userId: session.userId, sessionId: session.id }, input.context);
    await recordContextChange(tx, session, contextChanged, false, input.context);
    return { kind: 'rotated', response, session, contextChanged };
  }

  return async function refresh(input) {
    // Parsed before the transaction: a malformed token costs no database round trip.
    const parts = parseRefreshToken(input.refreshToken);
    if (!parts) throw invalidGrant('malformed refresh token');
    const now = clock.now();
    const outcome = await stores.transaction((tx) => rotate(tx, parts, input, now));
    switch (outcome.kind) {
      case 'rotated':
      case 'replayed':
        return outcome.response;
      case 'reused':
        await revocations.announce(outcome.pending);
        throw invalidGrant('refresh token reused');
      case 'ended_by_binding':
        await revocations.announce(outcome.pending);
        throw invalidGrant('session binding');
      case 'refused':
        throw invalidGrant(outcome.detail);
      case 'limited':
        await events.emit('rate_limited', { limiter: 'refresh' }, input.context);
        throw outcome.error;
    }
  };
}
