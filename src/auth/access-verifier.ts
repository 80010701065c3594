import type { Clock } from '../clock.js';
import { AuthError } from '../errors/auth-error.js';
import type { RevocationService } from '../revocation/service.js';
import type { AccessTokenClaims, AccessTokens } from '../tokens/access-token.js';

export interface AccessVerifierOptions {
  tokens: AccessTokens;
  revocations: RevocationService;
  clock: Clock;
  /** Verified tokens kept in memory (default 10 000); the oldest is dropped first. */
  cacheSize?: number;
  leewaySeconds?: number;
}

export interface AccessVerifier {
  /**
   * The one access-token pipeline every route shares: signature and claims (cached per token
   * until it expires), then the revocation check, which is never cached or skipped.
   * Throws AuthError `invalid_token`.
   */
  verify(token: string): Promise<AccessTokenClaims>;
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
    async verify(token) {
      const claims = await verifySignature(token);
      const revoked = revocations.check(claims);
      if (revoked) throw new AuthError('invalid_token', { description: 'The access token has been revoked.', detail: revoked });
      return claims;
    },
  };
}
