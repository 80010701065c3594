/*
 * The revocation state, as the server holds it (src/revocation/) and as the SDK follows it from
 * GET /auth/revocations (src/verify/sdk/revocation.ts): one definition and one check for both.
 * It imports nothing.
 */

/**
 * A fact that makes access tokens invalid before their `exp`:
 * - `jti`: that one token;
 * - `sid`: every token of that session;
 * - `user`: every token of that user issued before `at` (revoke-all);
 * - `disabled`: every token of that user while disabled;
 * - `api_key`: that API key (its id), so a verifier caching API-key checks drops it at once.
 * Each lives until `expiresAt`, when every token it can affect has expired anyway.
 */
export const revocationKinds = ['jti', 'sid', 'user', 'disabled', 'api_key'] as const;

export type RevocationKind = (typeof revocationKinds)[number];

export interface Revocation {
  kind: RevocationKind;
  subject: string;
  /** Milliseconds since the epoch. */
  at: number;
  expiresAt: number;
}

/** A change to fan out: a new revocation, or a user enabled again (the `disabled` entry ends). */
export type RevocationChange = { type: 'revoked'; revocation: Revocation } | { type: 'enabled'; userId: string };

export type RevokedReason = 'token_revoked' | 'session_revoked' | 'user_tokens_revoked' | 'user_disabled';

export interface RevocationSubject {
  jti: string;
  sid: string;
  sub: string;
  /** Seconds (the JWT `iat`). */
  iat: number;
}

/**
 * Every revocation in force, in this process: a map per kind, checked on every verification in
 * well under a microsecond. The server fills it from SQL at start and keeps it current by the
 * hot-state fan-out; the SDK (tessera/verify) from the revocation stream. Merging is monotonic
 * (a later `at`/`expiresAt` wins), so a snapshot racing an event is safe. Imports only types: the
 * SDK loads it without any server module.
 */
export class RevocationCache {
  readonly #jti = new Map<string, number>();
  readonly #sid = new Map<string, number>();
  readonly #user = new Map<string, { at: number; expiresAt: number }>();
  readonly #disabled = new Map<string, number>();
  readonly #apiKey = new Map<string, number>();

  /** Applies a change; true when it changed what is held (a new or extended entry, a lifted disable). */
  apply(change: RevocationChange): boolean {
    if (change.type === 'enabled') return this.#disabled.delete(change.userId);
    const { kind, subject, at, expiresAt } = change.revocation;
    if (kind === 'user') {
      const current = this.#user.get(subject);
      if (current && current.at >= at && current.expiresAt >= expiresAt) return false;
      this.#user.set(subject, { at: Math.max(at, current?.at ?? 0), expiresAt: Math.max(expiresAt, current?.expiresAt ?? 0) });
      return true;
    }
    const map = this.#mapOf(kind);
    // A kind this build does not know (a newer instance's): nothing to hold.
    if (!map) return false;
    const current = map.get(subject);
    if (current !== undefined && current >= expiresAt) return false;
    map.set(subject, expiresAt);
    return true;
  }

  /** Merges a snapshot of the durable record; returns the revocations that changed something. */
  load(revocations: readonly Revocation[]): Revocation[] {
    return revocations.filter((revocation) => this.apply({ type: 'revoked', revocation }));
  }

  /** Why the token is revoked, or undefined. */
  check(token: RevocationSubject, now: number): RevokedReason | undefined {
    if (this.#live(this.#jti.get(token.jti), now)) return 'token_revoked';
    if (this.#live(this.#sid.get(token.sid), now)) return 'session_revoked';
    if (this.#live(this.#disabled.get(token.sub), now)) return 'user_disabled';
    const user = this.#user.get(token.sub);
    // Second precision (iat): tokens of the same second as the revoke-all are let through here;
    // revoke-all also revokes every session, so those issued before it fail the sid check.
    if (user && user.expiresAt > now && token.iat < Math.floor(user.at / 1000)) return 'user_tokens_revoked';
    return undefined;
  }

  isSessionRevoked(sessionId: string, now: number): boolean {
    return this.#live(this.#sid.get(sessionId), now);
  }

  isApiKeyRevoked(keyId: string, now: number): boolean {
    return this.#live(this.#apiKey.get(keyId), now);
  }

  /**
   * Every entry still in force at `now`, as revocations (a stream's snapshot). `at` is kept only
   * for revoke-all entries, where it decides; the others carry `expiresAt` as their `at`.
   */
  *entries(now: number): Generator<Revocation> {
    for (const [kind, map] of [['jti', this.#jti], ['sid', this.#sid], ['disabled', this.#disabled], ['api_key', this.#apiKey]] as const) {
      for (const [subject, expiresAt] of map) if (expiresAt > now) yield { kind, subject, at: expiresAt, expiresAt };
    }
    for (const [subject, { at, expiresAt }] of this.#user) if (expiresAt > now) yield { kind: 'user', subject, at, expiresAt };
  }

  /** Drops entries that no longer affect any token. */
  prune(now: number): void {
    for (const map of [this.#jti, this.#sid, this.#disabled, this.#apiKey]) {
      for (const [key, expiresAt] of map) if (expiresAt <= now) map.delete(key);
    }
    for (const [key, entry] of this.#user) if (entry.expiresAt <= now) this.#user.delete(key);
  }

  get size(): number {
    return this.#jti.size + this.#sid.size + this.#user.size + this.#disabled.size + this.#apiKey.size;
  }

  #mapOf(kind: Revocation['kind']): Map<string, number> | undefined {
    switch (kind) {
      case 'jti':
        return this.#jti;
      case 'sid':
        return this.#sid;
      case 'disabled':
        return this.#disabled;
      case 'api_key':
        return this.#apiKey;
      default:
        return undefined;
    }
  }

  #live(expiresAt: number | undefined, now: number): boolean {
    return expiresAt !== undefined && expiresAt > now;
  }
}
