import type { Base64url, JwsAlgorithm, PinnedKey, PinnedKeyLookup, VerifiedJwsOf } from '../jws-structure.js';
import type { Refusal } from '../result.js';

/*
 * What differs between runtimes, and nothing else: importing keys and checking a signature.
 * node:crypto under Node (node-backend.ts: KeyObjects, a synchronous check), Web Crypto elsewhere
 * (web-backend.ts: CryptoKeys, an asynchronous check). Every rule around them, from the JWKS
 * document to the claims, is shared code that imports neither.
 */

/** A key as a backend made it: pinned to its algorithm; what else it holds is the backend's. */
export type SdkKey = PinnedKey;

export type SdkKeySet = ReadonlyMap<string, SdkKey>;

export type JwsOutcome = VerifiedJwsOf<SdkKey> | Refusal;

export type MaybePromise<T> = T | Promise<T>;

export interface CryptoBackend {
  readonly name: 'node' | 'web';
  /** Imports a JWKS document after jwk-rules.ts; throws (or rejects with) KeySetError for the whole document. */
  importKeySet(document: unknown, algorithms: readonly JwsAlgorithm[]): MaybePromise<SdkKeySet>;
  /** A compact JWS against keys this backend imported; never throws (or rejects) for any input string. */
  verifyJws(token: string, keys: PinnedKeyLookup<SdkKey>): MaybePromise<JwsOutcome>;
  readonly base64url: Base64url;
}
