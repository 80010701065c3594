/**
 * The timing that makes a rotation invisible to verifiers ("publish before sign"). A new key is
 * published at once and signs only after every instance has re-read the keys and every verifier's
 * cached JWKS has expired; an old key stays published until every token it signed has expired.
 */

/** How long verifiers may cache the JWKS (`Cache-Control: max-age` of /.well-known/jwks.json). */
export const jwksMaxAgeSeconds = 300;

/** How often each instance re-reads the signing keys (app/background.ts). */
export const keyReloadIntervalMs = 60_000;

/** Clock differences between instances that a schedule still tolerates. */
export const clockSkewAllowanceMs = 30_000;

/**
 * From a rotation to the moment its key signs: each instance publishes it within one reload, and
 * a JWKS fetched just before that is cached for at most max-age.
 */
export const publishBeforeSignMs = keyReloadIntervalMs + jwksMaxAgeSeconds * 1000 + clockSkewAllowanceMs;

/** A key's state at `now`, from its stored schedule alone (every instance derives the same). */
export type KeyState = 'next' | 'active' | 'retired';

export function keyStateAt(key: { activatedAt: Date | null; createdAt: Date; retiredAt: Date | null; status: KeyState }, now: number): KeyState {
  if (key.retiredAt !== null && key.retiredAt.getTime() <= now) return 'retired';
  if (key.status === 'retired') return 'retired';
  return (key.activatedAt ?? key.createdAt).getTime() > now ? 'next' : 'active';
}
