import { parseOpaqueToken, tokenSecretMatches, type OpaqueTokenParts } from '../tokens/opaque-token.js';
import type { User } from '../users/user.js';
import type { RefreshTokenRecord } from './refresh-token-store.js';
import { isSessionActive, type Session } from './session.js';

/*
 * The one check of a presented refresh token, shared by rotation (flows/refresh.ts), RFC 7009
 * revocation and RFC 7662 introspection: its shape, its row, its secret (in constant time),
 * then the state of the token, its session (the family) and its user.
 */

/** A refresh token with the session it belongs to and that session's user. */
export interface RefreshTokenFamily {
  token: RefreshTokenRecord;
  session: Session;
  user: User;
}

/**
 * The first reason, in this order, why the token cannot be rotated now; `usable` when none.
 * Rotation depends on the order: an ended session or a revoked token is refused before session
 * binding applies, and binding before a consumed token counts as reuse.
 */
export type RefreshTokenState = 'usable' | 'session_ended' | 'revoked' | 'consumed' | 'expired' | 'user_disabled';

export type RefreshTokenCheck =
  /** Not of the token's shape, no such id, or a wrong secret for a real id (a guess, not a use). */
  | { found: false; detail: 'malformed refresh token' | 'unknown refresh token' }
  | { found: true; family: RefreshTokenFamily; state: RefreshTokenState };

/** What each state says in logs (`AuthError.detail`); never the token. */
export const refreshTokenStateDetail: Record<Exclude<RefreshTokenState, 'usable'>, string> = {
  session_ended: 'session ended',
  revoked: 'token revoked',
  consumed: 'token already used',
  expired: 'token expired',
  user_disabled: 'user disabled',
};

/** Finds a token's family by the token's public id: a locking read in a rotation, a plain one elsewhere. */
export type RefreshTokenLookup = (id: string) => Promise<RefreshTokenFamily | undefined>;

/** The `<id>.<secret>` parts of a presented refresh token; undefined for anything else. */
export function parseRefreshToken(presented: unknown): OpaqueTokenParts | undefined {
  return parseOpaqueToken(presented);
}

function stateOf({ token, session, user }: RefreshTokenFamily, now: number): RefreshTokenState {
  if (!isSessionActive(session, now)) return 'session_ended';
  if (token.revokedAt) return 'revoked';
  if (token.consumedAt) return 'consumed';
  if (token.expiresAt.getTime() <= now) return 'expired';
  if (user.disabled) return 'user_disabled';
  return 'usable';
}

/** Looks up parsed parts with `lookup`, checks the secret in constant time, then the state at `now`. */
export async function checkRefreshTokenParts(parts: OpaqueTokenParts, lookup: RefreshTokenLookup, now: number): Promise<RefreshTokenCheck> {
  const family = await lookup(parts.id);
  if (!family || !tokenSecretMatches(parts.secret, family.token.secretHash)) return { found: false, detail: 'unknown refresh token' };
  return { found: true, family, state: stateOf(family, now) };
}

/** Parses, looks up and checks a presented refresh token. */
export async function checkRefreshToken(presented: unknown, lookup: RefreshTokenLookup, now: number): Promise<RefreshTokenCheck> {
  const parts = parseRefreshToken(presented);
  if (!parts) return { found: false, detail: 'malformed refresh token' };
  return checkRefreshTokenParts(parts, lookup, now);
}
