import type { Clock } from '../clock.js';
import { AuthError } from '../errors/auth-error.js';
import type { RevocationService } from '../revocation/service.js';
import type { EventBus, EventContext } from '../events/bus.js';
import { forgeryOf, type AccessTokenClaims, type AccessTokens } from '../tokens/access-token.js';

export interface AccessVerifierOptions {
  tokens: AccessTokens;
  revocations: RevocationService;
  clock: Clock;
  events: EventBus;
  /** Verified tokens kept in memory (default 10 000); the oldest is dropped first. */
  cacheSize?: number;
  leewaySeconds?: number;
}

/** Where a token was presented: forged ones are reported as `token.rejected`. */
export interface TokenOrigin {
  context: EventContext;
  /** The route template, e.g. /auth/verify. */
  endpoint: string;
}

export interface AccessVerifier {
  /**
   * The one access-token pipeline every route shares: signature and claims (cached per token
   * until it expires), then the revocation check, which is never cached or skipped.
   * Throws AuthError `invalid_token`.
   */
  verify(token: string, origin?: TokenOrigin): Promise<AccessTokenClaims>;
}

export function createAccessVerifier(options: AccessVerifierOptions): AccessVerifier {
  const { tokens, revocations, clock } = options;
  const capacity = options.cacheSize ?? 10_000;
  const leeway = options.leewaySeconds ?? 30;
  const verified = new Map<string, AccessTokenClaims>();

  async function verifySignature(token: string): Promise<AccessTokenClaims> {
    const cached = verified.get(token);
    const now = clock.now() / 1000;
    if (cached) {
      if (cached.exp + leeway > now && cached.nbf - leeway <= now) return cached;
      verified.delete(token);
    }
    const claims = await tokens.verify(token);
    if (verified.size >= capacity) verified.delete(verified.keys().next().value as string);
    verified.set(token, claims);
    return claims;
  }

  return {
    async verify(token, origin) {
      let claims: AccessTokenClaims;
      try {
        claims = await verifySignature(token);
      } catch (error) {
        const reason = forgeryOf(error);
        if (reason && origin) await options.events.emit('token.rejected', { reason, endpoint: origin.endpoint }, origin.context);
        throw error;
      }
      const revoked = revocations.check(claims);
      if (revoked) throw new AuthError('invalid_token', { description: 'The access token has been revoked.', detail: revoked });
      return claims;
    },
  };
}
