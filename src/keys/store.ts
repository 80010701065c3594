import type { SigningKeyRecord } from './signing-key.js';

/** Persistence of signing keys (private parts sealed). */
export interface SigningKeyStore {
  /** Every key still published at `now` (active, next, and retired until publishUntil). */
  listPublished(now: Date): Promise<SigningKeyRecord[]>;
  /**
   * Inserts `key` as the active key unless one is already active. Of concurrent callers exactly
   * one wins; the others get false and must reload.
   */
  insertActiveIfNone(key: SigningKeyRecord): Promise<boolean>;
  /** Retires the active key `kid`, keeping it published until `publishUntil`. */
  retire(kid: string, at: Date, publishUntil: Date): Promise<void>;
  /**
   * Replaces the sealed private key of `kid` with `to` if it is still `from` (a seal upgraded in
   * place). Of concurrent callers exactly one wins; the others get false and change nothing.
   */
  reseal(kid: string, from: string, to: string): Promise<boolean>;
}
