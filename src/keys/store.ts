import type { SigningKeyRecord } from './signing-key.js';

/** Persistence of signing keys (private parts sealed). */
export interface SigningKeyStore {
  /**
   * Every key still published at `now`: active and next keys whose retirement is not scheduled,
   * and any key until its publishUntil.
   */
  listPublished(now: Date): Promise<SigningKeyRecord[]>;
  /** Every key ever stored, newest first (then the latest to sign), at most `limit` (the admin listing). */
  listAll(limit: number): Promise<SigningKeyRecord[]>;
  /**
   * Inserts `key` as the active key unless one is already active. Of concurrent callers exactly
   * one wins; the others get false and must reload.
   */
  insertActiveIfNone(key: SigningKeyRecord): Promise<boolean>;
  /**
   * Inserts `key` as the next key (status `next`, signing from `key.activatedAt`) unless one is
   * already waiting or, with `unlessActivatedAfter`, a key already activates after that moment
   * (a rotation that is not due). Of concurrent callers exactly one wins; the others get false
   * and change nothing.
   */
  insertNext(key: SigningKeyRecord, unlessActivatedAfter?: Date): Promise<boolean>;
  /**
   * Schedules the end of the active key `kid`: it stops signing at `at` and leaves JWKS at
   * `publishUntil`. Idempotent; changes nothing if `kid` is not the active key.
   */
  scheduleRetirement(kid: string, at: Date, publishUntil: Date): Promise<void>;
  /**
   * Brings the stored statuses up to `now`: the active key whose retirement is due becomes
   * `retired`, then the next key whose activation is due becomes `active`. Idempotent; concurrent
   * callers change each row once.
   */
  settle(now: Date): Promise<void>;
  /** Retires the active or next key `kid` now, keeping it published until `publishUntil`. */
  retire(kid: string, at: Date, publishUntil: Date): Promise<void>;
  /**
   * Replaces the sealed private key of `kid` with `to` if it is still `from` (a seal upgraded in
   * place). Of concurrent callers exactly one wins; the others get false and change nothing.
   */
  reseal(kid: string, from: string, to: string): Promise<boolean>;
}
